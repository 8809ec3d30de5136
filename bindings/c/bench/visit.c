/* Per-visit time of a 10-state object (ten Tasks, handlers in C) through the C API:
 * decode + verify, ten handler calls, eleven records, encode. The same visit in Rust is
 * bindings/c/examples/bench_visit.rs; bindings/c/bench/run.sh runs both and prints the
 * overhead. Method (both): 200 warm-up visits, then 15 rounds of 2,000 visits; the
 * median round's time per visit. */
#include "bench.h"

static void step(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)user_data;
  (void)call;
  peo_task_result_set_output(result, "{\"ok\": true}");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s bindings/c/bench/plan.json\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  static char plan[8192];
  size_t n = fread(plan, 1, sizeof plan - 1, f);
  plan[n] = 0;
  fclose(f);

  int64_t t0 = 1700000000000;
  uint8_t *bytes = NULL;
  size_t len = 0;
  PeoNode *node = bench_setup(plan, "{\"order\": 7, \"items\": [\"a\", \"b\"]}", "bench.step", step, &t0, &bytes, &len);

  enum { WARMUP = 200, ROUNDS = 15, PER_ROUND = 2000 };
  double rounds[ROUNDS];
  for (int r = -1; r < ROUNDS; r++) {
    int count = r < 0 ? WARMUP : PER_ROUND;
    double start = now_s();
    for (int i = 0; i < count; i++) {
      PeoVisit *visit = NULL;
      CHECK_OK(peo_node_visit(node, bytes, len, NULL, &visit));
      peo_visit_free(visit);
    }
    if (r >= 0) rounds[r] = (now_s() - start) / count;
  }
  qsort(rounds, ROUNDS, sizeof rounds[0], cmp);
  printf("c: 10-state visit %.2f us (median of %d rounds of %d; min %.2f, max %.2f)\n", rounds[ROUNDS / 2] * 1e6,
         ROUNDS, PER_ROUND, rounds[0] * 1e6, rounds[ROUNDS - 1] * 1e6);
  peo_node_free(node);
  peo_bytes_free(bytes, len);
  return 0;
}
