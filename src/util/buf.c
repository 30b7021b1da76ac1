/*
 * buf.c - capped owned buffers and slices. Stage: util. See buf.h.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char empty_str[1] = "";

int sc_slice_eq(struct sc_slice a, const char *lit) {
  size_t n = strlen(lit);
  return a.n == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

int sc_slice_case_eq(struct sc_slice a, const char *lit) {
  size_t n = strlen(lit);
  return a.n == n && (n == 0 || strncasecmp(a.p, lit, n) == 0);
}

void sc_buf_init(struct sc_buf *b, size_t max) {
  b->p = empty_str;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void sc_buf_release(struct sc_buf *b) {
  if (b->cap) free(b->p);
  b->p = empty_str;
  b->len = 0;
  b->cap = 0;
}

int sc_buf_grow(struct sc_buf *b, size_t n) {
  if (n > b->max || b->len > b->max - n) return SC_ETOOBIG;
  size_t need = b->len + n + 1;
  if (need <= b->cap) return SC_OK;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) { ncap = need; break; }
    ncap *= 2;
  }
  if (ncap > b->max + 1) ncap = b->max + 1;
  if (ncap < need) ncap = need;
  char *np = b->cap ? realloc(b->p, ncap) : malloc(ncap);
  if (!np) return SC_ENOMEM;
  if (!b->cap) np[0] = '\0';
  b->p = np;
  b->cap = ncap;
  return SC_OK;
}

int sc_buf_puts(struct sc_buf *b, const char *s) { return sc_buf_append(b, s, strlen(s)); }


int sc_buf_printf(struct sc_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return SC_EINVAL;
  if ((size_t)n < sizeof tmp) return sc_buf_append(b, tmp, (size_t)n);
  int rc = sc_buf_reserve(b, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SC_OK;
}

void sc_buf_consume(struct sc_buf *b, size_t n) {
  if (n >= b->len) { sc_buf_reset(b); return; }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
  b->p[b->len] = '\0';
}

char *sc_buf_take(struct sc_buf *b, size_t *n) {
  char *out;
  if (b->cap) {
    out = b->p;
  } else {
    out = malloc(1);
    if (!out) return NULL;
    out[0] = '\0';
  }
  if (n) *n = b->len;
  b->p = empty_str;
  b->len = 0;
  b->cap = 0;
  return out;
}

char *sc_memdup0(const void *p, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, p, n);
  d[n] = '\0';
  return d;
}
