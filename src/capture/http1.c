/*
 * http1.c - HTTP/1.1 stream parsing of one direction with http-parser 2.9,
 * building struct sc_http_msg records. Stage: capture.
 * Reference: RFC 9112 sections 2-7 (message format, framing: Content-Length,
 * chunked, close-delimited), RFC 9110 section 15.2 (1xx), 6.4.1 (no content
 * for HEAD, 1xx, 204, 304).
 *
 * States (enum sc_http1_state):
 *
 *   START ──bytes parse──▶ PARSING ──parse error──▶ RESYNC ──request/status line──▶ PARSING
 *     │ first bytes are not HTTP                ──gap outside a body──▶ RESYNC
 *     ▼                                         ──101 / CONNECT upgrade──▶ DEAD
 *   DEAD (bytes ignored; the flow counts as non-HTTP if nothing was parsed)
 *
 * A connection picked up mid-stream starts in RESYNC. Invariants:
 *   1. Body bytes are copied once, into the message under construction;
 *      head bytes twice: into the parser's head buffer, then into the
 *      message's arena (one allocation for all its strings).
 *   2. A head (request/status line + headers) is at most SC_MAX_HEADER_BYTES
 *      with at most SC_MAX_HEADERS lines, a body keeps at most max_body bytes
 *      (the rest is counted in body_wire_len and flagged).
 *   3. Each feed makes progress: after an error at offset k the scan for the
 *      next start resumes at k+1 at the latest.
 *   4. in_msg == 0 means the message state is reset: only callbacks inside a
 *      message (after cb_begin sets in_msg) change it, and in_msg is cleared
 *      only by the reset (msg_state_reset, after a message completes or is
 *      dropped). cb_begin therefore resets only when in_msg is still set.
 */
#include "capture/http1.h"

#include <stdlib.h>
#include <string.h>

#include "util/limits.h"

#define CARRY_MAX 8192 /* RESYNC carry-over of a partial line */

static int oom_flag; /* set by callbacks on allocation failure (single thread) */

/* Clears the parse state of a message; h->m is the caller's (msg_reset). */
static void msg_state_reset(struct sc_http1 *h) {
  sc_buf_reset(&h->head);
  h->n_hdrs = 0;
  h->start_done = h->in_name = h->in_value = 0;
  if (h->body.cap) sc_buf_release(&h->body); /* else empty: taken or never grown */
  h->in_msg = h->in_body = h->hdr_done = h->last_was_value = 0;
  h->head_bytes = 0;
  h->flags = 0;
}

static void msg_reset(struct sc_http1 *h) {
  /* h->m owns memory only when cb_complete stopped half-way (out of
   * memory); otherwise it holds plain values, cleared in place. */
  if (h->m.arena || h->m.body) sc_http_msg_release(&h->m);
  else memset(&h->m, 0, sizeof h->m);
  msg_state_reset(h);
}

static struct sc_http1 *H(http_parser *p) { return (struct sc_http1 *)p->data; }

/* sc_buf_append without the call when the bytes fit (callbacks append a
 * few bytes at a time; cap <= max + 1, so fitting also respects max). */
