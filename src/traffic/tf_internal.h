/*
 * tf_internal.h - constants shared by the traffic writer and reader (not a
 * public header; other stages include traffic/traffic.h). Stage: traffic.
 * Reference: schemas/traffic.md.
 */
#ifndef SC_TRAFFIC_TF_INTERNAL_H
#define SC_TRAFFIC_TF_INTERNAL_H

/* File preamble (never compressed): "SHDW", version byte, flags byte, two
 * reserved zero bytes. */
#define SC_TF_MAGIC "SHDW"
#define SC_TF_PREAMBLE_LEN 8
#define SC_TF_FLAG_ZSTD 0x01u
/* Frame prefix: u32 BE payload length, u32 BE CRC-32 (IEEE, zlib) of payload. */
#define SC_TF_FRAME_PREFIX 8
/* Writer: flush the zstd stream every this many exchanges / input bytes so a
 * killed writer leaves a readable prefix. */
#define SC_TF_FLUSH_EVERY_N 256
#define SC_TF_FLUSH_EVERY_BYTES (1u << 20)
#define SC_TF_ZSTD_LEVEL 1
/* Reader: largest zstd window accepted (2^24 = 16 MiB). */
#define SC_TF_ZSTD_WINDOW_LOG_MAX 24
/* Reader: cap on header lines per message read from a file. */
#define SC_TF_MAX_HEADERS_READ 65536

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* The n-byte (n <= 8) big-endian number at p: frame prefixes and msgpack
 * lengths. */
static inline uint64_t sc_tf_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* mp_decode.c: decodes exactly one msgpack object filling p[0..n) into out
 * (containers allocated in z; strings, binaries and extensions point into
 * p), the same tree msgpack_unpack() gives. Returns 0, SC_TF_MP_CORRUPT
 * with *why set, or SC_TF_MP_NOMEM. */
#define SC_TF_MP_CORRUPT (-1)
#define SC_TF_MP_NOMEM (-2)
int sc_tf_mp_decode(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out, const char **why);
/* Whether two trees are the same (floats compared bit for bit); for tests
 * and the fuzz target, which hold the decoder to msgpack-c's. */
int sc_tf_mp_same(const msgpack_object *a, const msgpack_object *b);

#endif
