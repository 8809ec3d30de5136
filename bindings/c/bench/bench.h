/* What the C benchmarks share: a status check, a fixed clock, a monotonic time in
 * seconds, and a comparison of doubles for qsort. Include it first. */
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

#endif
