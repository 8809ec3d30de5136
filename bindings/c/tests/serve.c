/* A C node on a NATS JetStream mesh: serves the objects for its capability, four
 * deliveries in flight (`window`), until it has handled as many as expected (its stop
 * callback), then checks that visits ran at once and the counters; an
 * unreachable server is PEO_TRANSPORT. Then the C client: it submits an object that
 * waits a second (the node compacts it then) and awaits an event, sends the event, serves
 * until the client reads the object finished, waits for it and audits it against the
 * archive the mesh kept. Usage: serve NATS_URL EXPECTED */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peo.h"

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond,      \
              peo_last_error_message());                                                 \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

/* The handler is called from the serve loop's worker threads, several at once. */
typedef struct {
  atomic_int packed;
  atomic_int running;
  atomic_int most; /* the most calls running at once */
  int expected;
} Counter;

static void pack(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  Counter *c = user_data;
  int parcel = atomic_fetch_add(&c->packed, 1) + 1;
  int now = atomic_fetch_add(&c->running, 1) + 1;
  int most = atomic_load(&c->most);
  while (now > most && !atomic_compare_exchange_weak(&c->most, &most, now)) {
  }
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  atomic_fetch_sub(&c->running, 1);
  char out[128];
  snprintf(out, sizeof out, "{\"parcel\": %d, \"key\": %zu}", parcel, strlen(call->idempotency_key));
  peo_task_result_set_output(result, out);
}

static bool enough(void *user_data) {
  Counter *c = user_data;
  return atomic_load(&c->packed) >= c->expected;
}

typedef struct {
  PeoJetStream *js;
  const char *id;
} Watch;

/* Stops serving once the client reads the object finished. */
static bool finished(void *user_data) {
  const Watch *w = user_data;
  PeoObject *o = NULL;
  CHECK(peo_jetstream_get(w->js, w->id, &o) == PEO_OK);
  bool done = false;
  if (o != NULL) {
    PeoObjectStatus status;
    CHECK(peo_object_status(o, &status) == PEO_OK);
    done = status != PEO_OBJECT_STATUS_RUNNING && status != PEO_OBJECT_STATUS_DORMANT;
    peo_object_free(o);
  }
  return done;
}

static const char *AWAITING =
    "{\"StartAt\": \"Pack\", \"States\": {"
    "  \"Pack\": {\"Type\": \"Task\", \"Resource\": \"warehouse.pack\", \"ResultPath\": \"$.parcel\", \"Next\": \"Pause\"},"
    "  \"Pause\": {\"Type\": \"Wait\", \"Seconds\": 1, \"Next\": \"Approve\"},"
    "  \"Approve\": {\"Type\": \"Task\", \"Resource\": \"approvals.request\", \"ResultPath\": \"$.approval\", \"End\": true}},"
    " \"Await\": {\"Approve\": {\"EventPath\": \"$.token\", \"TimeoutSeconds\": 60}}}";

