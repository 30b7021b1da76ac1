/*
 * buf.h - owned byte buffers with a hard cap (curl dynbuf, git strbuf), and
 * borrowed slices (picohttpparser phr_header, h2o_iovec_t).
 *
 * Invariants of struct sc_buf:
 *   1. b->p is never NULL after sc_buf_init (it points at a static "" until
 *      the first append), and p[len] == '\0' always.
 *   2. len <= max. An append that would pass max returns SC_ETOOBIG and
 *      leaves the buffer unchanged.
 *   3. sc_buf_take() is the only way to keep the bytes after sc_buf_release().
 */
#ifndef SC_UTIL_BUF_H
#define SC_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"

/* memcpy for short strings on hot paths (header names and values, a few
 * dozen bytes): two overlapping loads and stores of 16, 8 or 4 bytes that
 * stay inside both buffers, instead of a library call; longer copies call
 * memcpy. */
static inline void sc_copy_short(void *dst, const void *src, size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  if (n > 32) {
    memcpy(d, s, n);
  } else if (n >= 16) {
    uint8_t a[16], b[16];
    memcpy(a, s, 16);
    memcpy(b, s + n - 16, 16);
    memcpy(d, a, 16);
    memcpy(d + n - 16, b, 16);
  } else if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else if (n) {
    d[0] = s[0];
    d[n / 2] = s[n / 2];
    d[n - 1] = s[n - 1];
  }
}

/* v as 16 lower-case hex digits and a NUL: "%016llx" without printf (hash
 * keys and body hashes, once per replayed request or answer). */
static inline void sc_fmt_hex64(char out[17], uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, v >>= 4) out[i] = hex[v & 15];
  out[16] = '\0';
}

/* A borrowed view. Lifetime: as stated by whoever returned it. */
struct sc_slice {
  const char *p;
  size_t n;
};

#define SC_SLICE_LIT(s) ((struct sc_slice){(s), sizeof(s) - 1})

int sc_slice_eq(struct sc_slice a, const char *lit);          /* exact */
int sc_slice_case_eq(struct sc_slice a, const char *lit);     /* ASCII case-insensitive */

struct sc_buf {
  char *p;       /* see invariant 1 */
  size_t len;
  size_t cap;    /* allocated bytes (0 while p is the static "") */
  size_t max;    /* hard cap on len */
};

/* Sets up an empty buffer whose length may never exceed max. Release with
 * sc_buf_release(). Never fails. */
void sc_buf_init(struct sc_buf *b, size_t max);
/* Frees what b holds and leaves it empty (reusable, same max). */
void sc_buf_release(struct sc_buf *b);
/* Empties without freeing (inline: parsers reset per message). */
static inline void sc_buf_reset(struct sc_buf *b) {
  b->len = 0;
  if (b->cap) b->p[0] = '\0';
}

/* Grows b for n more bytes (the slow path of sc_buf_reserve). */
int sc_buf_grow(struct sc_buf *b, size_t n) SC_MUST_CHECK;
/* Ensures room for n more bytes (capacity only). Inline: the request builder
 * and the JSON writers of replay call it a few dozen times per exchange,
 * nearly always with room to spare. */
SC_MUST_CHECK static inline int sc_buf_reserve(struct sc_buf *b, size_t n) {
  if (n <= b->max && b->len <= b->max - n && b->len + n < b->cap) return 0;
  return sc_buf_grow(b, n);
}
SC_MUST_CHECK static inline int sc_buf_append(struct sc_buf *b, const void *data, size_t n) {
  int rc = sc_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}
SC_MUST_CHECK static inline int sc_buf_putc(struct sc_buf *b, char c) {
  int rc = sc_buf_reserve(b, 1);
  if (rc) return rc;
  b->p[b->len++] = c;
  b->p[b->len] = '\0';
  return 0;
}
int sc_buf_puts(struct sc_buf *b, const char *s) SC_MUST_CHECK;
int sc_buf_printf(struct sc_buf *b, const char *fmt, ...) SC_PRINTF(2, 3) SC_MUST_CHECK;
/* Drops the first n bytes (n <= len). */
void sc_buf_consume(struct sc_buf *b, size_t n);

/* Transfers ownership of the bytes to the caller (free() them; never NULL,
 * NUL-terminated), *n gets the length; b is left empty. Returns NULL only on
 * allocation failure. */
char *sc_buf_take(struct sc_buf *b, size_t *n);

/* Duplicates n bytes into a fresh NUL-terminated heap string (free()); NULL on
 * allocation failure. */
char *sc_memdup0(const void *p, size_t n);

#endif