static inline int buf_put(struct sc_buf *b, const void *p, size_t n) {
  if (n < b->cap - b->len) {
    sc_copy_short(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
  }
  return sc_buf_append(b, p, n);
}

/* Appends head bytes (the NULs between strings do not count against
 * SC_MAX_HEADER_BYTES; head.max leaves room for them). */
static int head_add(struct sc_http1 *h, const char *at, size_t n) {
  h->head_bytes += n;
  if (h->head_bytes > SC_MAX_HEADER_BYTES) return 1;
  int rc = buf_put(&h->head, at, n);
  if (rc == SC_ENOMEM) oom_flag = 1;
  return rc ? 1 : 0;
}

/* Ends the string at the end of head with its NUL (already there: the
 * buffer keeps one after its bytes). */
static int head_nul(struct sc_http1 *h) {
  struct sc_buf *b = &h->head;
  if (b->cap - b->len > 1) {
    b->p[++b->len] = '\0';
    return 0;
  }
  int rc = sc_buf_append(b, "", 1);
  if (rc == SC_ENOMEM) oom_flag = 1;
  return rc ? 1 : 0;
}

/* Ends the request-target / reason phrase (head starts with it). */
static int start_end(struct sc_http1 *h) {
  if (h->start_done) return 0;
  h->start_done = 1;
  return head_nul(h);
}

/* Starts a header name at the end of head unless one is in progress. */
static int name_begin(struct sc_http1 *h) {
  if (h->in_name) return 0;
  if (start_end(h)) return 1;
  h->in_name = 1;
  h->cur.name_off = h->head.len;
  return 0;
}

/* Ends the header line in progress and records it. The inline path takes a
 * well-formed line when hdrs[] and head have room; push_header_slow the rest
 * (growing hdrs[], the SC_MAX_HEADERS cap, a line without a value). */
static int push_header_slow(struct sc_http1 *h);

static inline int push_header(struct sc_http1 *h) {
  struct sc_buf *b = &h->head;
  if (h->n_hdrs >= h->hdrs_cap || h->n_hdrs >= SC_MAX_HEADERS || !h->in_value || b->cap - b->len <= 1)
    return push_header_slow(h);
  h->cur.value_len = b->len - h->cur.value_off;
  b->p[++b->len] = '\0'; /* head_nul */
  h->hdrs[h->n_hdrs++] = h->cur;
  h->in_name = h->in_value = 0;
  h->last_was_value = 0;
  return 0;
}

static int push_header_slow(struct sc_http1 *h) {
  if (h->n_hdrs >= SC_MAX_HEADERS) return 1;
  if (h->n_hdrs == h->hdrs_cap) {
    size_t nc = h->hdrs_cap ? h->hdrs_cap * 2 : 16;
    struct sc_h1_hdr *nh = realloc(h->hdrs, nc * sizeof *nh);
    if (!nh) {
      oom_flag = 1;
      return 1;
    }
    h->hdrs = nh;
    h->hdrs_cap = nc;
  }
  if (!h->in_value) return 1; /* not reached: a value callback came first */
  h->cur.value_len = h->head.len - h->cur.value_off;
  if (head_nul(h)) return 1;
  h->hdrs[h->n_hdrs++] = h->cur;
  h->in_name = h->in_value = 0;
  h->last_was_value = 0;
  return 0;
}

static int cb_begin(http_parser *p) {
  struct sc_http1 *h = H(p);
  if (h->in_msg) msg_reset(h); /* else already reset (invariant 4) */
  h->in_msg = 1;
  h->t_first = h->ts;
  h->flags = h->pending_flags;
  h->pending_flags = 0;
  return 0;
}

/* The request-target (requests) or reason phrase (responses): always
 * before the first header, so at the start of head. */
static int cb_start(http_parser *p, const char *at, size_t n) {
  struct sc_http1 *h = H(p);
  if (h->start_done) { /* not reached with http-parser: counted, not kept */
    h->head_bytes += n;
    return h->head_bytes > SC_MAX_HEADER_BYTES;
  }
  return head_add(h, at, n);
}

static int cb_hfield(http_parser *p, const char *at, size_t n) {
  struct sc_http1 *h = H(p);
  if (h->last_was_value && push_header(h)) return 1;
  if (name_begin(h)) return 1;
  return head_add(h, at, n);
}

static int cb_hvalue(http_parser *p, const char *at, size_t n) {
  struct sc_http1 *h = H(p);
  h->last_was_value = 1;
  if (!h->in_value) { /* the name ends here */
    if (name_begin(h)) return 1;
    h->cur.name_len = h->head.len - h->cur.name_off;
    if (head_nul(h)) return 1;
    h->in_value = 1;
    h->cur.value_off = h->head.len;
  }
  return head_add(h, at, n);
}

static int cb_headers_complete(http_parser *p) {
  struct sc_http1 *h = H(p);
  if (h->last_was_value && push_header(h)) return -1;
  if (start_end(h)) return -1;
  h->hdr_done = 1;
  h->in_body = 1;
  if (p->flags & F_CHUNKED) h->flags |= SC_H1_CHUNKED;
  /* Reserve the announced body once so it is copied once. */
  sc_buf_init(&h->body, h->max_body);
  if (p->content_length > 0 && p->content_length != UINT64_MAX) {
    size_t want = p->content_length < h->max_body ? (size_t)p->content_length : h->max_body;
    if (sc_buf_reserve(&h->body, want) == SC_ENOMEM) {
      oom_flag = 1;
      return -1;
    }
  }
  if (!h->is_request) {
    /* RFC 9110 6.4.1: 1xx, 204 and 304 never have content, whatever the
     * headers say (http-parser would read a 304's Content-Length). */
    unsigned st = p->status_code;
    if ((st >= 100 && st < 200 && st != 101) || st == 204 || st == 304) return 1;
    if (h->cbs.is_head && h->cbs.is_head(h->cbs.ud, h)) return 1;
  }
  return 0;
}

static int cb_body(http_parser *p, const char *at, size_t n) {
  struct sc_http1 *h = H(p);
  h->m.body_wire_len += n;
  size_t room = h->max_body - h->body.len;
  size_t take = n < room ? n : room;
  if (take && buf_put(&h->body, at, take)) {
    oom_flag = 1;
    return 1;
  }
  if (take < n) h->flags |= SC_H1_TRUNCATED;
  return 0;
}

static int cb_complete(http_parser *p) {
  struct sc_http1 *h = H(p);
  struct sc_http_msg *m = &h->m;
  if (!h->hdr_done) return 1;
  m->version_major = (uint8_t)p->http_major;
  m->version_minor = (uint8_t)p->http_minor;
  /* One arena: headers[], then head's strings (target or reason first), then
   * the method name. Bytes of a trailer still in progress are copied too
   * (never pointed at). */
  const char *meth = h->is_request ? http_method_str((enum http_method)p->method) : NULL;
  size_t mlen = meth ? strlen(meth) + 1 : 0;
  size_t hsz = h->n_hdrs * sizeof(struct sc_hdr);
  char *a = malloc(hsz + h->head.len + mlen);
  if (!a) goto oom;
  struct sc_hdr *hs = (struct sc_hdr *)(void *)a;
  char *str = a + hsz;
  memcpy(str, h->head.p, h->head.len);
  for (size_t i = 0; i < h->n_hdrs; i++) {
    const struct sc_h1_hdr *o = &h->hdrs[i];
    hs[i].name = str + o->name_off;
    hs[i].name_len = o->name_len;
    hs[i].value = str + o->value_off;
    hs[i].value_len = o->value_len;
  }
  m->arena = a;
  m->headers = h->n_hdrs ? hs : NULL;
  m->n_headers = h->n_hdrs;
  if (h->is_request) {
    memcpy(str + h->head.len, meth, mlen);
    m->method = str + h->head.len;
    m->target = str;
  } else {
    m->status = (int)p->status_code;
    m->reason = str;
  }
  if (h->body.len) {
    m->body = (uint8_t *)sc_buf_take(&h->body, &m->body_len);
    if (!m->body) goto oom;
  }
  if (h->flags & SC_H1_TRUNCATED) h->truncated++;
  h->messages++;
  h->ever_parsed = 1;
  struct sc_http_msg out = *m;
  memset(m, 0, sizeof *m);
  unsigned flags = h->flags;
  uint64_t t_first = h->t_first;
  msg_state_reset(h);
  if (h->cbs.on_message) h->cbs.on_message(h->cbs.ud, h, &out, t_first, h->ts, flags);
  else sc_http_msg_release(&out);
  return 0;
oom:
  oom_flag = 1;
  return 1;
}

static const http_parser_settings settings = {
  .on_message_begin = cb_begin,
  .on_url = cb_start,
  .on_status = cb_start,
  .on_header_field = cb_hfield,
  .on_header_value = cb_hvalue,
  .on_headers_complete = cb_headers_complete,
  .on_body = cb_body,
  .on_message_complete = cb_complete,
};

static void parser_reset(struct sc_http1 *h) {
  http_parser_init(&h->p, h->is_request ? HTTP_REQUEST : HTTP_RESPONSE);
  h->p.data = h;
  h->p.lenient_http_headers = 1;
}

void sc_http1_init(struct sc_http1 *h, int is_request, size_t max_body,
                   const struct sc_http1_cbs *cbs, int midstream) {
  static int max_set;
  if (!max_set) { /* global in http-parser: our head cap, not its 80 KiB */
    http_parser_set_max_header_size(SC_MAX_HEADER_BYTES);
    max_set = 1;
  }
  memset(h, 0, sizeof *h);
  h->is_request = is_request;
  h->max_body = max_body;
  if (cbs) h->cbs = *cbs;
  /* room for the NULs: one after the target/reason, two per header line
   * (SC_MAX_HEADERS kept plus one in progress) */
  sc_buf_init(&h->head, SC_MAX_HEADER_BYTES + 2 * SC_MAX_HEADERS + 3);
  sc_buf_init(&h->body, max_body);
  sc_buf_init(&h->carry, 2 * CARRY_MAX);
  parser_reset(h);
  h->state = midstream ? SC_H1_RESYNC : SC_H1_START;
  h->prev_nl = 1;
  if (midstream) h->pending_flags |= SC_H1_RESYNCED;
}

void sc_http1_release(struct sc_http1 *h) {
  msg_reset(h);
  sc_buf_release(&h->head);
  free(h->hdrs);
  h->hdrs = NULL;
  h->n_hdrs = h->hdrs_cap = 0;
  sc_buf_release(&h->body);
  sc_buf_release(&h->carry);
}

static int is_tchar_upper(uint8_t c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

int sc_http1_looks_like_start(const uint8_t *p, size_t n, int is_request) {
  static const char ver[] = "HTTP/1.";
  if (!is_request) {
    /* status-line = HTTP-version SP 3DIGIT SP ... (RFC 9112 section 4) */
    if (n < 12 || memcmp(p, ver, 7) != 0) return 0;
    if (p[7] != '0' && p[7] != '1') return 0;
    if (p[8] != ' ') return 0;
    for (int i = 9; i < 12; i++)
      if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
  }
  /* request-line = method SP request-target SP HTTP-version CRLF */
  size_t i = 0;
  while (i < n && i < 24 && is_tchar_upper(p[i])) i++;
  if (i == 0 || i >= n || p[i] != ' ') return 0;
  size_t t = ++i;
  while (i < n && p[i] != ' ' && p[i] != '\r' && p[i] != '\n') i++;
  if (i == t || i >= n || p[i] != ' ') return 0;
  i++;
  if (n - i < 8 || memcmp(p + i, ver, 7) != 0) return 0;
  return p[i + 7] == '0' || p[i + 7] == '1';
}

/* Finds the next line start at or after off that looks like a message start. */
static size_t find_start(struct sc_http1 *h, const uint8_t *p, size_t n, size_t off, int at_line) {
  size_t i = off;
  /* A segment boundary (off == 0) is a candidate too: messages usually
   * start a segment, and a mid-stream capture starts anywhere. */
  if (!at_line && off == 0 && sc_http1_looks_like_start(p, n, h->is_request)) return 0;
  if (!at_line) {
    const uint8_t *nl = memchr(p + i, '\n', n - i);
    if (!nl) return n;
    i = (size_t)(nl - p) + 1;
  }
  while (i < n) {
    if (sc_http1_looks_like_start(p + i, n - i, h->is_request)) return i;
    const uint8_t *nl = memchr(p + i, '\n', n - i);
    if (!nl) return n;
    i = (size_t)(nl - p) + 1;
  }
  return n;
}

static void drop_msg(struct sc_http1 *h) {
  if (h->in_msg) h->dropped++;
  msg_reset(h);
}

/* RESYNC -> PARSING at a message start. */
static void begin_at_start(struct sc_http1 *h) {
  h->resyncs++;
  parser_reset(h);
  h->state = SC_H1_PARSING;
  h->pending_flags |= SC_H1_RESYNCED;
}

static int feed_inner(struct sc_http1 *h, const uint8_t *p, size_t n) {
  size_t off = 0;
  int at_line = h->prev_nl;
  while (off < n) {
    if (h->state == SC_H1_DEAD) break;
    if (h->state == SC_H1_RESYNC) {
      size_t i = find_start(h, p, n, off, at_line);
      if (i >= n) break;
      begin_at_start(h);
      off = i;
    }
    if (h->state == SC_H1_START && off == 0 && !h->ever_parsed)
      h->started_like_http = sc_http1_looks_like_start(p, n, h->is_request);
    oom_flag = 0;
    size_t k = http_parser_execute(&h->p, &settings, (const char *)p + off, n - off);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
    if (oom_flag) return SC_ENOMEM;
    if (e == HPE_OK && h->p.upgrade) {
      /* 101 Switching Protocols or CONNECT: the rest is not HTTP. */
      h->upgraded = 1;
      h->state = SC_H1_DEAD;
      break;
    }
    if (e == HPE_CLOSED_CONNECTION && k > 0) {
      /* Data after a "Connection: close" message: parse it anyway. */
      off += k;
      parser_reset(h);
      continue;
    }
    if (e == HPE_CLOSED_CONNECTION) { /* k == 0: the parser was already closed */
      parser_reset(h);
      k = http_parser_execute(&h->p, &settings, (const char *)p + off, n - off);
      e = HTTP_PARSER_ERRNO(&h->p);
      if (oom_flag) return SC_ENOMEM;
    }
    if (e != HPE_OK) {
      drop_msg(h);
      if (h->state == SC_H1_START && !h->ever_parsed && !h->started_like_http) { /* not HTTP at all */
        h->state = SC_H1_DEAD;
        break;
      }
      h->parse_errors++;
      h->state = SC_H1_RESYNC;
      off += k ? k : 1;
      at_line = off > 0 && p[off - 1] == '\n';
      continue;
    }
    if (h->state == SC_H1_START) h->state = SC_H1_PARSING;
    off += k;
    if (k == 0) break; /* paused (not used) */
  }
  if (n) h->prev_nl = p[n - 1] == '\n';
  return 0;
}

/* While resynchronising, the bytes after the last line end of a chunk are
 * kept (at most CARRY_MAX) so a request/status line split across two
 * segments is still found. */
int sc_http1_feed(struct sc_http1 *h, const uint8_t *p, size_t n, uint64_t ts) {
  int rc = 0;
  h->ts = ts;
  if (h->state == SC_H1_RESYNC && h->carry.len && n) {
    size_t old = h->carry.len;
    size_t add = n < CARRY_MAX ? n : CARRY_MAX;
    if (sc_buf_append(&h->carry, p, add) == 0) {
      size_t i = find_start(h, (const uint8_t *)h->carry.p, h->carry.len, 0, 1);
      if (i < old) {
        sc_buf_consume(&h->carry, i);
        h->carry.len = old - i; /* only the old bytes: p is fed below */
        h->carry.p[h->carry.len] = '\0';
        begin_at_start(h);
        rc = feed_inner(h, (const uint8_t *)h->carry.p, h->carry.len);
      }
    }
    sc_buf_reset(&h->carry);
    if (rc) return rc;
  }
  rc = feed_inner(h, p, n);
  if (rc) return rc;
  if (h->state == SC_H1_RESYNC && n) {
    size_t t = n;
    while (t > 0 && p[t - 1] != '\n') t--;
    size_t tl = n - t;
    sc_buf_reset(&h->carry);
    if (tl > 0 && tl <= CARRY_MAX && sc_buf_append(&h->carry, p + t, tl) != 0) sc_buf_reset(&h->carry);
  } else {
    sc_buf_reset(&h->carry);
  }
  return 0;
}

int sc_http1_gap(struct sc_http1 *h, uint64_t n) {
  static const uint8_t zeros[4096];
  if (h->state == SC_H1_DEAD) return 0;
  int identity = h->state == SC_H1_PARSING && h->in_msg && h->in_body && !(h->p.flags & F_CHUNKED);
  int fits = h->p.content_length == UINT64_MAX ? n <= ((uint64_t)64 << 20) : n <= h->p.content_length;
  if (identity && fits && h->p.content_length > 0) {
    /* Inside a body of known framing: keep the framing, fill with zeros. */
    h->flags |= SC_H1_GAP;
    while (n > 0 && h->state == SC_H1_PARSING) {
      size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
      int rc = feed_inner(h, zeros, k);
      if (rc) return rc;
      n -= k;
    }
    h->prev_nl = 0;
    return 0;
  }
  drop_msg(h);
  if (h->state == SC_H1_START && !h->ever_parsed) h->state = SC_H1_RESYNC;
  if (h->state == SC_H1_PARSING) h->state = SC_H1_RESYNC;
  h->prev_nl = 0;
  return 0;
}

int sc_http1_eof(struct sc_http1 *h, uint64_t ts) {
  h->ts = ts;
  if ((h->state == SC_H1_PARSING || h->state == SC_H1_START) && h->in_msg) {
    h->pending_flags = 0;
    h->flags |= SC_H1_CLOSE_DELIM;
    oom_flag = 0;
    http_parser_execute(&h->p, &settings, NULL, 0);
    if (oom_flag) return SC_ENOMEM;
  }
  drop_msg(h);
  if (h->state != SC_H1_DEAD) h->state = SC_H1_RESYNC;
  return 0;
}
