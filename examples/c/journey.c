/* A complete C program: create an order object, visit it at two nodes whose handlers
 * are C functions, print its memory, free everything.
 *
 * Build (from the repository root, after `cargo build --release -p peo-c`):
 *   cc examples/c/journey.c -Iinclude -Ltarget/release -lpeo -Wl,-rpath,$PWD/target/release -o journey
 * or against an installed libpeo (bindings/c/install.sh):
 *   cc examples/c/journey.c $(pkg-config --cflags --libs peo) -o journey
 */
#include <stdio.h>
#include <string.h>

#include <peo.h>

/* Any failure: print the status and the library's message, and stop. */
#define TRY(expr)                                                                                 \
  do {                                                                                            \
    peo_status s_ = (expr);                                                                       \
    if (s_ != PEO_OK) {                                                                           \
      fprintf(stderr, "%s failed: %s: %s\n", #expr, peo_status_name(s_), peo_last_error_message()); \
      return 1;                                                                                   \
    }                                                                                             \
  } while (0)

static const char *PLAN =
    "{\"Comment\": \"reserve stock in the warehouse, then charge the card at the bank\","
    " \"StartAt\": \"Reserve\", \"States\": {"
    "  \"Reserve\": {\"Type\": \"Task\", \"Resource\": \"inventory.reserve\", \"ResultPath\": \"$.reservation\","
    "               \"Next\": \"Charge\"},"
    "  \"Charge\": {\"Type\": \"Task\", \"Resource\": \"payment.charge\", \"ResultPath\": \"$.payment\","
    "              \"End\": true}}}";

/* Handlers get the state's input as JSON and the attempt's idempotency key, and record
 * an output (JSON) or a named error. */
static void reserve(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)user_data;
  printf("  [warehouse] %s(%s) key=%s\n", call->capability, call->input_json, call->idempotency_key);
  peo_task_result_set_output(result, "{\"held\": 2, \"bin\": \"B-17\"}");
}

static void charge(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  const char *currency = user_data;
  printf("  [bank] %s(%s)\n", call->capability, call->input_json);
  if (strstr(call->input_json, "\"held\":2") == NULL) {
    /* A named error: the plan's Retry / Catch can match it. */
    peo_task_result_set_error(result, "Bank.NothingReserved", "the reservation is missing");
    return;
  }
  char output[128];
  snprintf(output, sizeof output, "{\"charged\": 59.8, \"currency\": \"%s\"}", currency);
  peo_task_result_set_output(result, output);
}

static int visit_at(const PeoNode *node, const char *name, const uint8_t *bytes, size_t len, PeoVisit **visit) {
  TRY(peo_node_visit(node, bytes, len, NULL, visit));
  char *disposition = NULL;
  TRY(peo_visit_disposition_json(*visit, &disposition));
  size_t appended = 0;
  TRY(peo_visit_appended(*visit, &appended));
  printf("%s: appended %zu records, then %s\n", name, appended, disposition);
  peo_string_free(disposition);
  return 0;
}

int main(void) {
  printf("libpeo %s\n", peo_version());
  PeoSigningKey *shop = NULL, *warehouse_key = NULL, *bank_key = NULL;
  TRY(peo_signing_key_generate(&shop));
  TRY(peo_signing_key_generate(&warehouse_key));
  TRY(peo_signing_key_generate(&bank_key));

  /* The shop creates the object: the plan, its context, its input, signed. */
  PeoCreateOptions options = {0};
  options.key = shop;
  PeoObject *order = NULL;
  TRY(peo_object_create(PLAN, "{\"labels\": [\"orders\"]}", "{\"order\": 1042, \"sku\": \"tea-1kg\", \"qty\": 2}",
                        &options, &order));
  uint8_t *bytes = NULL;
  size_t len = 0;
  TRY(peo_object_to_bytes(order, &bytes, &len));
  printf("shop: created a %zu-byte object\n", len);

  /* Two nodes, each with its own key, handler and policy. */
  PeoNode *warehouse = NULL, *bank = NULL;
  /* Each node accepts only work signed by the three keys it trusts. */
  uint8_t trusted[3 * 32];
  TRY(peo_signing_key_public_key(shop, trusted));
  TRY(peo_signing_key_public_key(warehouse_key, trusted + 32));
  TRY(peo_signing_key_public_key(bank_key, trusted + 64));
  TRY(peo_node_new("warehouse-1", "logistics", &warehouse));
  TRY(peo_node_set_trusted_keys(warehouse, trusted, 3));
  TRY(peo_node_set_key(warehouse, warehouse_key));
  TRY(peo_node_add_handler(warehouse, "inventory.reserve", reserve, NULL));
  TRY(peo_node_new("bank-1", "payments", &bank));
  TRY(peo_node_set_trusted_keys(bank, trusted, 3));
  TRY(peo_node_set_key(bank, bank_key));
  TRY(peo_node_set_facts(bank, "{\"region\": \"eu\"}"));
  TRY(peo_node_set_policy(bank, "permit(principal, action, resource) when { context.labels.contains(\"orders\") };"));
  TRY(peo_node_add_handler(bank, "payment.charge", charge, (void *)"EUR"));

  /* The warehouse reserves and hands the object on; the bank charges and ends it. */
  PeoVisit *first = NULL, *second = NULL;
  if (visit_at(warehouse, "warehouse", bytes, len, &first)) return 1;
  const uint8_t *handoff = NULL;
  size_t handoff_len = 0;
  TRY(peo_visit_bytes(first, &handoff, &handoff_len));
  if (visit_at(bank, "bank", handoff, handoff_len, &second)) return 1;

  /* The object carries its whole history: verify it, trusting the three keys. */
  PeoObject *done = NULL;
  TRY(peo_visit_object(second, &done));
  TRY(peo_object_verify(done, trusted, 3, NULL));
  size_t records = 0;
  TRY(peo_object_record_count(done, &records));
  printf("memory (%zu records):\n", records);
  for (size_t i = 0; i < records; i++) {
    char *record = NULL;
    TRY(peo_object_record_json(done, i, &record));
    printf("  %s\n", record);
    peo_string_free(record);
  }
  char *data = NULL;
  TRY(peo_object_data_json(done, &data));
  printf("data: %s\n", data);
  printf("verified: every visit signed by a trusted key\n");

  peo_string_free(data);
  peo_object_free(done);
  peo_visit_free(second);
  peo_visit_free(first);
  peo_node_free(bank);
  peo_node_free(warehouse);
  peo_bytes_free(bytes, len);
  peo_object_free(order);
  peo_signing_key_free(shop);
  peo_signing_key_free(warehouse_key);
  peo_signing_key_free(bank_key);
  return 0;
}
