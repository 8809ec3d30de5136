/* The C API end to end: a two-node visit with handlers written in C (signing keys,
 * trusted keys, Cedar policies, facts, an advisor, a refinement), concurrent visits on
 * one node, and bad input of every kind: random and truncated bytes, NULL pointers,
 * handlers that return garbage. Every failure must be a status with a message, and the
 * program must keep running. Run under valgrind by bindings/c/tests/run.sh. */
#include <pthread.h>

#include "common.h"

static const char *PLAN =
    "{\"StartAt\": \"Reserve\", \"States\": {"
    "  \"Reserve\": {\"Type\": \"Task\", \"Resource\": \"inventory.reserve\", \"ResultPath\": \"$.reservation\","
    "               \"Next\": \"Charge\"},"
    "  \"Charge\": {\"Type\": \"Task\", \"Resource\": \"payment.charge\", \"ResultPath\": \"$.payment\", \"End\": true}}}";

static int64_t fixed_clock(void *user_data) { return *(int64_t *)user_data; }

typedef struct {
  int calls;
  char last_key[256];
} Counter;

static void reserve(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  Counter *c = user_data;
  c->calls++;
  snprintf(c->last_key, sizeof c->last_key, "%s", call->idempotency_key);
  CHECK(strcmp(call->capability, "inventory.reserve") == 0);
  CHECK(strcmp(call->state, "Reserve") == 0);
  CHECK(strstr(call->input_json, "\"sku\":\"A1\"") != NULL);
  CHECK(call->attempt == 0 && !call->has_deadline);
  CHECK_OK(peo_task_result_set_output(result, "{\"held\": 2}"));
  CHECK_OK(peo_task_result_set_refinement(result, "{\"Objective\": \"ship order 7 today\"}"));
}

/* A handler that tries to reconfigure the node that is calling it: refused. */
static peo_status reconfigured = PEO_OK;
static void reconfigure(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)call;
  reconfigured = peo_node_set_max_cycles((PeoNode *)user_data, 5);
  CHECK_OK(peo_task_result_set_output(result, "{}"));
}

static void charge(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  Counter *c = user_data;
  c->calls++;
  CHECK(strstr(call->input_json, "\"held\":2") != NULL);
  CHECK_OK(peo_task_result_set_output(result, "{\"charged\": 30}"));
}

/* Proposes what the plan does anyway; its advice is recorded as followed. Also tries a
 * malformed proposal first, which must be refused with a status and not used. */
static void advisor(void *user_data, const PeoObject *object, PeoAdvice *advice) {
  int *consulted = user_data;
  (*consulted)++;
  char *state = NULL;
  CHECK_OK(peo_object_state(object, &state));
  CHECK(peo_advice_propose(advice, "{\"action\": \"fly\"}") == PEO_INVALID_ARGUMENT);
  CHECK(peo_advice_propose(advice, "not json") == PEO_DECODE);
  if (strcmp(state, "Charge") == 0)
    CHECK_OK(peo_advice_propose(advice, "{\"action\": \"execute\", \"target\": \"payment.charge\", \"confidence\": 0.9,"
                                        " \"rationale\": \"the card is on file\"}"));
  peo_string_free(state);
}

static PeoObject *create_order(const PeoSigningKey *originator, int64_t now) {
  PeoCreateOptions options = {0};
  options.now_ms = now;
  options.key = originator;
  PeoObject *object = NULL;
  CHECK_OK(peo_object_create(PLAN, "{\"labels\": [\"orders\"]}", "{\"order\": 7, \"sku\": \"A1\"}", &options,
                             &object));
  return object;
}

