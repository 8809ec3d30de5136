/* A C node on a NATS JetStream mesh: serves the objects for its capability until it has
 * handled as many as expected (its stop callback), then checks the counters; an
 * unreachable server is PEO_TRANSPORT. Usage: serve NATS_URL EXPECTED */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peo.h"

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond,      \
              peo_last_error_message());                                                 \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

typedef struct {
  int packed;
  int expected;
} Counter;

static void pack(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  Counter *c = user_data;
  c->packed++;
  char out[128];
  snprintf(out, sizeof out, "{\"parcel\": %d, \"key\": %zu}", c->packed, strlen(call->idempotency_key));
  peo_task_result_set_output(result, out);
}

static bool enough(void *user_data) {
  const Counter *c = user_data;
  return c->packed >= c->expected;
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  Counter counter = {0, atoi(argv[2])};
  PeoNode *node = NULL;
  CHECK(peo_node_new("c-packer", "warehouse", &node) == PEO_OK);
  CHECK(peo_node_set_trust(node, "\"any\"") == PEO_OK);
  CHECK(peo_node_add_handler(node, "warehouse.pack", pack, &counter) == PEO_OK);

  /* Bad arguments and an unreachable server. */
  CHECK(peo_node_serve(node, NULL, NULL, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_serve(NULL, argv[1], NULL, NULL) == PEO_INVALID_ARGUMENT);
  PeoServeOptions bad = {0};
  bad.idle_timeout_seconds = -1;
  CHECK(peo_node_serve(node, argv[1], &bad, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_serve(node, "nats://127.0.0.1:1", NULL, NULL) == PEO_TRANSPORT);
  CHECK(strstr(peo_last_error_message(), "nats-server -js") != NULL);

  PeoServeOptions options = {0};
  options.idle_timeout_seconds = 60; /* a safety net: the stop callback ends it */
  options.should_stop = enough;
  options.user_data = &counter;
  char *stats = NULL;
  CHECK(peo_node_serve(node, argv[1], &options, &stats) == PEO_OK);
  CHECK(counter.packed == counter.expected);
  CHECK(stats != NULL && strstr(stats, "\"visits\":") != NULL && strstr(stats, "\"duplicates\":0") != NULL);
  printf("c-packer: packed %d objects; %s\n", counter.packed, stats);
  peo_string_free(stats);
  peo_node_free(node);
  return 0;
}
