/*
 * http1.h - one direction of an HTTP/1.1 byte stream -> complete messages,
 * on top of http-parser (nodejs/http-parser 2.9). Stage: capture.
 * Reference: RFC 9112 (message syntax and framing), RFC 9110 section 15
 * (1xx interim, 204, 304 without content).
 *
 * The parser allocates only what a message keeps: one arena for method,
 * target, reason and headers, and the body up to max_body (copied once, its
 * announced length reserved up front). Streams picked up mid-connection, or
 * after a parse error or a gap, are resynchronised at the next line that
 * starts like a request line ("GET /x HTTP/1.1") or a status line
 * ("HTTP/1.1 200").
 */
#ifndef SC_CAPTURE_HTTP1_H
#define SC_CAPTURE_HTTP1_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "traffic/exchange.h"
#include "util/buf.h"

/* Per-message flags reported with on_message (subset of enum sc_exchange_flag
 * meaning, from this direction's point of view). */
#define SC_H1_TRUNCATED 0x1u  /* body cut at max_body */
#define SC_H1_CHUNKED   0x2u  /* chunked framing decoded */
#define SC_H1_GAP       0x4u  /* stream gap inside the message (zeros filled) */
#define SC_H1_RESYNCED  0x8u  /* first message after a resynchronisation */
#define SC_H1_CLOSE_DELIM 0x10u /* body ended by the end of the stream */

struct sc_http1;

/* A header line of the message being parsed: offsets into sc_http1.head. */
struct sc_h1_hdr {
  size_t name_off, name_len, value_off, value_len;
};

struct sc_http1_cbs {
  void *ud;
  /* A complete message. *m is handed over: the callee owns its pointers
   * (and must free them, e.g. by moving them into an sc_exchange). */
  void (*on_message)(void *ud, struct sc_http1 *h, struct sc_http_msg *m, uint64_t t_first,
                     uint64_t t_last, unsigned flags);
  /* Responses only: 1 when the response now being parsed answers a HEAD. */
  int (*is_head)(void *ud, struct sc_http1 *h);
};

enum sc_http1_state {
  SC_H1_START = 0,  /* at the start of a stream: the first bytes must be HTTP */
  SC_H1_PARSING,
  SC_H1_RESYNC,     /* looking for the next request/status line */
  SC_H1_DEAD,       /* not HTTP (or upgraded): bytes ignored */
};

struct sc_http1 {
  http_parser p;
  int is_request;
  enum sc_http1_state state;
  size_t max_body;
  struct sc_http1_cbs cbs;
  uint64_t ts;            /* timestamp of the bytes being fed */
  /* message under construction */
  int in_msg, in_body, hdr_done, last_was_value;
  struct sc_http_msg m;
  /* The head's strings, each NUL-terminated, in one buffer kept across
   * messages: the request-target (or reason phrase) first, then header names
   * and values, located by hdrs[]. They become the message's arena (one
   * allocation) when it completes. */
  struct sc_buf head;
  int start_done, in_name, in_value;
  struct sc_h1_hdr *hdrs, cur;
  size_t n_hdrs, hdrs_cap;
  struct sc_buf body;
  struct sc_buf carry;    /* RESYNC: partial line kept across chunks */
  size_t head_bytes;
  uint64_t t_first;
  unsigned flags, pending_flags;
  int prev_nl;            /* last byte fed ended a line (resync) */
  /* counters */
  uint64_t messages, parse_errors, resyncs, dropped, truncated;
  int upgraded;           /* a 101/CONNECT switched the stream away from HTTP */
  int ever_parsed;        /* at least one message completed */
  int started_like_http;  /* the stream began with a request/status line */
};

void sc_http1_init(struct sc_http1 *h, int is_request, size_t max_body,
                   const struct sc_http1_cbs *cbs, int midstream);
void sc_http1_release(struct sc_http1 *h);

/* Feeds in-order stream bytes (borrowed). Returns 0, or SC_ENOMEM. Parse
 * errors are not returned: they are counted (parse_errors), the message in
 * progress is dropped and the stream resynchronises; a stream whose very
 * first bytes are not HTTP becomes SC_H1_DEAD. */
int sc_http1_feed(struct sc_http1 *h, const uint8_t *p, size_t n, uint64_t ts);
/* n bytes are missing from the stream here. */
int sc_http1_gap(struct sc_http1 *h, uint64_t n);
/* End of the stream (FIN, RST, close): completes a close-delimited body; a
 * message still in progress is dropped (counted in `dropped`). */
int sc_http1_eof(struct sc_http1 *h, uint64_t ts);

/* 1 when p[0..n) starts with a request line (is_request) or status line. */
int sc_http1_looks_like_start(const uint8_t *p, size_t n, int is_request);

#endif
