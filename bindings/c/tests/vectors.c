/* Runs every entry of the cross-language test vectors (tests/vectors/manifest.json)
 * through the C API and checks each visit's results against the manifest: handler
 * calls, error, disposition, records, status, state, data, variables, head, the SHA-256 of the
 * object's bytes and of every child. Fails if any entry was skipped.
 *
 * Usage: vectors <tests/vectors directory>
 */
#include <cjson/cJSON.h>

#include "common.h"

/* A node's scripted world during one visit: its clock, the handler outcomes still to
 * give, and the calls the handlers received. */
typedef struct {
  int64_t now_ms;
  cJSON *outcomes; /* borrowed array */
  int next_outcome;
  cJSON *calls; /* owned array */
} Script;

static int64_t script_clock(void *user_data) { return ((Script *)user_data)->now_ms; }

static void script_handler(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  Script *s = user_data;
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "capability", call->capability);
  cJSON_AddStringToObject(c, "state", call->state);
  cJSON *input = cJSON_Parse(call->input_json);
  CHECK(input != NULL);
  cJSON_AddItemToObject(c, "input", input);
  cJSON_AddNumberToObject(c, "attempt", call->attempt);
  cJSON_AddStringToObject(c, "idempotency_key", call->idempotency_key);
  if (call->has_deadline)
    cJSON_AddNumberToObject(c, "deadline_ms", (double)call->deadline_ms);
  else
    cJSON_AddNullToObject(c, "deadline_ms");
  cJSON_AddItemToArray(s->calls, c);

  cJSON *o = cJSON_GetArrayItem(s->outcomes, s->next_outcome++);
  if (o == NULL) {
    CHECK_OK(peo_task_result_set_error(result, "Vector.NoOutcome", NULL));
    return;
  }
  cJSON *took = cJSON_GetObjectItemCaseSensitive(o, "took_ms");
  if (cJSON_IsNumber(took)) s->now_ms += (int64_t)took->valuedouble;
  cJSON *output = cJSON_GetObjectItemCaseSensitive(o, "output");
  if (output != NULL) {
    char *text = cJSON_PrintUnformatted(output);
    CHECK_OK(peo_task_result_set_output(result, text));
    cJSON_free(text);
  } else {
    cJSON *cause = cJSON_GetObjectItemCaseSensitive(o, "cause");
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error"));
    CHECK(error != NULL);
    CHECK_OK(peo_task_result_set_error(result, error, cJSON_IsString(cause) ? cause->valuestring : NULL));
  }
}

/* The objects of one vector: "parent" and the children its fan-outs created. */
typedef struct {
  unsigned char *bytes;
  size_t len;
} Buf;

typedef struct {
  Buf parent;
  Buf children[64];
  int n_children;
  /* Objects the vector brings along (`extra_objects`: a forged child). */
  Buf extras[8];
  char extra_names[8][32];
  int n_extras;
} Objects;

static Buf *slot(Objects *objs, const char *name) {
  if (name == NULL || strcmp(name, "parent") == 0) return &objs->parent;
  for (int i = 0; i < objs->n_extras; i++) {
    if (strcmp(name, objs->extra_names[i]) == 0) return &objs->extras[i];
  }
  CHECK(strncmp(name, "child:", 6) == 0);
  int i = atoi(name + 6);
  CHECK(i >= 0 && i < objs->n_children);
  return &objs->children[i];
}

static void set_buf(Buf *b, const unsigned char *bytes, size_t len) {
  free(b->bytes);
  b->bytes = malloc(len ? len : 1);
  CHECK(b->bytes != NULL);
  memcpy(b->bytes, bytes, len);
  b->len = len;
}

static cJSON *parse_owned(char *text) {
  cJSON *v = cJSON_Parse(text);
  CHECK(v != NULL);
  peo_string_free(text);
  return v;
}

static void fail_field(const char *vector, int visit, const char *field, const cJSON *expected, const cJSON *got) {
  char *e = cJSON_PrintUnformatted(expected);
  char *g = got ? cJSON_PrintUnformatted(got) : NULL;
  fprintf(stderr, "vector %s visit %d: `%s` differs\n  expected %s\n  got      %s\n", vector, visit, field, e,
          g ? g : "(nothing)");
  exit(1);
}