static void client(const char *url, PeoNode *node) {
  PeoJetStream *js = NULL;
  CHECK(peo_jetstream_connect("nats://127.0.0.1:1", NULL, &js) == PEO_TRANSPORT && js == NULL);
  PeoConnectOptions bad = {0};
  bad.ack_wait_seconds = -1;
  CHECK(peo_jetstream_connect(url, &bad, &js) == PEO_INVALID_ARGUMENT && js == NULL);
  PeoConnectOptions insecure = {0};
  insecure.security_json = "{\"ca\": \"/nonexistent/ca.pem\"}";
  CHECK(peo_jetstream_connect(url, &insecure, &js) == PEO_INVALID_ARGUMENT && js == NULL);
  insecure.security_json = "{\"certificate\": \"c.pem\"}";
  CHECK(peo_jetstream_connect(url, &insecure, &js) == PEO_INVALID_ARGUMENT && js == NULL);
  CHECK(strstr(peo_last_error_message(), "certificate") != NULL);
  PeoConnectOptions copies = {0};
  copies.replicas = 6; /* 1 to 5 servers keep each stream; 0: the default, 1 */
  CHECK(peo_jetstream_connect(url, &copies, &js) == PEO_INVALID_ARGUMENT && js == NULL);
  CHECK(strstr(peo_last_error_message(), "replicas must be from 1 to 5") != NULL);
  copies.replicas = 3; /* the streams exist already (the node made them): they keep theirs */
  CHECK(peo_jetstream_connect(url, &copies, &js) == PEO_OK);
  peo_jetstream_free(js);
  js = NULL;
  PeoConnectOptions limited = {0};
  limited.max_deliver = -2; /* 0: the default, -1: no limit, below that: a mistake */
  CHECK(peo_jetstream_connect(url, &limited, &js) == PEO_INVALID_ARGUMENT && js == NULL);
  CHECK(strstr(peo_last_error_message(), "max_deliver must be a number of deliveries") != NULL);
  limited.max_deliver = -1;
  CHECK(peo_jetstream_connect(url, &limited, &js) == PEO_OK);
  peo_jetstream_free(js);
  js = NULL;
  PeoConnectOptions co = {0};
  co.name = "c client";
  CHECK(peo_jetstream_connect(url, &co, &js) == PEO_OK);

  PeoObject *o = NULL;
  CHECK(peo_object_create(AWAITING, NULL, "{\"token\": \"ok-c\"}", NULL, &o) == PEO_OK);
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK(peo_object_to_bytes(o, &bytes, &len) == PEO_OK);
  char *id = NULL;
  CHECK(peo_jetstream_submit(js, bytes, len / 2, &id) == PEO_DECODE && id == NULL);
  CHECK(peo_jetstream_submit(js, bytes, len, &id) == PEO_OK);
  char *expected_id = NULL;
  CHECK(peo_object_id(o, &expected_id) == PEO_OK && strcmp(id, expected_id) == 0);
  /* Kept until the object awaits it. */
  CHECK(peo_jetstream_send_event(js, id, "{\"name\": \"ok-c\"") == PEO_DECODE);
  CHECK(peo_jetstream_send_event(js, id, "{\"name\": \"ok-c\", \"payload\": {\"by\": \"c\"}}") == PEO_OK);
  PeoObject *none = NULL;
  CHECK(peo_jetstream_get(js, "00000000000000000000000000000000", &none) == PEO_OK && none == NULL);

  /* The serving node compacts: what it prunes is kept in the mesh, for the audit below. */
  CHECK(peo_node_set_compaction(node, 2, 1) == PEO_OK);
  Watch watch = {js, id};
  PeoServeOptions options = {0};
  options.idle_timeout_seconds = 60;
  options.should_stop = finished;
  options.user_data = &watch;
  CHECK(peo_node_serve(node, url, &options, NULL) == PEO_OK);
  PeoObject *done = NULL;
  CHECK(peo_jetstream_wait(js, id, 30, &done) == PEO_OK && done != NULL);
  char *data = NULL;
  CHECK(peo_object_data_json(done, &data) == PEO_OK);
  CHECK(strstr(data, "\"approval\":{\"by\":\"c\"}") != NULL);
  /* The archive the mesh kept: the final object audits against it, and not without it. */
  PeoArchive *archive = NULL;
  CHECK(peo_jetstream_archive(js, id, &archive) == PEO_OK);
  const uint8_t *const *segments = NULL;
  const size_t *lens = NULL;
  size_t count = 0;
  CHECK(peo_archive_segments(archive, &segments, &lens, &count) == PEO_OK && count > 0);
  char *report = NULL;
  CHECK(peo_object_audit(done, segments, lens, count, NULL, 0, &report) == PEO_OK);
  CHECK(strstr(report, "\"checkpoints_audited\":") != NULL && strstr(report, "\"valid\":true") != NULL);
  peo_string_free(report);
  report = NULL;
  CHECK(peo_object_audit(done, NULL, NULL, 0, NULL, 0, &report) == PEO_INTEGRITY);
  peo_string_free(report);
  peo_archive_free(archive);
  char *stats = NULL;
  CHECK(peo_jetstream_stats_json(js, &stats) == PEO_OK && strstr(stats, "\"received\":") != NULL);
  printf("c client: submitted %s, sent its event, read it finished: %s\n", id, data);
  peo_string_free(stats);
  peo_string_free(data);
  peo_object_free(done);
  peo_string_free(expected_id);
  peo_string_free(id);
  peo_bytes_free(bytes, len);
  peo_object_free(o);
  peo_jetstream_free(js);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  Counter counter = {0, 0, 0, atoi(argv[2])};
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
  bad.idle_timeout_seconds = 0;
  bad.replicas = 6;
  CHECK(peo_node_serve(node, argv[1], &bad, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(strstr(peo_last_error_message(), "replicas must be from 1 to 5") != NULL);
  CHECK(peo_node_serve(node, "nats://127.0.0.1:1", NULL, NULL) == PEO_TRANSPORT);
  CHECK(strstr(peo_last_error_message(), "nats-server -js") != NULL);

  PeoServeOptions options = {0};
  options.idle_timeout_seconds = 60; /* a safety net: the stop callback ends it */
  options.should_stop = enough;
  options.user_data = &counter;
  options.window = 4;
  char *stats = NULL;
  CHECK(peo_node_serve(node, argv[1], &options, &stats) == PEO_OK);
  CHECK(atomic_load(&counter.packed) == counter.expected);
  CHECK(atomic_load(&counter.most) >= 2); /* the window: visits ran at once */
  CHECK(stats != NULL && strstr(stats, "\"visits\":") != NULL && strstr(stats, "\"duplicates\":0") != NULL);
  printf("c-packer: packed %d objects, up to %d at once; %s\n", atomic_load(&counter.packed),
         atomic_load(&counter.most), stats);
  peo_string_free(stats);
  client(argv[1], node);
  peo_node_free(node);
  return 0;
}
