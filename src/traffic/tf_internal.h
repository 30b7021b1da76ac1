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

#endif