/* Compares got with expect[field]; takes ownership of got. */
static void expect_json(const char *vector, int visit, const cJSON *expect, const char *field, cJSON *got) {
  const cJSON *want = cJSON_GetObjectItemCaseSensitive(expect, field);
  if (want == NULL) {
    fprintf(stderr, "vector %s visit %d: the manifest has no expected `%s`\n", vector, visit, field);
    exit(1);
  }
  if (!cJSON_Compare(want, got, 1)) fail_field(vector, visit, field, want, got);
  cJSON_Delete(got);
}

static const char *VISIT_KEYS[] = {"target", "complete", "node", "now_ms", "event", "handler_outcomes", "expect", NULL};
static const char *NODE_KEYS[] = {"id", "domain", "signing_key", "policy", "capabilities", "trust", NULL};
static const char *EXPECT_KEYS[] = {"calls", "error",     "disposition", "appended",      "records",  "status", "state",
                                    "data",  "variables", "head",        "object_sha256", "children", NULL};

/* Fails on a key this runner does not know: a new manifest feature is never ignored. */
static void known_keys(const cJSON *obj, const char **keys, const char *what) {
  const cJSON *item;
  cJSON_ArrayForEach(item, obj) {
    int known = 0;
    for (const char **k = keys; *k; k++) known |= strcmp(item->string, *k) == 0;
    if (!known) {
      fprintf(stderr, "%s has `%s`, which this runner does not handle: extend bindings/c/tests/vectors.c\n", what,
              item->string);
      exit(1);
    }
  }
}

static PeoNode *build_node(const cJSON *spec, Script *script) {
  known_keys(spec, NODE_KEYS, "a node");
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "id")),
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "domain")), &node));
  /* The node's trust in its JSON form; null: the default, which accepts nothing. */
  const cJSON *trust = cJSON_GetObjectItemCaseSensitive(spec, "trust");
  if (trust && !cJSON_IsNull(trust)) {
    char *text = cJSON_PrintUnformatted(trust);
    CHECK_OK(peo_node_set_trust(node, text));
    cJSON_free(text);
  }
  CHECK_OK(peo_node_set_clock(node, script_clock, script));
  const char *policy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "policy"));
  if (policy) CHECK_OK(peo_node_set_policy(node, policy));
  const char *key_hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "signing_key"));
  if (key_hex) {
    unsigned char seed[32];
    CHECK(hex_decode(key_hex, seed, sizeof seed) == 32);
    PeoSigningKey *key = NULL;
    CHECK_OK(peo_signing_key_from_bytes(seed, sizeof seed, &key));
    CHECK_OK(peo_node_set_key(node, key));
    peo_signing_key_free(key);
  }
  const cJSON *cap;
  cJSON_ArrayForEach(cap, cJSON_GetObjectItemCaseSensitive(spec, "capabilities")) {
    CHECK_OK(peo_node_add_handler(node, cap->valuestring, script_handler, script));
  }
  return node;
}

