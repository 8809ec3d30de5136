/* c-pack: a C node (domain `warehouse`) serving `warehouse.pack` on a JetStream mesh.
 * Build: cc c_node.c -I../../include -L../../target/release -lpeo -o c_node
 * Usage: c_node NATS_URL KEY_FILE TRUST_JSON */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peo.h"

static volatile sig_atomic_t stopping = 0;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static bool should_stop(void *user_data) {
  (void)user_data;
  return stopping != 0;
}

static void pack(void *user_data, const PeoCall *call, PeoTaskResult *result) {
  (void)user_data;
  /* call->input_json is the branch's input (the order); a real packer would parse it. */
  char out[256];
  snprintf(out, sizeof out, "{\"parcel\": \"P-%.8s\", \"language\": \"c\"}", call->idempotency_key);
  peo_task_result_set_output(result, out);
}

static int fail(const char *what) {
  fprintf(stderr, "c-pack: %s: %s (%s)\n", what, peo_status_name(peo_last_error()), peo_last_error_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s NATS_URL KEY_FILE TRUST_JSON\n", argv[0]);
    return 2;
  }
  char hex[65] = {0};
  FILE *f = fopen(argv[2], "r");
  if (!f || fscanf(f, "%64s", hex) != 1) {
    fprintf(stderr, "c-pack: cannot read the key %s\n", argv[2]);
    return 1;
  }
  fclose(f);
  uint8_t seed[32];
  for (int i = 0; i < 32; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) return fail("the key is not hex");
    seed[i] = (uint8_t)b;
  }
  PeoSigningKey *key = NULL;
  PeoNode *node = NULL;
  if (peo_signing_key_from_bytes(seed, sizeof seed, &key) != PEO_OK) return fail("key");
  if (peo_node_new("c-pack", "warehouse", &node) != PEO_OK) return fail("node");
  if (peo_node_set_key(node, key) != PEO_OK) return fail("key");
  /* The trust store all the nodes share: each key may sign only as its own node. */
  static char trust[8192];
  FILE *t = fopen(argv[3], "r");
  size_t n = t ? fread(trust, 1, sizeof trust - 1, t) : 0;
  if (t) fclose(t);
  if (n == 0) {
    fprintf(stderr, "c-pack: cannot read the trust store %s\n", argv[3]);
    return 1;
  }
  trust[n] = '\0';
  if (peo_node_set_trust(node, trust) != PEO_OK) return fail("trust");
  peo_signing_key_free(key);
  if (peo_node_add_handler(node, "warehouse.pack", pack, NULL) != PEO_OK) return fail("handler");

  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  PeoServeOptions options = {0};
  options.should_stop = should_stop;
  printf("c-pack: serving warehouse.pack on %s\n", argv[1]);
  fflush(stdout);
  char *stats = NULL;
  if (peo_node_serve(node, argv[1], &options, &stats) != PEO_OK) return fail("serve");
  printf("c-pack: stopped %s\n", stats);
  peo_string_free(stats);
  peo_node_free(node);
  return 0;
}