static void two_node_visit(void) {
  int64_t now = 1700000000000;
  PeoSigningKey *originator = NULL, *warehouse_key = NULL, *payments_key = NULL;
  CHECK_OK(peo_signing_key_generate(&originator));
  unsigned char seed[32];
  memset(seed, 2, sizeof seed);
  CHECK_OK(peo_signing_key_from_bytes(seed, sizeof seed, &warehouse_key));
  unsigned char round_trip[32];
  CHECK_OK(peo_signing_key_to_bytes(warehouse_key, round_trip));
  CHECK(memcmp(seed, round_trip, 32) == 0);
  memset(seed, 3, sizeof seed);
  CHECK_OK(peo_signing_key_from_bytes(seed, sizeof seed, &payments_key));
  unsigned char trusted[3 * 32];
  CHECK_OK(peo_signing_key_public_key(originator, trusted));
  CHECK_OK(peo_signing_key_public_key(warehouse_key, trusted + 32));
  CHECK_OK(peo_signing_key_public_key(payments_key, trusted + 64));

  PeoObject *object = create_order(originator, now);
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
  char *id = NULL;
  CHECK_OK(peo_object_id(object, &id));
  CHECK(strlen(id) == 32);

  /* The warehouse: reserves, may execute only in its own domain; refines the objective. */
  Counter warehouse_calls = {0};
  PeoNode *warehouse = NULL;
  CHECK_OK(peo_node_new("warehouse-1", "eu", &warehouse));
  CHECK_OK(peo_node_set_key(warehouse, warehouse_key));
  CHECK_OK(peo_node_set_trusted_keys(warehouse, trusted, 3));
  CHECK_OK(peo_node_set_clock(warehouse, fixed_clock, &now));
  CHECK_OK(peo_node_set_facts(warehouse, "{\"site\": \"lyon\"}"));
  CHECK_OK(peo_node_set_policy(warehouse,
                               "permit(principal, action, resource) when { context.node_domain == \"eu\" };"));
  CHECK_OK(peo_node_add_handler(warehouse, "inventory.reserve", reserve, &warehouse_calls));

  PeoVisit *visit = NULL;
  CHECK_OK(peo_node_visit(warehouse, bytes, len, NULL, &visit));
  peo_bytes_free(bytes, len);
  PeoDispositionKind kind;
  CHECK_OK(peo_visit_disposition(visit, &kind));
  CHECK(kind == PEO_DISPOSITION_KIND_DELEGATE);
  char *json = NULL;
  CHECK_OK(peo_visit_disposition_json(visit, &json));
  CHECK(strstr(json, "\"capability\":\"payment.charge\"") != NULL);
  peo_string_free(json);
  CHECK(warehouse_calls.calls == 1);
  char expected_key[256];
  snprintf(expected_key, sizeof expected_key, "%s/Reserve/1/0", id);
  CHECK(strcmp(warehouse_calls.last_key, expected_key) == 0);
  CHECK_OK(peo_visit_records_json(visit, &json));
  CHECK(strstr(json, "\"action\":\"execute\"") && strstr(json, "\"action\":\"mutate\"") &&
        strstr(json, "\"action\":\"delegate\""));
  peo_string_free(json);

  /* Payments: charges, with an advisor; trusts the three keys. */
  const uint8_t *handoff = NULL;
  size_t handoff_len = 0;
  CHECK_OK(peo_visit_bytes(visit, &handoff, &handoff_len));
  Counter payment_calls = {0};
  int consulted = 0;
  PeoNode *payments = NULL;
  CHECK_OK(peo_node_new("payments-1", "us", &payments));
  CHECK_OK(peo_node_set_key(payments, payments_key));
  CHECK_OK(peo_node_set_trusted_keys(payments, trusted, 3));
  CHECK_OK(peo_node_set_clock(payments, fixed_clock, &now));
  CHECK_OK(peo_node_add_handler(payments, "payment.charge", charge, &payment_calls));
  CHECK_OK(peo_node_set_advisor(payments, advisor, &consulted));
  PeoVisit *second = NULL;
  CHECK_OK(peo_node_visit(payments, handoff, handoff_len, NULL, &second));
  CHECK(consulted >= 1 && payment_calls.calls == 1);
  CHECK_OK(peo_visit_disposition(second, &kind));
  CHECK(kind == PEO_DISPOSITION_KIND_TERMINATED);
  CHECK_OK(peo_visit_disposition_json(second, &json));
  CHECK(strstr(json, "\"status\":\"succeeded\"") && strstr(json, "\"charged\":30"));
  peo_string_free(json);
  CHECK_OK(peo_visit_records_json(second, &json));
  CHECK(strstr(json, "\"rationale\":\"the card is on file\"") != NULL);
  peo_string_free(json);

  PeoObject *after = NULL;
  CHECK_OK(peo_visit_object(second, &after));
  PeoObjectStatus status;
  CHECK_OK(peo_object_status(after, &status));
  CHECK(status == PEO_OBJECT_STATUS_SUCCEEDED);
  CHECK(strcmp(peo_object_status_name(status), "succeeded") == 0);
  char *report = NULL;
  CHECK_OK(peo_object_verify(after, trusted, 3, &report));
  CHECK(strstr(report, "\"valid\":true") != NULL);
  peo_string_free(report);
  /* Trusting only the originator: the visits signed by the nodes are untrusted. */
  CHECK(peo_object_verify(after, trusted, 1, &report) == PEO_SIGNATURE);
  CHECK(strlen(peo_last_error_message()) > 0);
  CHECK(strstr(report, "\"valid\":false") != NULL);
  peo_string_free(report);
  CHECK_OK(peo_object_data_json(after, &json));
  CHECK(strstr(json, "\"reservation\":{\"held\":2}") && strstr(json, "\"payment\":{\"charged\":30}"));
  peo_string_free(json);
  CHECK_OK(peo_object_to_json(after, &json));
  CHECK(strstr(json, "ship order 7 today") != NULL);
  peo_string_free(json);
  size_t records = 0;
  CHECK_OK(peo_object_record_count(after, &records));
  CHECK(records >= 6);

  /* A terminated object refuses another visit, and nothing changes. */
  const uint8_t *final_bytes = NULL;
  size_t final_len = 0;
  CHECK_OK(peo_visit_bytes(second, &final_bytes, &final_len));
  PeoVisit *again = (PeoVisit *)1;
  CHECK(peo_node_visit(payments, final_bytes, final_len, NULL, &again) == PEO_TERMINATED);
  CHECK(again == NULL && peo_last_error() == PEO_TERMINATED);

  /* The warehouse does not trust an unknown originator's objects. */
  PeoSigningKey *stranger = NULL;
  CHECK_OK(peo_signing_key_generate(&stranger));
  PeoObject *foreign = create_order(stranger, now);
  CHECK_OK(peo_object_to_bytes(foreign, &bytes, &len));
  CHECK(peo_node_visit(warehouse, bytes, len, NULL, &again) == PEO_SIGNATURE);
  peo_bytes_free(bytes, len);

  peo_object_free(foreign);
  peo_signing_key_free(stranger);
  peo_object_free(after);
  peo_visit_free(second);
  peo_visit_free(visit);
  peo_node_free(payments);
  peo_node_free(warehouse);
  peo_object_free(object);
  peo_string_free(id);
  peo_signing_key_free(originator);
  peo_signing_key_free(warehouse_key);
  peo_signing_key_free(payments_key);
  printf("api: a two-node signed visit with C handlers, policy, advisor and refinement\n");
}