/* One visit (or completion) of a vector, checked against its expectation. */
static void run_visit(const char *vector, int index, const cJSON *v, Objects *objs) {
  known_keys(v, VISIT_KEYS, "a visit");
  const cJSON *expect = cJSON_GetObjectItemCaseSensitive(v, "expect");
  known_keys(expect, EXPECT_KEYS, "an expectation");
  Script script = {
      .now_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "now_ms")),
      .outcomes = cJSON_GetObjectItemCaseSensitive(v, "handler_outcomes"),
      .next_outcome = 0,
      .calls = cJSON_CreateArray(),
  };
  PeoNode *node = build_node(cJSON_GetObjectItemCaseSensitive(v, "node"), &script);
  const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "target"));
  const cJSON *complete_item = cJSON_GetObjectItemCaseSensitive(v, "complete");
  const char *complete = cJSON_GetStringValue(complete_item);
  Buf *object = slot(objs, target);

  PeoVisit *visit = NULL;
  peo_status status;
  if (cJSON_IsArray(complete_item)) {
    /* A batch of completions, recorded by one record. */
    int n = cJSON_GetArraySize(complete_item);
    const uint8_t *batch[16];
    size_t lens[16];
    CHECK(n <= 16);
    for (int i = 0; i < n; i++) {
      Buf *child = slot(objs, cJSON_GetStringValue(cJSON_GetArrayItem(complete_item, i)));
      batch[i] = child->bytes;
      lens[i] = child->len;
    }
    status = peo_node_complete_all(node, object->bytes, object->len, batch, lens, (size_t)n, &visit);
  } else if (complete) {
    Buf *child = slot(objs, complete);
    status = peo_node_complete(node, object->bytes, object->len, child->bytes, child->len, &visit);
  } else {
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(v, "event");
    char *event_text = cJSON_IsNull(event) ? NULL : cJSON_PrintUnformatted(event);
    status = peo_node_visit(node, object->bytes, object->len, event_text, &visit);
    cJSON_free(event_text);
  }
  expect_json(vector, index, expect, "calls", script.calls);

  if (status != PEO_OK) {
    CHECK(visit == NULL);
    /* The error payload every language gives: its code, kind, record, state and field. */
    cJSON *payload = cJSON_Parse(peo_last_error_json());
    CHECK(payload != NULL);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "code")), peo_status_name(status)) == 0);
    cJSON *error = cJSON_CreateObject();
    static const char *const FIELDS[] = {"kind", "code", "record", "state", "field"};
    for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++)
      cJSON_AddItemToObject(error, FIELDS[f], cJSON_DetachItemFromObjectCaseSensitive(payload, FIELDS[f]));
    cJSON_Delete(payload);
    expect_json(vector, index, expect, "error", error);
    expect_json(vector, index, expect, "disposition", cJSON_CreateNull());
    expect_json(vector, index, expect, "appended", cJSON_CreateNumber(0));
    peo_node_free(node);
    return;
  }
  expect_json(vector, index, expect, "error", cJSON_CreateNull());

  char *text = NULL;
  CHECK_OK(peo_visit_disposition_json(visit, &text));
  expect_json(vector, index, expect, "disposition", parse_owned(text));
  size_t appended = 0;
  CHECK_OK(peo_visit_appended(visit, &appended));
  expect_json(vector, index, expect, "appended", cJSON_CreateNumber((double)appended));
  CHECK_OK(peo_visit_records_json(visit, &text));
  expect_json(vector, index, expect, "records", parse_owned(text));

  PeoObject *after = NULL;
  CHECK_OK(peo_visit_object(visit, &after));
  PeoObjectStatus object_status;
  CHECK_OK(peo_object_status(after, &object_status));
  expect_json(vector, index, expect, "status", cJSON_CreateString(peo_object_status_name(object_status)));
  CHECK_OK(peo_object_state(after, &text));
  expect_json(vector, index, expect, "state", cJSON_CreateString(text));
  peo_string_free(text);
  CHECK_OK(peo_object_data_json(after, &text));
  expect_json(vector, index, expect, "data", parse_owned(text));
  CHECK_OK(peo_object_variables_json(after, &text));
  expect_json(vector, index, expect, "variables", parse_owned(text));
  CHECK_OK(peo_object_head(after, &text));
  expect_json(vector, index, expect, "head", cJSON_CreateString(text));
  peo_string_free(text);
  peo_object_free(after);

  const unsigned char *bytes = NULL;
  size_t len = 0;
  char hash[65];
  CHECK_OK(peo_visit_bytes(visit, &bytes, &len));
  sha256_hex(bytes, len, hash);
  expect_json(vector, index, expect, "object_sha256", cJSON_CreateString(hash));
  set_buf(object, bytes, len);

  size_t n_children = 0;
  CHECK_OK(peo_visit_child_count(visit, &n_children));
  cJSON *children = cJSON_CreateArray();
  for (size_t i = 0; i < n_children; i++) {
    CHECK_OK(peo_visit_child_bytes(visit, i, &bytes, &len));
    sha256_hex(bytes, len, hash);
    cJSON_AddItemToArray(children, cJSON_CreateString(hash));
    CHECK(objs->n_children < 64);
    Buf *child = &objs->children[objs->n_children++];
    child->bytes = NULL;
    set_buf(child, bytes, len);
  }
  expect_json(vector, index, expect, "children", children);
  peo_visit_free(visit);
  peo_node_free(node);
}

/* Each pruned-record proof of a vector is made again from its archive (the same JSON),
 * holds against the final object, and fails as PEO_INTEGRITY naming `proof` once the
 * last digit of its record hash changes. Returns how many proofs were checked. */
