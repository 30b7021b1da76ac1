/*
 * capture.h - `shadowctl capture` as a library: packets -> decode -> TCP
 * reassembly -> HTTP/1.1 parsing -> request/response pairing -> exchanges.
 * Stage: capture. The CLI (src/cli/cmd_capture.c) opens the output, calls
 * these, and prints; nothing here prints or exits.
 *
 *   struct sc_capture_engine: the packet pipeline alone (used by tests and
 *   fuzz targets with synthetic packets).
 *   struct sc_capture: engine + packet source + limits (duration,
 *   max exchanges, stop flag), driven by sc_capture_loop().
 */
#ifndef SC_CAPTURE_CAPTURE_H
#define SC_CAPTURE_CAPTURE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "traffic/exchange.h"
#include "traffic/traffic.h"
#include "util/err.h"

/* Called for each complete exchange, in completion order, with x->id set.
 * The callee takes ownership of x's contents (release them). Return 0 or a
 * negative sc_err with err set (capture then stops with that error). */
struct sc_capture_sink {
  int (*on_exchange)(void *ud, struct sc_exchange *x, struct sc_error *err);
  void *ud;
};

struct sc_capture_engine_cfg {
  int dlt;                 /* pcap link type of the packets */
  size_t max_body;         /* 0 = SC_DEFAULT_MAX_BODY */
  double sample_pct;       /* keep this % of connections (by 4-tuple hash); 0 or 100 = all */
  uint16_t port;           /* server port hint (or 0) */
  size_t stream_cap;       /* 0 = SC_MAX_STREAM_BUFFER */
  uint64_t mem_cap;        /* 0 = SC_DEFAULT_REASM_MEMORY */
  double idle_timeout_s;   /* 0 = SC_DEFAULT_IDLE_TIMEOUT_S; < 0 never */
};

/* Everything counted, for --stats-json and the summary. */
struct sc_capture_stats {
  struct sc_tf_stats tf;   /* the traffic file trailer */
  uint64_t not_ip, not_tcp, truncated_packets, invalid_packets;
  uint64_t retransmits, overlaps, ooo_segments, gap_bytes, midstream, rst;
  uint64_t interim, dropped_messages, resyncs, upgraded, sampled_out;
  uint64_t ooo_bytes_peak;
};

struct sc_capture_engine;

int sc_capture_engine_new(struct sc_capture_engine **out, const struct sc_capture_engine_cfg *cfg,
                          const struct sc_capture_sink *sink, struct sc_error *err) SC_MUST_CHECK;
/* One packet as captured (borrowed). wirelen is the original length. */
int sc_capture_engine_packet(struct sc_capture_engine *e, const uint8_t *p, uint32_t caplen,
                             uint32_t wirelen, uint64_t ts_ns, struct sc_error *err) SC_MUST_CHECK;
/* End of input: closes every connection, emitting what is complete and
 * every request still waiting (response missing). */
int sc_capture_engine_finish(struct sc_capture_engine *e, struct sc_error *err) SC_MUST_CHECK;
void sc_capture_engine_stats(const struct sc_capture_engine *e, struct sc_capture_stats *st);
/* Frees (without emitting). NULL is a no-op. */
void sc_capture_engine_free(struct sc_capture_engine *e);

struct sc_capture_cfg {
  const char *file;          /* -r FILE ("-" stdin) */
  const char *iface;         /* -i IFACE */
  const char *filter;        /* -f BPF */
  uint16_t port;             /* --port: adds "tcp port N" to the filter */
  double duration_s;         /* --duration, 0 = until the end / a signal */
  uint64_t max_exchanges;    /* --max-exchanges, 0 = no limit */
  double sample_pct;         /* --sample */
  size_t max_body;           /* --max-body */
  int buffer_size;           /* --buffer-size (live) */
  size_t stream_cap;
  uint64_t mem_cap;
  double idle_timeout_s;
  volatile sig_atomic_t *stop;  /* set by a signal handler: stop reading */
  /* Called about twice a second (live status line). May be NULL. */
  void (*progress)(void *ud, const struct sc_capture_stats *st);
  void *progress_ud;
};

struct sc_capture;

/* Opens the source (file or interface) and builds the pipeline. Nothing is
 * read yet. Free with sc_capture_close(). */
int sc_capture_open(struct sc_capture **out, const struct sc_capture_cfg *cfg,
                    const struct sc_capture_sink *sink, struct sc_error *err) SC_MUST_CHECK;
/* Reads until the end of the file, the duration, max exchanges or *stop,
 * then finishes the pipeline (every complete exchange is emitted, even after
 * an error such as a truncated file; the error is returned afterwards). */
int sc_capture_loop(struct sc_capture *c, struct sc_error *err) SC_MUST_CHECK;
void sc_capture_get_stats(struct sc_capture *c, struct sc_capture_stats *st);
/* 1 when the loop stopped because of max exchanges / duration / stop flag. */
int sc_capture_stopped_early(const struct sc_capture *c);
void sc_capture_close(struct sc_capture *c);
/* The BPF filter in effect (-f combined with --port), "" when none; owned
 * by c. */
const char *sc_capture_filter(const struct sc_capture *c);
/* Interrupts a blocking read (async-signal-safe). */
void sc_capture_break(struct sc_capture *c);

#endif
