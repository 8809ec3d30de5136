/* Per-transition cost from C: the visit the faces' chain benchmarks make
 * (python/bench/bench_chain.py, node/bench/bench_chain.js, and in Rust
 * bindings/c/examples/bench_chain.rs). A chain of 1,000 Tasks whose handler returns
 * {"i": i + 1}, from bytes (decode + verify, 1,000 handler calls, 1,001 records,
 * encode), unsigned, a fixed clock. 5 warm-up visits, then 25 measured; prints the
 * median visit divided by 1,000. bindings/c/bench/run.sh builds and runs it. */
#include "bench.h"

enum { N = 1000, WARMUP = 5, MEASURED = 25 };

/* {"i": i} -> {"i": i + 1}: the input is peo's JSON text of the data. */
static void step(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)user_data;
  const char *i = strstr(call->input_json, "\"i\":");
  char out[32];
  snprintf(out, sizeof out, "{\"i\":%ld}", (i ? strtol(i + 4, NULL, 10) : 0) + 1);
  peo_task_result_set_output(result, out);
}

int main(void) {
  /* S0000 .. S0999, each a Task of capability "step". */
  static char plan[80 * N + 64];
  size_t o = (size_t)sprintf(plan, "{\"StartAt\":\"S0000\",\"States\":{");
  for (int i = 0; i < N; i++) {
    o += (size_t)sprintf(plan + o, "%s\"S%04d\":{\"Type\":\"Task\",\"Resource\":\"step\",", i ? "," : "", i);
    o += (size_t)(i + 1 == N ? sprintf(plan + o, "\"End\":true}") : sprintf(plan + o, "\"Next\":\"S%04d\"}", i + 1));
  }
  sprintf(plan + o, "}}");

  int64_t t0 = 1700000000000;
  uint8_t *bytes = NULL;
  size_t len = 0;
  PeoNode *node = bench_setup(plan, "{\"i\": 0}", "step", step, &t0, &bytes, &len);

  double runs[MEASURED];
  for (int r = 0; r < WARMUP + MEASURED; r++) {
    double start = now_s();
    PeoVisit *visit = NULL;
    CHECK_OK(peo_node_visit(node, bytes, len, NULL, &visit));
    double us = (now_s() - start) * 1e6 / N;
    if (r + 1 == WARMUP + MEASURED) {
      PeoObject *after = NULL;
      char *data = NULL;
      CHECK_OK(peo_visit_object(visit, &after));
      CHECK_OK(peo_object_data_json(after, &data));
      if (strcmp(data, "{\"i\":1000}") != 0) {
        fprintf(stderr, "the chain ended at %s\n", data);
        return 1;
      }
      peo_string_free(data);
      peo_object_free(after);
    }
    peo_visit_free(visit);
    if (r >= WARMUP) runs[r - WARMUP] = us;
  }
  qsort(runs, MEASURED, sizeof runs[0], cmp);
  printf("c: 1,000-Task chain %.2f us per transition (median of %d; min %.2f)\n", runs[MEASURED / 2], MEASURED,
         runs[0]);
  peo_node_free(node);
  peo_bytes_free(bytes, len);
  return 0;
}
