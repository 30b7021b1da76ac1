/*
 * exchange.c - lifecycle helpers of struct sc_exchange, the traffic file's
 * record. Stage: traffic. Reference: schemas/traffic.md, RFC 9110 section 5.1
 * (field names are case-insensitive).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "traffic/exchange.h"
#include "util/buf.h"
#include "util/err.h"

int sc_http_msg_body_in_arena(const struct sc_http_msg *m) {
  if (!m->arena || !m->body || !m->arena_cap) return 0;
  uintptr_t a = (uintptr_t)m->arena, b = (uintptr_t)m->body;
  return b >= a && b - a < m->arena_cap;
}

void sc_http_msg_set_body(struct sc_http_msg *m, uint8_t *b, size_t n) {
  if (m->body && !sc_http_msg_body_in_arena(m)) free(m->body);
  m->body = b;
  m->body_len = n;
}

/* Frees what m owns outside its arena block. */
static void free_owned(struct sc_http_msg *m) {
  sc_http_msg_set_body(m, NULL, 0);
  if (!m->arena && (m->method || m->target || m->reason || m->headers)) {
    free(m->method);
    free(m->target);
    free(m->reason);
    for (size_t i = 0; i < m->n_headers; i++) {
      free(m->headers[i].name);
      free(m->headers[i].value);
    }
    free(m->headers);
  }
}

void sc_http_msg_release(struct sc_http_msg *m) {
  /* Capture releases each message several times on its way (parser reset,
   * after moving it out, after writing): an empty one costs no free calls. */
  free_owned(m);
  if (m->arena) free(m->arena);
  memset(m, 0, sizeof *m);
}

void sc_http_msg_clear(struct sc_http_msg *m, size_t keep_max) {
  free_owned(m);
  void *arena = m->arena;
  size_t cap = m->arena_cap;
  if (arena && (!cap || cap > keep_max)) {
    free(arena);
    arena = NULL;
    cap = 0;
  }
  memset(m, 0, sizeof *m);
  m->arena = arena;
  m->arena_cap = cap;
}

void sc_exchange_clear(struct sc_exchange *x, size_t keep_max) {
  if (!x) return;
  struct sc_http_msg req = x->req, resp = x->resp;
  sc_http_msg_clear(&req, keep_max);
  sc_http_msg_clear(&resp, keep_max);
  memset(x, 0, sizeof *x);
  x->req = req;
  x->resp = resp;
}

void sc_exchange_release(struct sc_exchange *x) {
  if (!x) return;
  sc_http_msg_release(&x->req);
  sc_http_msg_release(&x->resp);
  memset(x, 0, sizeof *x);
}

static char *dup_or_null(const char *s) { return s ? sc_memdup0(s, strlen(s)) : NULL; }

int sc_http_msg_unshare(struct sc_http_msg *m) {
  if (!m->arena) return 0;
  struct sc_hdr *hs = m->n_headers ? calloc(m->n_headers, sizeof *hs) : NULL;
  char *method = dup_or_null(m->method), *target = dup_or_null(m->target), *reason = dup_or_null(m->reason);
  int body_in = sc_http_msg_body_in_arena(m);
  uint8_t *body = body_in ? (uint8_t *)sc_memdup0((const char *)m->body, m->body_len) : NULL;
  int oom = (m->n_headers && !hs) || (m->method && !method) || (m->target && !target) || (m->reason && !reason) ||
            (body_in && !body);
  for (size_t i = 0; !oom && i < m->n_headers; i++) {
    const struct sc_hdr *o = &m->headers[i];
    hs[i].name_len = o->name_len;
    hs[i].value_len = o->value_len;
    hs[i].name = o->name ? sc_memdup0(o->name, o->name_len) : NULL;
    hs[i].value = o->value ? sc_memdup0(o->value, o->value_len) : NULL;
    if ((o->name && !hs[i].name) || (o->value && !hs[i].value)) oom = 1;
  }
  if (oom) {
    for (size_t i = 0; hs && i < m->n_headers; i++) {
      free(hs[i].name);
      free(hs[i].value);
    }
    free(hs);
    free(method);
    free(target);
    free(reason);
    free(body);
    return SC_ENOMEM;
  }
  if (body_in) m->body = body;
  for (size_t i = 0; i < m->n_headers; i++)
    if (m->headers[i].value) memset(m->headers[i].value, 0, m->headers[i].value_len);
  free(m->arena);
  m->arena = NULL;
  m->arena_cap = 0;
  m->headers = hs;
  m->method = method;
  m->target = target;
  m->reason = reason;
  return 0;
}

const struct sc_hdr *sc_http_msg_header(const struct sc_http_msg *m, const char *name) {
  if (!m || !name) return NULL;
  size_t n = strlen(name);
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *h = &m->headers[i];
    if (h->name && h->name_len == n && strncasecmp(h->name, name, n) == 0) return h;
  }
  return NULL;
}

uint64_t sc_exchange_latency_ns(const struct sc_exchange *x) {
  if (!x || !x->t_req_last || !x->t_resp_last || x->t_resp_last < x->t_req_last) return 0;
  return x->t_resp_last - x->t_req_last;
}
