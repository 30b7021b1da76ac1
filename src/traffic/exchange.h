/*
 * exchange.h - struct sc_exchange, the record of the traffic file: one
 * recorded HTTP/1.1 request with its recorded response, from one TCP
 * connection, with timestamps. Layout on disk: schemas/traffic.md.
 *
 * Ownership: every pointer inside an sc_exchange is owned by it (heap,
 * NUL-terminated for convenience even for bodies) and freed by
 * sc_exchange_release(). Each is its own allocation, except in a message
 * whose `arena` is set (see struct sc_http_msg). A zeroed struct is a valid
 * empty exchange.
 * Capture builds exchanges (copying captured bytes exactly once), the traffic
 * writer serialises them, the reader fills them, replay consumes them.
 */
#ifndef SC_TRAFFIC_EXCHANGE_H
#define SC_TRAFFIC_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

/* A header line as recorded: original case and order. */
struct sc_hdr {
  char *name;
  size_t name_len;
  char *value;
  size_t value_len;
};

struct sc_http_msg {
  /* request only */
  char *method;          /* "POST" */
  char *target;          /* request-target as sent: "/v1/score?x=1" */
  /* response only */
  int status;            /* 200; 0 when the response is missing */
  char *reason;          /* "OK" */
  /* both */
  uint8_t version_major; /* 1 */
  uint8_t version_minor; /* 1 */
  struct sc_hdr *headers;
  size_t n_headers;
  uint8_t *body;         /* decoded body (chunked framing removed; content
                            encoding kept as sent), at most --max-body bytes */
  size_t body_len;
  uint64_t body_wire_len;/* full body length seen (>= body_len when truncated) */
  /* NULL: every pointer above is its own allocation. Otherwise one heap block
   * of arena_cap bytes holding headers[] and the bytes of method, target,
   * reason and every header name and value, freed as a whole (capture and
   * the traffic file reader build messages this way: one allocation instead
   * of one per string). body is its own allocation unless it points inside
   * the block (the traffic file reader puts it there). Call
   * sc_http_msg_unshare() before replacing or freeing any of those pointers. */
  void *arena;
  size_t arena_cap;      /* bytes in arena; 0 when unknown (never reused) */
};

enum sc_exchange_flag {
  SC_XF_RESPONSE_MISSING = 1u << 0,  /* request seen, no response before close/end */
  SC_XF_REQ_TRUNCATED    = 1u << 1,  /* request body cut at --max-body */
  SC_XF_RESP_TRUNCATED   = 1u << 2,  /* response body cut at --max-body */
  SC_XF_STREAM_GAP       = 1u << 3,  /* bytes missing in the TCP stream (lost segment) */
  SC_XF_REQ_CHUNKED      = 1u << 4,  /* request body was chunked (decoded) */
  SC_XF_RESP_CHUNKED     = 1u << 5,  /* response body was chunked (decoded) */
  SC_XF_RESP_ENCODED     = 1u << 6,  /* response has a Content-Encoding (body kept encoded) */
  SC_XF_INTERIM_1XX      = 1u << 7,  /* one or more 1xx responses preceded the final one */
  SC_XF_MIDSTREAM        = 1u << 8,  /* connection picked up mid-stream (resynchronised) */
  SC_XF_CLOSE_DELIMITED  = 1u << 9,  /* response body ended by connection close */
  SC_XF_REDACTED         = 1u << 10, /* a header or JSON field was redacted */
};

/* Connection 4-tuple; the client is the side that sent the request. */
struct sc_conn_info {
  uint8_t family;        /* 4 or 6 */
  uint8_t client_addr[16]; /* IPv4 uses the first 4 bytes */
  uint8_t server_addr[16];
  uint16_t client_port;
  uint16_t server_port;
  uint64_t conn_id;      /* per-capture connection number, from 1 */
};

struct sc_exchange {
  uint64_t id;           /* per-file sequence number, from 1 */
  struct sc_conn_info conn;
  struct sc_http_msg req;
  struct sc_http_msg resp;
  /* ns since the Unix epoch (capture timestamps); 0 when unknown */
  uint64_t t_req_first, t_req_last, t_resp_first, t_resp_last;
  uint32_t flags;        /* enum sc_exchange_flag */
};

/* Frees everything x holds and zeroes it. */
void sc_exchange_release(struct sc_exchange *x);

/* Frees everything m owns (its arena, or each string and the header array,
 * and the body) and zeroes it. */
void sc_http_msg_release(struct sc_http_msg *m);

/* Empties m like sc_http_msg_release() but keeps its arena block (arena and
 * arena_cap stay, every other field is zeroed) for the traffic file reader
 * to fill again: reading a file then costs no allocation per message once
 * the block is large enough. The block is freed when it exceeds keep_max
 * bytes. Only the reader may fill a kept block; anyone else sees a message
 * with arena set and no fields, which sc_http_msg_release() frees. */
void sc_http_msg_clear(struct sc_http_msg *m, size_t keep_max);
/* sc_http_msg_clear on both messages, every other field zeroed. */
void sc_exchange_clear(struct sc_exchange *x, size_t keep_max);

/* Whether m->body lives inside m->arena (then it is not freed on its own). */
int sc_http_msg_body_in_arena(const struct sc_http_msg *m);

/* Replaces m->body with b (n bytes; b owned by m from now on), freeing the
 * old body when it was its own allocation. */
void sc_http_msg_set_body(struct sc_http_msg *m, uint8_t *b, size_t n);

/* Gives method, target, reason, headers[], each header name and value and
 * the body their own allocation when they live in m->arena (then zeroed and freed, so
 * no copy of a header value is left in freed memory); no-op otherwise.
 * Returns 0, or SC_ENOMEM with m unchanged. */
int sc_http_msg_unshare(struct sc_http_msg *m);

/* Case-insensitive header lookup; returns the first match or NULL. */
const struct sc_hdr *sc_http_msg_header(const struct sc_http_msg *m, const char *name);

/* Recorded latency: response last byte - request last byte (ns), 0 if unknown. */
uint64_t sc_exchange_latency_ns(const struct sc_exchange *x);

#endif