/* Handlers that misbehave: each attempt fails with peo.HandlerInvalidOutput, which the
 * plan catches; the visit itself succeeds. */
static void garbage(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)call;
  int mode = *(int *)user_data;
  if (mode == 0) {
    CHECK(peo_task_result_set_output(result, "{\"unterminated\": ") == PEO_DECODE);
    CHECK(strstr(peo_last_error_message(), "not valid JSON") != NULL);
  } else if (mode == 1) {
    /* returns without a result */
  } else if (mode == 2) {
    CHECK(peo_task_result_set_error(result, "", "no name") == PEO_INVALID_ARGUMENT);
  } else {
    CHECK(peo_task_result_set_output(result, "\xff\xfe") == PEO_INVALID_ARGUMENT);
  }
}

static void garbage_handlers(void) {
  const char *plan =
      "{\"StartAt\": \"Call\", \"States\": {"
      "  \"Call\": {\"Type\": \"Task\", \"Resource\": \"bad.handler\", \"End\": true,"
      "            \"Catch\": [{\"ErrorEquals\": [\"peo.HandlerInvalidOutput\"], \"ResultPath\": \"$.error\","
      "                         \"Next\": \"Caught\"}]},"
      "  \"Caught\": {\"Type\": \"Pass\", \"End\": true}}}";
  for (int mode = 0; mode < 4; mode++) {
    PeoObject *object = NULL;
    CHECK_OK(peo_object_create(plan, NULL, NULL, NULL, &object));
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
    PeoNode *node = NULL;
    CHECK_OK(peo_node_new("n", "d", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
    CHECK_OK(peo_node_add_handler(node, "bad.handler", garbage, &mode));
    PeoVisit *visit = NULL;
    CHECK_OK(peo_node_visit(node, bytes, len, NULL, &visit));
    PeoObject *after = NULL;
    CHECK_OK(peo_visit_object(visit, &after));
    char *data = NULL;
    CHECK_OK(peo_object_data_json(after, &data));
    CHECK(strstr(data, "\"Error\":\"peo.HandlerInvalidOutput\"") != NULL);
    peo_string_free(data);
    PeoObjectStatus status;
    CHECK_OK(peo_object_status(after, &status));
    CHECK(status == PEO_OBJECT_STATUS_SUCCEEDED);
    peo_object_free(after);
    peo_visit_free(visit);
    peo_node_free(node);
    peo_bytes_free(bytes, len);
    peo_object_free(object);
  }
  printf("api: handlers returning invalid JSON, nothing, an empty error or non-UTF-8 fail their attempt\n");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)rng_state;
}

/* Any failure: a status other than PEO_OK, a message, and a NULL handle. */
static void expect_failure(peo_status status, const void *handle) {
  CHECK(status != PEO_OK);
  CHECK(peo_status_name(status) != NULL);
  CHECK(peo_last_error() == status);
  CHECK(strlen(peo_last_error_message()) > 0);
  CHECK(handle == NULL);
}

static void bad_bytes(void) {
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new("n", "d", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  unsigned char buf[512];
  int decoded = 0;
  for (int i = 0; i < 2000; i++) {
    size_t len = next_random() % sizeof buf;
    for (size_t j = 0; j < len; j++) buf[j] = (unsigned char)next_random();
    if (i % 2 && len >= 4) memcpy(buf, "PEO1", 4);
    PeoObject *object = NULL;
    peo_status status = peo_object_from_bytes(buf, len, &object);
    if (status == PEO_OK) {
      decoded++;
      peo_object_free(object);
    } else {
      expect_failure(status, object);
    }
    PeoVisit *visit = NULL;
    status = peo_node_visit(node, buf, len, NULL, &visit);
    if (status == PEO_OK)
      peo_visit_free(visit);
    else
      expect_failure(status, visit);
  }
  CHECK(decoded == 0);

  /* Every truncation of a real object, and every single-byte flip. */
  PeoObject *object = NULL;
  CHECK_OK(peo_object_create(PLAN, NULL, "{\"sku\": \"A1\"}", NULL, &object));
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
  for (size_t cut = 0; cut < len; cut++) {
    PeoObject *truncated = NULL;
    expect_failure(peo_object_from_bytes(bytes, cut, &truncated), truncated);
    PeoVisit *visit = NULL;
    expect_failure(peo_node_visit(node, bytes, cut, NULL, &visit), visit);
  }
  /* A flip is either refused or lands in bytes that carry nothing: the object decodes,
   * verifies, and re-encodes exactly as the original. */
  int accepted = 0;
  for (size_t i = 0; i < len; i++) {
    bytes[i] ^= 0x5a;
    PeoObject *flipped = NULL;
    peo_status status = peo_object_from_bytes(bytes, len, &flipped);
    if (status == PEO_OK && peo_object_verify(flipped, NULL, 0, NULL) == PEO_OK) {
      accepted++;
      uint8_t *again = NULL;
      size_t again_len = 0;
      CHECK_OK(peo_object_to_bytes(flipped, &again, &again_len));
      bytes[i] ^= 0x5a;
      CHECK(again_len == len && memcmp(again, bytes, len) == 0);
      bytes[i] ^= 0x5a;
      peo_bytes_free(again, again_len);
    }
    peo_object_free(flipped);
    bytes[i] ^= 0x5a;
  }
  peo_bytes_free(bytes, len);
  peo_object_free(object);
  peo_node_free(node);
  printf("api: 2000 random buffers, %zu truncations and %zu byte flips: statuses (%d flips of unused bytes accepted)\n",
         len, len, accepted);
}

static void bad_arguments(void) {
  PeoObject *object = NULL;
  PeoNode *node = NULL;
  PeoVisit *visit = NULL;
  PeoSigningKey *key = NULL;
  char *text = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  unsigned char seed[32] = {0};

  expect_failure(peo_object_create(NULL, NULL, NULL, NULL, &object), object);
  CHECK(peo_last_error() == PEO_INVALID_ARGUMENT);
  expect_failure(peo_object_create("{not json", NULL, NULL, NULL, &object), object);
  CHECK(peo_last_error() == PEO_DECODE);
  expect_failure(peo_object_create("{\"StartAt\": \"X\", \"States\": {}}", NULL, NULL, NULL, &object), object);
  CHECK(peo_last_error() == PEO_INVALID_INTENT);
  expect_failure(peo_object_create(PLAN, "[1]", NULL, NULL, &object), object);
  expect_failure(peo_object_create(PLAN, NULL, "{", NULL, &object), object);
  PeoCreateOptions options = {0};
  options.id_hex = "not hex";
  expect_failure(peo_object_create(PLAN, NULL, NULL, &options, &object), object);
  CHECK(peo_object_create(PLAN, NULL, NULL, NULL, NULL) == PEO_INVALID_ARGUMENT);
  /* A JSONata expression that does not parse: the error names the field. */
  expect_failure(peo_object_create("{\"QueryLanguage\": \"JSONata\", \"StartAt\": \"S\", \"States\": "
                                   "{\"S\": {\"Type\": \"Pass\", \"Output\": \"{% 1 + %}\", \"End\": true}}}",
                                   NULL, NULL, NULL, &object),
                 object);
  CHECK(peo_last_error() == PEO_INVALID_INTENT);
  CHECK(strstr(peo_last_error_message(), "`Output`") != NULL);
  CHECK(strstr(peo_last_error_message(), "does not parse") != NULL);
  /* An object without variables reads `{}`. */
  CHECK(peo_object_create(PLAN, NULL, NULL, NULL, &object) == PEO_OK);
  CHECK(peo_object_variables_json(object, &text) == PEO_OK && strcmp(text, "{}") == 0);
  peo_string_free(text);
  text = NULL;
  peo_object_free(object);
  object = NULL;
  CHECK(peo_object_variables_json(NULL, &text) == PEO_INVALID_ARGUMENT && text == NULL);

  expect_failure(peo_object_from_bytes(NULL, 10, &object), object);
  CHECK(peo_object_to_bytes(NULL, &bytes, &len) == PEO_INVALID_ARGUMENT);
  CHECK(peo_object_to_json(NULL, &text) == PEO_INVALID_ARGUMENT && text == NULL);
  CHECK(peo_object_state(NULL, &text) == PEO_INVALID_ARGUMENT);
  CHECK(peo_object_verify(NULL, NULL, 0, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_object_status(NULL, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_object_status_name(-1) == NULL && peo_object_status_name(6) == NULL);

  expect_failure(peo_signing_key_from_bytes(seed, 31, &key), key);
  expect_failure(peo_signing_key_from_bytes(NULL, 32, &key), key);
  CHECK(peo_signing_key_public_key(NULL, seed) == PEO_INVALID_ARGUMENT);
  CHECK(peo_signing_key_generate(NULL) == PEO_INVALID_ARGUMENT);

  expect_failure(peo_node_new(NULL, "d", &node), node);
  expect_failure(peo_node_new("", "d", &node), node);
  CHECK_OK(peo_node_new("n", "d", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  CHECK(peo_node_set_policy(node, "permit(principal, action, resource) when { context.nope == 1 };") ==
        PEO_INVALID_ARGUMENT);
  CHECK(strstr(peo_last_error_message(), "schema") != NULL);
  CHECK(peo_node_set_trust(node, "{\"keyz\": []}") == PEO_INVALID_ARGUMENT);
  CHECK(strstr(peo_last_error_message(), "unknown trust field") != NULL);
  CHECK(peo_node_set_trust(node, NULL) == PEO_INVALID_ARGUMENT);
  {
    /* A node cannot be reconfigured while it is in use (here: by the visit calling the handler). */
    PeoNode *busy = NULL;
    PeoObject *o = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    PeoVisit *v = NULL;
    CHECK_OK(peo_node_new("busy", "d", &busy));
    CHECK_OK(peo_node_set_trust(busy, "\"any\""));
    CHECK_OK(peo_node_add_handler(busy, "inventory.reserve", reconfigure, busy));
    CHECK_OK(peo_object_create(PLAN, NULL, "{\"sku\": \"A1\"}", NULL, &o));
    CHECK_OK(peo_object_to_bytes(o, &b, &n));
    CHECK_OK(peo_node_visit(busy, b, n, NULL, &v));
    CHECK(reconfigured == PEO_INVALID_ARGUMENT);
    CHECK_OK(peo_node_set_max_cycles(busy, 5)); /* after the visit it can be */
    peo_visit_free(v);
    peo_bytes_free(b, n);
    peo_object_free(o);
    peo_node_free(busy);
  }
  {
    /* A node's default compaction: the second visit starts with a checkpoint. */
    static const char *WAIT_LOOP =
        "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Pass\", \"Next\": \"B\"},"
        " \"B\": {\"Type\": \"Pass\", \"Next\": \"C\"}, \"C\": {\"Type\": \"Pass\", \"Next\": \"W\"},"
        " \"W\": {\"Type\": \"Wait\", \"Seconds\": 1, \"Next\": \"D\"}, \"D\": {\"Type\": \"Pass\", \"End\": true}}}";
    int64_t now = 1700000000000;
    PeoNode *compacting = NULL;
    PeoObject *o = NULL, *after = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    const uint8_t *vb = NULL;
    size_t vn = 0;
    PeoVisit *first = NULL, *second = NULL;
    char *report = NULL;
    CHECK_OK(peo_node_new("n", "d", &compacting));
    CHECK_OK(peo_node_set_trust(compacting, "\"any\""));
    CHECK_OK(peo_node_set_clock(compacting, fixed_clock, &now));
    CHECK(peo_node_set_compaction(compacting, 4, 4) == PEO_INVALID_INTENT);
    CHECK_OK(peo_node_set_compaction(compacting, 4, 0));
    CHECK_OK(peo_object_create(WAIT_LOOP, NULL, NULL, NULL, &o));
    CHECK_OK(peo_object_to_bytes(o, &b, &n));
    CHECK_OK(peo_node_visit(compacting, b, n, NULL, &first));
    CHECK_OK(peo_visit_bytes(first, &vb, &vn));
    now += 1000;
    CHECK_OK(peo_node_visit(compacting, vb, vn, NULL, &second));
    CHECK_OK(peo_visit_object(second, &after));
    CHECK_OK(peo_object_verify(after, NULL, 0, &report));
    CHECK(strstr(report, "\"records_pruned\":5") != NULL);
    CHECK(strstr(report, "attested by n (domain d)") != NULL);
    peo_string_free(report);
    /* The pruned records, kept as archive segments, audit the whole history. */
    size_t segments = 9;
    CHECK_OK(peo_visit_archive_count(first, &segments));
    CHECK(segments == 0);
    CHECK_OK(peo_visit_archive_count(second, &segments));
    CHECK(segments == 1);
    uint8_t *seg = NULL;
    size_t seg_len = 0;
    CHECK(peo_visit_archive(second, 1, &seg, &seg_len) == PEO_INVALID_ARGUMENT && seg == NULL);
    CHECK_OK(peo_visit_archive(second, 0, &seg, &seg_len));
    const uint8_t *parts[1] = {seg};
    size_t part_lens[1] = {seg_len};
    CHECK_OK(peo_object_audit(after, parts, part_lens, 1, NULL, 0, &report));
    CHECK(strstr(report, "\"checkpoints_audited\":1") != NULL);
    peo_string_free(report);
    CHECK(peo_object_audit(after, NULL, NULL, 0, NULL, 0, NULL) == PEO_INTEGRITY);
    CHECK(peo_object_audit(after, NULL, NULL, 1, NULL, 0, NULL) == PEO_INVALID_ARGUMENT);
    part_lens[0] = 3;
    CHECK(peo_object_audit(after, parts, part_lens, 1, NULL, 0, NULL) == PEO_DECODE);
    peo_bytes_free(seg, seg_len);
    peo_object_free(after);
    peo_visit_free(second);
    peo_visit_free(first);
    peo_bytes_free(b, n);
    peo_object_free(o);
    peo_node_free(compacting);
  }
  {
    /* A node never given trust accepts nothing: an unsigned object is a Signature error. */
    PeoNode *closed = NULL;
    PeoObject *unsigned_object = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    PeoVisit *v = NULL;
    CHECK_OK(peo_node_new("closed", "d", &closed));
    CHECK_OK(peo_object_create(PLAN, NULL, NULL, NULL, &unsigned_object));
    CHECK_OK(peo_object_to_bytes(unsigned_object, &b, &n));
    CHECK(peo_node_visit(closed, b, n, NULL, &v) == PEO_SIGNATURE);
    CHECK(v == NULL);
    peo_bytes_free(b, n);
    peo_object_free(unsigned_object);
    peo_node_free(closed);
  }
  CHECK(peo_node_set_policy(node, "this is not cedar") != PEO_OK);
  CHECK(peo_node_set_policy(node, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_set_facts(node, "[1, 2]") == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_set_facts(node, "{") == PEO_DECODE);
  CHECK(peo_node_set_trusted_keys(node, NULL, 2) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_add_handler(node, "cap", NULL, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_add_handler(node, NULL, garbage, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_set_key(node, NULL) == PEO_INVALID_ARGUMENT);
  CHECK(peo_node_set_key(NULL, NULL) == PEO_INVALID_ARGUMENT);
  CHECK_OK(peo_node_set_advisor(node, NULL, NULL));
  CHECK_OK(peo_node_set_clock(node, NULL, NULL));
  expect_failure(peo_node_visit(NULL, seed, 32, NULL, &visit), visit);
  CHECK(peo_node_visit(node, seed, 32, NULL, NULL) == PEO_INVALID_ARGUMENT);

  /* A valid object with a bad event. */
  CHECK_OK(peo_object_create(PLAN, NULL, NULL, NULL, &object));
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
  expect_failure(peo_node_visit(node, bytes, len, "{\"payload\": 1}", &visit), visit);
  CHECK(strstr(peo_last_error_message(), "name") != NULL);
  expect_failure(peo_node_visit(node, bytes, len, "event", &visit), visit);
  expect_failure(peo_node_complete(node, bytes, len, NULL, 0, &visit), visit);
  CHECK(peo_node_complete_all(node, bytes, len, NULL, NULL, 2, &visit) == PEO_INVALID_ARGUMENT && visit == NULL);
  CHECK(strstr(peo_last_error_message(), "count") != NULL);
  CHECK(peo_node_complete_all(node, bytes, len, NULL, NULL, 0, &visit) == PEO_INVALID_ARGUMENT && visit == NULL);
  CHECK_OK(peo_node_visit(node, bytes, len, NULL, &visit));
  const uint8_t *borrowed = NULL;
  size_t n = 0;
  CHECK(peo_visit_child_bytes(visit, 0, &borrowed, &n) == PEO_INVALID_ARGUMENT && borrowed == NULL);
  CHECK(peo_visit_bytes(visit, NULL, &n) == PEO_INVALID_ARGUMENT);
  CHECK(peo_visit_appended(NULL, &n) == PEO_INVALID_ARGUMENT);
  CHECK(peo_task_result_set_output(NULL, "{}") == PEO_INVALID_ARGUMENT);
  CHECK(peo_advice_propose(NULL, "{}") == PEO_INVALID_ARGUMENT);
  peo_visit_free(visit);
  peo_bytes_free(bytes, len);
  peo_object_free(object);
  peo_node_free(node);

  /* Every free accepts NULL. */
  peo_object_free(NULL);
  peo_node_free(NULL);
  peo_visit_free(NULL);
  peo_signing_key_free(NULL);
  peo_string_free(NULL);
  peo_bytes_free(NULL, 0);

  /* Statuses: unique values, each named; a success clears the last error. */
  for (int i = 0; i <= PEO_TRANSPORT; i++) {
    CHECK(peo_status_name(i) != NULL);
    for (int j = 0; j < i; j++) CHECK(strcmp(peo_status_name(i), peo_status_name(j)) != 0);
  }
  CHECK(peo_status_name(PEO_TRANSPORT + 1) == NULL && peo_status_name(-1) == NULL);
  CHECK(strcmp(peo_status_name(PEO_OK), "PEO_OK") == 0);
  CHECK_OK(peo_signing_key_generate(&key));
  CHECK(peo_last_error() == PEO_OK && strcmp(peo_last_error_message(), "") == 0);
  peo_signing_key_free(key);
  CHECK(strlen(peo_version()) > 0);
  printf("api: NULL pointers, wrong lengths, bad JSON, bad policies and bad events: statuses with messages\n");
}

/* Two threads visit objects at one node at the same time; the last error is per thread. */
typedef struct {
  const PeoNode *node;
  const uint8_t *bytes;
  size_t len;
  int ok;
} Worker;

static void *worker(void *arg) {
  Worker *w = arg;
  for (int i = 0; i < 20; i++) {
    PeoVisit *visit = NULL;
    if (peo_node_visit(w->node, w->bytes, w->len, NULL, &visit) == PEO_OK) w->ok++;
    peo_visit_free(visit);
    PeoObject *bad = NULL;
    if (peo_object_from_bytes(w->bytes, 3, &bad) == PEO_OK || peo_last_error() != PEO_DECODE) w->ok = -1000;
  }
  return NULL;
}

static void threads(void) {
  Counter calls = {0};
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new("n", "d", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  CHECK_OK(peo_node_add_handler(node, "inventory.reserve", reserve, &calls));
  PeoObject *object = NULL;
  CHECK_OK(peo_object_create(PLAN, NULL, "{\"sku\": \"A1\"}", NULL, &object));
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
  /* The handler's counter is not synchronised: give each thread its own node. */
  PeoNode *node2 = NULL;
  Counter calls2 = {0};
  CHECK_OK(peo_node_new("n2", "d", &node2));
  CHECK_OK(peo_node_set_trust(node2, "\"any\""));
  CHECK_OK(peo_node_add_handler(node2, "inventory.reserve", reserve, &calls2));
  Worker a = {node, bytes, len, 0}, b = {node2, bytes, len, 0};
  pthread_t ta, tb;
  CHECK(pthread_create(&ta, NULL, worker, &a) == 0);
  CHECK(pthread_create(&tb, NULL, worker, &b) == 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.ok == 20 && b.ok == 20 && calls.calls == 20 && calls2.calls == 20);
  peo_bytes_free(bytes, len);
  peo_object_free(object);
  peo_node_free(node);
  peo_node_free(node2);
  printf("api: 40 visits on two threads\n");
}

/* A visit driven by its host, one call at a time (peo_node_begin): the calls come out in
 * order with their input, bad answers fail the attempt as a handler's would, and the
 * result is the one a plain visit with handlers gives. Also the error payload as JSON. */
static void sessions(void) {
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new("host", "d", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  CHECK_OK(peo_node_add_capability(node, "inventory.reserve"));
  CHECK_OK(peo_node_add_capability(node, "payment.charge"));
  CHECK(peo_node_add_capability(node, "") == PEO_INVALID_ARGUMENT);
  PeoObject *object = create_order(NULL, 1000);
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));

  PeoSession *session = NULL;
  CHECK_OK(peo_node_begin(node, bytes, len, NULL, &session));
  const PeoCall *call = NULL;
  PeoVisit *visit = NULL;
  /* Answering before a call is pending is refused. */
  CHECK(peo_session_answer_output(session, "{}", NULL) == PEO_INVALID_ARGUMENT);
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK(call != NULL && visit == NULL);
  CHECK(strcmp(call->capability, "inventory.reserve") == 0 && strcmp(call->state, "Reserve") == 0);
  CHECK(strstr(call->input_json, "\"sku\":\"A1\"") != NULL && call->attempt == 0);
  /* Output that is not JSON: PEO_DECODE, and the attempt fails (no Retry: the state fails). */
  CHECK(peo_session_answer_output(session, "{held", NULL) == PEO_DECODE);
  CHECK(strstr(peo_last_error_json(), "\"code\":\"PEO_DECODE\"") != NULL);
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK(call == NULL && visit != NULL);
  char *json = NULL;
  CHECK_OK(peo_visit_disposition_json(visit, &json));
  CHECK(strstr(json, "peo.HandlerInvalidOutput") != NULL);
  peo_string_free(json);
  peo_visit_free(visit);
  visit = NULL;
  /* The session is spent. */
  CHECK(peo_session_advance(session, &call, &visit) == PEO_INVALID_ARGUMENT);
  peo_session_free(session);

  /* Good answers: the object runs to its end with them. */
  CHECK_OK(peo_node_begin(node, bytes, len, NULL, &session));
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK_OK(peo_session_answer_output(session, "{\"held\": 2}", "{\"Objective\": \"ship today\"}"));
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK(call != NULL && strcmp(call->state, "Charge") == 0 && strstr(call->input_json, "\"held\":2") != NULL);
  /* An empty error name: refused, and the attempt fails as a handler's would. */
  CHECK(peo_session_answer_error(session, "", NULL) == PEO_INVALID_ARGUMENT);
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK(call == NULL && visit != NULL);
  CHECK_OK(peo_visit_disposition_json(visit, &json));
  CHECK(strstr(json, "peo.HandlerInvalidOutput") != NULL);
  peo_string_free(json);
  peo_visit_free(visit);
  visit = NULL;
  peo_session_free(session);

  CHECK_OK(peo_node_begin(node, bytes, len, NULL, &session));
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK_OK(peo_session_answer_output(session, "{\"held\": 2}", NULL));
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK_OK(peo_session_answer_output(session, "{\"charged\": 30}", NULL));
  CHECK_OK(peo_session_advance(session, &call, &visit));
  CHECK(call == NULL && visit != NULL);
  PeoDispositionKind kind;
  CHECK_OK(peo_visit_disposition(visit, &kind));
  CHECK(kind == PEO_DISPOSITION_KIND_TERMINATED);
  PeoObject *after = NULL;
  CHECK_OK(peo_visit_object(visit, &after));
  CHECK_OK(peo_object_data_json(after, &json));
  CHECK(strstr(json, "\"payment\":{\"charged\":30}") != NULL);
  peo_string_free(json);
  peo_object_free(after);
  peo_visit_free(visit);
  peo_session_free(session);
  /* A plain visit of a capability only sessions answer fails the attempt (peo.NoHandler). */
  CHECK_OK(peo_node_visit(node, bytes, len, NULL, &visit));
  CHECK_OK(peo_visit_disposition_json(visit, &json));
  CHECK(strstr(json, "peo.NoHandler") != NULL);
  peo_string_free(json);
  peo_visit_free(visit);
  /* Bad bytes: no session, the same status as a visit. */
  CHECK(peo_node_begin(node, bytes, len / 2, NULL, &session) == PEO_DECODE && session == NULL);
  CHECK(peo_node_begin(node, bytes, len, "{", &session) == PEO_DECODE && session == NULL);
  /* The error payload: every field, as in every language. */
  CHECK(peo_object_create("{\"StartAt\": \"S\", \"States\": {\"S\": {\"Type\": \"Pass\", \"Next\": \"Nowhere\"}}}",
                          NULL, NULL, NULL, &after) == PEO_INVALID_INTENT);
  const char *payload = peo_last_error_json();
  CHECK(strstr(payload, "\"code\":\"PEO_INVALID_INTENT\"") && strstr(payload, "\"kind\":\"invalid_intent\""));
  CHECK(strstr(payload, "\"state\":\"S\"") && strstr(payload, "\"record\":null"));
  peo_bytes_free(bytes, len);
  peo_object_free(object);
  peo_node_free(node);
  printf("api: host-driven sessions (calls in order, bad answers fail the attempt), the error payload as JSON\n");
}

/* An Await naming Signers: only an event the named key signed for this object wakes it. */
static void signed_events(void) {
  PeoSigningKey *ops = NULL, *eve = NULL;
  CHECK_OK(peo_signing_key_generate(&ops));
  CHECK_OK(peo_signing_key_generate(&eve));
  uint8_t pk[32];
  CHECK_OK(peo_signing_key_public_key(ops, pk));
  char plan[512];
  int at = snprintf(plan, sizeof plan,
                    "{\"StartAt\": \"Approve\", \"States\": {\"Approve\": {\"Type\": \"Pass\", "
                    "\"ResultPath\": \"$.approval\", \"End\": true}}, \"Await\": {\"Approve\": "
                    "{\"Event\": \"approved\", \"Signers\": [\"");
  for (int i = 0; i < 32; i++) at += snprintf(plan + at, sizeof plan - (size_t)at, "%02x", pk[i]);
  snprintf(plan + at, sizeof plan - (size_t)at, "\"]}}}");
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new("approvals", "eu", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  PeoObject *object = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_OK(peo_object_create(plan, NULL, NULL, NULL, &object));
  CHECK_OK(peo_object_to_bytes(object, &bytes, &len));
  PeoVisit *parked = NULL;
  CHECK_OK(peo_node_visit(node, bytes, len, NULL, &parked));
  const uint8_t *pb = NULL;
  size_t pn = 0, appended = 0;
  CHECK_OK(peo_visit_bytes(parked, &pb, &pn));
  char *id = NULL;
  CHECK_OK(peo_object_id(object, &id));
  const char *approval = "{\"name\": \"approved\", \"payload\": {\"by\": \"ops\"}}";
  char *by_eve = NULL, *by_ops = NULL;
  CHECK_OK(peo_signing_key_sign_event(eve, id, approval, &by_eve));
  CHECK_OK(peo_signing_key_sign_event(ops, id, approval, &by_ops));
  CHECK(strstr(by_ops, "\"signature\"") != NULL && strstr(by_ops, "\"signer\"") != NULL);
  const char *forged[] = {approval, by_eve};
  for (int i = 0; i < 2; i++) {
    PeoVisit *v = NULL;
    CHECK_OK(peo_node_visit(node, pb, pn, forged[i], &v));
    CHECK_OK(peo_visit_appended(v, &appended));
    CHECK(appended == 0);
    peo_visit_free(v);
  }
  PeoVisit *done = NULL;
  CHECK_OK(peo_node_visit(node, pb, pn, by_ops, &done));
  PeoObject *after = NULL;
  CHECK_OK(peo_visit_object(done, &after));
  PeoObjectStatus status;
  CHECK_OK(peo_object_status(after, &status));
  CHECK(status == PEO_OBJECT_STATUS_SUCCEEDED);
  char *bad = NULL;
  CHECK(peo_signing_key_sign_event(ops, "not-an-id", approval, &bad) == PEO_INVALID_ARGUMENT && bad == NULL);
  CHECK(peo_signing_key_sign_event(ops, id, "{}", &bad) == PEO_INVALID_ARGUMENT && bad == NULL);
  peo_object_free(after);
  peo_visit_free(done);
  peo_string_free(by_eve);
  peo_string_free(by_ops);
  peo_string_free(id);
  peo_visit_free(parked);
  peo_bytes_free(bytes, len);
  peo_object_free(object);
  peo_node_free(node);
  peo_signing_key_free(ops);
  peo_signing_key_free(eve);
  printf("api: an Await naming Signers takes only the event its key signed for the object\n");
}

int main(void) {
  sessions();
  signed_events();
  two_node_visit();
  garbage_handlers();
  bad_bytes();
  bad_arguments();
  threads();
  printf("api (C): all checks passed\n");
  return 0;
}
