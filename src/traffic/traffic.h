/*
 * traffic.h - the traffic file (.shdw): writer and streaming reader.
 * Format: schemas/traffic.md (the single source of truth).
 *
 * The writer streams (never buffers a whole file), zstd-compressed by default.
 * The reader never loads a whole file; on a truncated tail or a corrupt record
 * it returns SC_ETRUNC / SC_ECORRUPT with the message
 *   "N exchanges read; FILE corrupt at byte X: reason"
 * after having returned every good exchange before it. Unknown keys are
 * ignored (forward compatible).
 */
#ifndef SC_TRAFFIC_TRAFFIC_H
#define SC_TRAFFIC_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

#include "traffic/exchange.h"
#include "util/err.h"

#define SC_TF_VERSION 1

/* File header (first frame). Strings owned by the struct when filled by the
 * reader (sc_tf_header_release); borrowed when passed to the writer. */
struct sc_tf_header {
  uint32_t version;       /* SC_TF_VERSION */
  uint64_t created_ns;    /* ns since epoch */
  char *source_kind;      /* "file", "iface", "synthetic" */
  char *source;           /* "prod.pcap" or "eth0" */
  char *filter;           /* BPF filter or NULL */
  char *host;             /* hostname of the capturing machine */
  char **redactions;      /* e.g. "header:Authorization", "json:$.card.number" */
  uint32_t n_redactions;
  char *tool;             /* "shadowctl 0.1.0" */
};

/* Capture statistics, written as the trailer frame on clean close. Replay
 * carries them into the run (capture loss). */
struct sc_tf_stats {
  uint64_t packets, bytes, connections, exchanges;
  uint64_t unpaired_requests, unpaired_responses;
  uint64_t kernel_drops, iface_drops;
  uint64_t stream_gaps, truncated_bodies, parse_errors;
  uint64_t non_http_flows, ip_fragments, mem_evictions, idle_evictions;
  uint64_t first_ts_ns, last_ts_ns;   /* capture window */
};

struct sc_tf_writer;

/* Opens path for writing ("-" = stdout), mode 0600, writes the header frame.
 * compress: 1 zstd, 0 plain. On success *out is set; free with
 * sc_tf_writer_close(). */
int sc_tf_writer_open(struct sc_tf_writer **out, const char *path,
                      const struct sc_tf_header *h, int compress,
                      struct sc_error *err) SC_MUST_CHECK;
/* Appends one exchange (x is borrowed). */
int sc_tf_writer_append(struct sc_tf_writer *w, const struct sc_exchange *x,
                        struct sc_error *err) SC_MUST_CHECK;
/* Makes everything appended so far readable from the file (flushes the zstd
 * frame and stdio). Called periodically so a crash loses little. */
int sc_tf_writer_flush(struct sc_tf_writer *w, struct sc_error *err) SC_MUST_CHECK;
/* Writes the trailer (stats may be NULL), flushes, closes and frees w (always,
 * even on error). */
int sc_tf_writer_close(struct sc_tf_writer *w, const struct sc_tf_stats *stats,
                       struct sc_error *err) SC_MUST_CHECK;

struct sc_tf_reader;

/* Opens path ("-" = stdin) and reads the header. Errors name the file:
 * "cannot open traffic file 'x.shdw': ...", "'x' is not a shadowctl traffic
 * file (bad magic)". Free with sc_tf_reader_close(). */
int sc_tf_reader_open(struct sc_tf_reader **out, const char *path,
                      struct sc_error *err) SC_MUST_CHECK;
/* Same, reading from memory (data borrowed until close; name used in
 * messages). For fuzzing and tests. */
int sc_tf_reader_open_mem(struct sc_tf_reader **out, const void *data, size_t len,
                          const char *name, struct sc_error *err) SC_MUST_CHECK;
/* From now on, the response of each exchange read carries only its status,
 * version and body_wire_len: its reason, headers and body are skipped, not
 * decoded or copied (replay sends requests and needs nothing more of the
 * recorded answer; two allocations per exchange saved). */
void sc_tf_reader_skip_response_payload(struct sc_tf_reader *r, int on);
const struct sc_tf_header *sc_tf_reader_header(const struct sc_tf_reader *r);
/* 1 when the file is zstd-compressed (error offsets are then decompressed
 * offsets), 0 when plain (offsets are file offsets). */
int sc_tf_reader_compressed(const struct sc_tf_reader *r);
/* Reads the next exchange into x (released and refilled by the call).
 * Returns 1 with an exchange, 0 at a clean end of file (the trailer was read),
 * or a negative
 * sc_err (SC_ETRUNC, SC_ECORRUPT, SC_EIO, SC_ENOMEM) with err set. After an
 * error, further calls return the same error. A file without a trailer (an
 * interrupted capture) ends with SC_ETRUNC "no trailer record" after its last
 * whole exchange: callers that accept partial files treat SC_ETRUNC as the end
 * (every whole exchange has been returned). */
int sc_tf_reader_next(struct sc_tf_reader *r, struct sc_exchange *x,
                      struct sc_error *err) SC_MUST_CHECK;
/* The trailer's stats once the reader has passed it (NULL before, or if the
 * file has none: an interrupted capture). */
const struct sc_tf_stats *sc_tf_reader_stats(const struct sc_tf_reader *r);
/* Exchanges returned so far; byte offset in the (decompressed) stream. */
uint64_t sc_tf_reader_count(const struct sc_tf_reader *r);
uint64_t sc_tf_reader_offset(const struct sc_tf_reader *r);
/* Share of the file's bytes read so far (0..1; reads run ahead by up to one
 * 64 KiB chunk), or -1 when the size is unknown (standard input, a pipe). */
double sc_tf_reader_progress(const struct sc_tf_reader *r);
void sc_tf_reader_close(struct sc_tf_reader *r);

void sc_tf_header_release(struct sc_tf_header *h);

#endif