static int check_pruned_proofs(const char *dir, const char *name, const cJSON *vector, const unsigned char *final_bytes,
                               size_t final_len) {
  if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(vector, "pruned_proofs")) == 0) return 0;
  char path[4096];
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(vector, "archive");
  int n = cJSON_GetArraySize(files);
  unsigned char **segments = calloc(n > 0 ? (size_t)n : 1, sizeof *segments);
  size_t *lens = calloc(n > 0 ? (size_t)n : 1, sizeof *lens);
  CHECK(segments != NULL && lens != NULL);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetStringValue(cJSON_GetArrayItem(files, i)));
    segments[i] = read_file(path, &lens[i]);
  }
  PeoObject *object = NULL;
  CHECK_OK(peo_object_from_bytes(final_bytes, final_len, &object));
  int count = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(vector, "pruned_proofs")) {
    uint32_t seq = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "seq"));
    char *made = NULL;
    CHECK_OK(peo_object_prove_pruned(object, (const uint8_t *const *)segments, lens, (size_t)n, seq, &made));
    cJSON *proof = cJSON_Parse(made);
    if (!cJSON_Compare(proof, cJSON_GetObjectItemCaseSensitive(p, "proof"), 1)) {
      fprintf(stderr, "vector %s: the proof of record %u differs: %s\n", name, seq, made);
      exit(1);
    }
    CHECK_OK(peo_object_check_pruned(object, made));
    char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(proof, "record_hash"));
    CHECK(hash != NULL && strlen(hash) == 64);
    hash[63] = hash[63] == '0' ? '1' : '0';
    char *tampered = cJSON_PrintUnformatted(proof);
    CHECK(peo_object_check_pruned(object, tampered) == PEO_INTEGRITY);
    CHECK(strstr(peo_last_error_json(), "\"field\":\"proof\"") != NULL);
    free(tampered);
    cJSON_Delete(proof);
    peo_string_free(made);
    count++;
  }
  peo_object_free(object);
  for (int i = 0; i < n; i++) free(segments[i]);
  free(segments);
  free(lens);
  return count;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <tests/vectors directory>\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  char path[4096];
  size_t len = 0;
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  char *text = (char *)read_file(path, &len);
  cJSON *manifest = cJSON_Parse(text);
  free(text);
  CHECK(manifest != NULL);
  CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(manifest, "format")) == 1);

  int vectors = 0, visits = 0, listed = 0, proofs = 0;
  const cJSON *vector;
  cJSON_ArrayForEach(vector, cJSON_GetObjectItemCaseSensitive(manifest, "vectors")) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vector, "name"));
    listed += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(vector, "visits"));
    Objects objs = {0};
    snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vector, "object")));
    objs.parent.bytes = read_file(path, &objs.parent.len);
    const cJSON *extra;
    cJSON_ArrayForEach(extra, cJSON_GetObjectItemCaseSensitive(vector, "extra_objects")) {
      CHECK(objs.n_extras < 8 && strlen(extra->string) < sizeof objs.extra_names[0]);
      snprintf(objs.extra_names[objs.n_extras], sizeof objs.extra_names[0], "%s", extra->string);
      snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetStringValue(extra));
      objs.extras[objs.n_extras].bytes = read_file(path, &objs.extras[objs.n_extras].len);
      objs.n_extras++;
    }

    int index = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(vector, "visits")) {
      run_visit(name, index++, v, &objs);
      visits++;
    }
    /* The object after the last visit is byte-identical to the committed final object. */
    snprintf(path, sizeof path, "%s/%s", dir,
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vector, "final_object")));
    unsigned char *final_bytes = read_file(path, &len);
    if (len != objs.parent.len || memcmp(final_bytes, objs.parent.bytes, len) != 0) {
      fprintf(stderr, "vector %s: the object after the last visit differs from %s\n", name, path);
      return 1;
    }
    proofs += check_pruned_proofs(dir, name, vector, final_bytes, len);
    free(final_bytes);
    free(objs.parent.bytes);
    for (int i = 0; i < objs.n_children; i++) free(objs.children[i].bytes);
    for (int i = 0; i < objs.n_extras; i++) free(objs.extras[i].bytes);
    vectors++;
  }
  cJSON_Delete(manifest);
  if (vectors == 0 || visits != listed) {
    fprintf(stderr, "vectors: ran %d of %d visits: an entry was skipped\n", visits, listed);
    return 1;
  }
  if (proofs == 0) {
    fprintf(stderr, "vectors: no pruned-record proof was checked\n");
    return 1;
  }
  printf("vectors (C): %d vectors, %d visits, all byte-identical to Rust; %d pruned-record proofs\n", vectors, visits,
         proofs);
  return 0;
}
