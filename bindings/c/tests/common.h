/* Helpers shared by the C test programs. */
#ifndef PEO_TEST_COMMON_H
#define PEO_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "peo.h"

/* Fails the program with the location, the status and the library's message. */
#define CHECK_OK(expr)                                                                   \
  do {                                                                                   \
    peo_status check_status_ = (expr);                                                   \
    if (check_status_ != PEO_OK) {                                                       \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,                \
              peo_status_name(check_status_), peo_last_error_message());                 \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

/* Reads a whole file (NUL-terminated too, for text); exits on failure. */
static inline unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)size + 1);
  CHECK(buf != NULL);
  CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
  buf[size] = 0;
  fclose(f);
  *len = (size_t)size;
  return buf;
}

/* Hex digits to bytes; returns the number of bytes or -1. */
static inline int hex_decode(const char *hex, unsigned char *out, size_t cap) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) return -1;
    out[i] = (unsigned char)b;
  }
  return (int)(n / 2);
}

/* SHA-256 of bytes as 64 hex digits (OpenSSL). */
static inline void sha256_hex(const unsigned char *bytes, size_t len, char out[65]) {
  unsigned char digest[32];
  unsigned int n = 0;
  CHECK(EVP_Digest(bytes, len, digest, &n, EVP_sha256(), NULL) == 1 && n == 32);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", digest[i]);
  out[64] = 0;
}

#endif
