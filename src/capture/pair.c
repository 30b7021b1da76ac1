/*
 * pair.c - HTTP/1.1 over one TCP connection: request/response parsers and
 * FIFO pairing into struct sc_exchange. Stage: capture.
 * Reference: RFC 9112 section 9.3.2 (pipelining), RFC 9110 section 15.2
 * (1xx), section 9.3.2 (HEAD responses carry no content), RFC 7231 5.1.1
 * (Expect: 100-continue).
 *
 * Invariants:
 *   1. Requests wait in a FIFO (at most SC_MAX_PIPELINE_DEPTH; the oldest is
 *      emitted as response-missing on overflow); a final (non-1xx) response
 *      is paired with the oldest waiting request.
 *   2. 1xx responses (except 101) never pop the FIFO: they flag the request
 *      they precede (the oldest waiting one, or the next one to complete,
 *      as with 100-continue where the body follows the interim response).
 *   3. Every request parsed is emitted exactly once (paired, or at close /
 *      overflow with SC_XF_RESPONSE_MISSING).
 */
#include "capture/pair.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/http1.h"
#include "util/limits.h"

struct pend {
  struct pend *next;
  struct sc_exchange x;
};

struct sc_pair {
  struct sc_pair_ctx *ctx;
  struct sc_conn_info ci;
  int client;                /* reassembler endpoint index of the client */
  int roles_fixed;           /* SYN seen or first bytes decided */
  int midstream;
  struct sc_http1 req, resp;
  struct pend *head, *tail;
  struct pend *spare;        /* an emitted entry kept for the next request */
  size_t depth;
  int interim_pending;
  uint64_t bytes;
  const struct sc_reasm_conn *conn; /* borrowed: lives as long as the session */
};

void sc_pair_exchange_release(struct sc_exchange *x) {
  if (!x) return;
  sc_http_msg_release(&x->req);
  sc_http_msg_release(&x->resp);
  memset(x, 0, sizeof *x);
}

static const struct sc_hdr *find_header(const struct sc_http_msg *m, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < m->n_headers; i++)
    if (m->headers[i].name_len == n && !strncasecmp(m->headers[i].name, name, n)) return &m->headers[i];
  return NULL;
}

static void set_roles(struct sc_pair *pr, const struct sc_reasm_conn *c, int client) {
  size_t alen = c->family == 4 ? 4 : 16;
  pr->client = client;
  memset(&pr->ci, 0, sizeof pr->ci);
  pr->ci.family = c->family;
  memcpy(pr->ci.client_addr, c->addr[client], alen);
  memcpy(pr->ci.server_addr, c->addr[!client], alen);
  pr->ci.client_port = c->port[client];
  pr->ci.server_port = c->port[!client];
  pr->ci.conn_id = c->id;
}

static void emit(struct sc_pair *pr, struct pend *e) {
  struct sc_pair_ctx *ctx = pr->ctx;
  if (e->x.flags & SC_XF_RESPONSE_MISSING) ctx->st.unpaired_requests++;
  ctx->st.exchanges++;
  if (!ctx->rc && ctx->emit) ctx->rc = ctx->emit(ctx->ud, &e->x, &ctx->err); /* releases e->x */
  else sc_pair_exchange_release(&e->x);
  /* Keep one entry: a keep-alive connection then allocates none per request. */
  if (!pr->spare) pr->spare = e;
  else free(e);
}

static struct pend *pop(struct sc_pair *pr) {
  struct pend *e = pr->head;
  if (!e) return NULL;
  pr->head = e->next;
  if (!pr->head) pr->tail = NULL;
  pr->depth--;
  return e;
}

static unsigned h1_to_req_flags(unsigned f) {
  unsigned x = 0;
  if (f & SC_H1_TRUNCATED) x |= SC_XF_REQ_TRUNCATED;
  if (f & SC_H1_CHUNKED) x |= SC_XF_REQ_CHUNKED;
  if (f & SC_H1_GAP) x |= SC_XF_STREAM_GAP;
  if (f & SC_H1_RESYNCED) x |= SC_XF_MIDSTREAM;
  return x;
}

static unsigned h1_to_resp_flags(unsigned f) {
  unsigned x = 0;
  if (f & SC_H1_TRUNCATED) x |= SC_XF_RESP_TRUNCATED;
  if (f & SC_H1_CHUNKED) x |= SC_XF_RESP_CHUNKED;
  if (f & SC_H1_GAP) x |= SC_XF_STREAM_GAP;
  if (f & SC_H1_CLOSE_DELIM) x |= SC_XF_CLOSE_DELIMITED;
  return x;
}

static void on_request(struct sc_pair *pr, struct sc_http_msg *m, uint64_t t0, uint64_t t1,
                       unsigned f) {
  struct pend *e = pr->spare;
  if (e) {
    pr->spare = NULL;
    memset(e, 0, sizeof *e);
  } else {
    e = calloc(1, sizeof *e);
  }
  if (!e) {
    sc_http_msg_release(m);
    if (!pr->ctx->rc) pr->ctx->rc = sc_error_set(&pr->ctx->err, SC_ENOMEM, "out of memory");
    return;
  }
  e->x.conn = pr->ci;
  e->x.req = *m;
  memset(m, 0, sizeof *m);
  e->x.t_req_first = t0;
  e->x.t_req_last = t1;
  e->x.flags = h1_to_req_flags(f);
  if (pr->interim_pending) {
    e->x.flags |= SC_XF_INTERIM_1XX;
    pr->interim_pending = 0;
  }
  if (pr->tail) pr->tail->next = e; else pr->head = e;
  pr->tail = e;
  pr->depth++;
  if (pr->depth > SC_MAX_PIPELINE_DEPTH) {
    struct pend *old = pop(pr);
    old->x.flags |= SC_XF_RESPONSE_MISSING;
    emit(pr, old);
  }
}

