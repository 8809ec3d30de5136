/* What the C benchmarks share: a status check, a fixed clock, a monotonic time in
 * seconds, a comparison of doubles for qsort, and the object and node every benchmark
 * starts from. Include it first. */
#ifndef PEO_BENCH_H
#define PEO_BENCH_H

#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peo.h"

#define CHECK_OK(expr)                                                                    \
  do {                                                                                    \
    peo_status s_ = (expr);                                                               \
    if (s_ != PEO_OK) {                                                                   \
      fprintf(stderr, "%s: %s: %s\n", #expr, peo_status_name(s_), peo_last_error_message()); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

/* A clock that always reads the int64_t its user data points at. */
static int64_t fixed_clock(void *user_data) { return *(const int64_t *)user_data; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The bytes of a new object of `plan` with `input_json` created at *t0, and a node
 * trusting any key, on a clock fixed at *t0 (which must outlive it), with `handler` for
 * `capability`. Free them with peo_bytes_free and peo_node_free. */
static PeoNode *bench_setup(const char *plan, const char *input_json, const char *capability, PeoHandler handler,
                            int64_t *t0, uint8_t **bytes, size_t *len) {
  PeoCreateOptions options = {0};
  options.now_ms = *t0;
  PeoObject *object = NULL;
  CHECK_OK(peo_object_create(plan, NULL, input_json, &options, &object));
  CHECK_OK(peo_object_to_bytes(object, bytes, len));
  peo_object_free(object);
  PeoNode *node = NULL;
  CHECK_OK(peo_node_new("bench", "local", &node));
  CHECK_OK(peo_node_set_trust(node, "\"any\""));
  CHECK_OK(peo_node_set_clock(node, fixed_clock, t0));
  CHECK_OK(peo_node_add_handler(node, capability, handler, NULL));
  return node;
}

#endif
