/*
 * rd.h - bounds-checked packet reader (tcpdump GET_BE_U_n / nd_uintN_t).
 * Stage: capture. Every L2-L4 byte is read through struct sc_rd: reads are
 * length-checked, alignment- and byte-order-safe, and a read past the end
 * returns 0 and sets the sticky `short_read` flag instead of reading.
 * Never cast packet bytes to a struct.
 */
#ifndef SC_CAPTURE_RD_H
#define SC_CAPTURE_RD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sc_rd {
  const uint8_t *p;   /* next byte */
  const uint8_t *end; /* one past the last readable byte */
  int short_read;     /* sticky: a read wanted more bytes than were left */
};

static inline void sc_rd_init(struct sc_rd *r, const uint8_t *p, size_t n) {
  r->p = p;
  r->end = p + n;
  r->short_read = 0;
}

static inline size_t sc_rd_left(const struct sc_rd *r) { return (size_t)(r->end - r->p); }

/* 1 when n more bytes are readable; otherwise sets short_read and returns 0.
 * A short read also empties the window (end = p), so that every later read
 * fails on the length test alone: the per-byte path tests one condition. */
static inline int sc_rd_need(struct sc_rd *r, size_t n) {
  if (sc_rd_left(r) < n) {
    r->short_read = 1;
    r->end = r->p;
    return 0;
  }
  return 1;
}

static inline uint8_t sc_rd_u8(struct sc_rd *r) {
  if (!sc_rd_need(r, 1)) return 0;
  return *r->p++;
}

static inline uint16_t sc_rd_be16(struct sc_rd *r) {
  if (!sc_rd_need(r, 2)) return 0;
  uint16_t v = (uint16_t)((uint16_t)r->p[0] << 8 | r->p[1]);
  r->p += 2;
  return v;
}

static inline uint16_t sc_rd_le16(struct sc_rd *r) {
  if (!sc_rd_need(r, 2)) return 0;
  uint16_t v = (uint16_t)((uint16_t)r->p[1] << 8 | r->p[0]);
  r->p += 2;
  return v;
}

static inline uint32_t sc_rd_be32(struct sc_rd *r) {
  if (!sc_rd_need(r, 4)) return 0;
  uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
  r->p += 4;
  return v;
}

static inline uint32_t sc_rd_le32(struct sc_rd *r) {
  if (!sc_rd_need(r, 4)) return 0;
  uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
  r->p += 4;
  return v;
}

/* Copies n bytes into out (zero-filled on a short read). */
static inline void sc_rd_bytes(struct sc_rd *r, uint8_t *out, size_t n) {
  if (!sc_rd_need(r, n)) {
    for (size_t i = 0; i < n; i++) out[i] = 0;
    return;
  }
  memcpy(out, r->p, n);
  r->p += n;
}

static inline void sc_rd_skip(struct sc_rd *r, size_t n) {
  if (!sc_rd_need(r, n)) return;
  r->p += n;
}

/* Limits the readable window to n bytes from the cursor (when n is smaller
 * than what is left; e.g. trims Ethernet padding after an IP total length). */
static inline void sc_rd_limit(struct sc_rd *r, size_t n) {
  if (n < sc_rd_left(r)) r->end = r->p + n;
}

#endif