static void on_response(struct sc_pair *pr, struct sc_http_msg *m, uint64_t t0, uint64_t t1,
                        unsigned f) {
  if (m->status >= 100 && m->status < 200 && m->status != 101) {
    pr->ctx->st.interim++;
    /* 100-continue: the request completes after its interim response. */
    if (pr->head && !(pr->head->x.flags & SC_XF_INTERIM_1XX) && pr->req.in_msg == 0)
      pr->head->x.flags |= SC_XF_INTERIM_1XX;
    else
      pr->interim_pending = 1;
    sc_http_msg_release(m);
    return;
  }
  struct pend *e = pop(pr);
  if (!e) {
    pr->ctx->st.unpaired_responses++;
    sc_http_msg_release(m);
    return;
  }
  e->x.resp = *m;
  memset(m, 0, sizeof *m);
  e->x.t_resp_first = t0;
  e->x.t_resp_last = t1;
  e->x.flags |= h1_to_resp_flags(f);
  const struct sc_hdr *ce = find_header(&e->x.resp, "Content-Encoding");
  if (ce && !(ce->value_len == 8 && !strncasecmp(ce->value, "identity", 8)))
    e->x.flags |= SC_XF_RESP_ENCODED;
  emit(pr, e);
}

static void h1_on_message(void *ud, struct sc_http1 *h, struct sc_http_msg *m, uint64_t t0,
                          uint64_t t1, unsigned flags) {
  struct sc_pair *pr = ud;
  if (flags & SC_H1_GAP) pr->ctx->st.gaps_in_messages++;
  if (h->is_request) on_request(pr, m, t0, t1, flags);
  else on_response(pr, m, t0, t1, flags);
}

static int h1_is_head(void *ud, struct sc_http1 *h) {
  struct sc_pair *pr = ud;
  (void)h;
  const char *m = pr->head ? pr->head->x.req.method : NULL;
  return m && m[0] == 'H' && !strcmp(m, "HEAD"); /* asked once per response */
}

struct sc_pair *sc_pair_new(struct sc_pair_ctx *ctx, const struct sc_reasm_conn *c) {
  struct sc_pair *pr = calloc(1, sizeof *pr);
  if (!pr) return NULL;
  pr->ctx = ctx;
  pr->midstream = c->midstream;
  pr->roles_fixed = !c->midstream; /* a SYN told us who the client is */
  set_roles(pr, c, c->client);
  struct sc_http1_cbs cbs = {pr, h1_on_message, h1_is_head};
  sc_http1_init(&pr->req, 1, ctx->max_body, &cbs, c->midstream);
  sc_http1_init(&pr->resp, 0, ctx->max_body, &cbs, c->midstream);
  pr->conn = c;
  return pr;
}

int sc_pair_data(struct sc_pair *pr, int dir, const uint8_t *p, size_t n, uint64_t ts) {
  if (!pr->roles_fixed && n) {
    /* First bytes of a connection without SYN: who sends request lines? */
    int is_client = dir == pr->client;
    if (sc_http1_looks_like_start(p, n, !is_client) && !sc_http1_looks_like_start(p, n, is_client))
      set_roles(pr, pr->conn, !pr->client);
    if (sc_http1_looks_like_start(p, n, 1) || sc_http1_looks_like_start(p, n, 0)) pr->roles_fixed = 1;
  }
  pr->bytes += n;
  struct sc_http1 *h = dir == pr->client ? &pr->req : &pr->resp;
  int rc = sc_http1_feed(h, p, n, ts);
  if (!rc && pr->resp.upgraded && pr->req.state != SC_H1_DEAD) {
    pr->ctx->st.upgraded++;
    pr->req.state = SC_H1_DEAD;
  }
  if (rc) return rc;
  return pr->ctx->rc;
}

int sc_pair_gap(struct sc_pair *pr, int dir, uint64_t n) {
  struct sc_http1 *h = dir == pr->client ? &pr->req : &pr->resp;
  int rc = sc_http1_gap(h, n);
  return rc ? rc : pr->ctx->rc;
}

int sc_pair_fin(struct sc_pair *pr, int dir, uint64_t ts) {
  struct sc_http1 *h = dir == pr->client ? &pr->req : &pr->resp;
  int rc = sc_http1_eof(h, ts);
  return rc ? rc : pr->ctx->rc;
}

int sc_pair_close(struct sc_pair *pr, uint64_t ts) {
  struct sc_pair_ctx *ctx = pr->ctx;
  int rc = sc_http1_eof(&pr->resp, ts);
  int rc2 = sc_http1_eof(&pr->req, ts);
  struct pend *e;
  while ((e = pop(pr)) != NULL) {
    e->x.flags |= SC_XF_RESPONSE_MISSING;
    emit(pr, e);
  }
  ctx->st.parse_errors += pr->req.parse_errors + pr->resp.parse_errors;
  ctx->st.truncated_bodies += pr->req.truncated + pr->resp.truncated;
  ctx->st.dropped_messages += pr->req.dropped + pr->resp.dropped;
  ctx->st.resyncs += pr->req.resyncs + pr->resp.resyncs;
  if (pr->bytes && !pr->req.ever_parsed && !pr->resp.ever_parsed) ctx->st.non_http_flows++;
  sc_http1_release(&pr->req);
  sc_http1_release(&pr->resp);
  free(pr->spare);
  free(pr);
  if (rc) return rc;
  if (rc2) return rc2;
  return ctx->rc;
}
