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

void sc_http_msg_release(struct sc_http_msg *m) {
  /* Capture releases each message several times on its way (parser reset,
   * after moving it out, after writing): an empty one costs no free calls. */
  if (m->arena) {
    free(m->arena);
  } else if (m->method || m->target || m->reason || m->headers) {
    free(m->method);
    free(m->target);
    free(m->reason);
    for (size_t i = 0; i < m->n_headers; i++) {
      free(m->headers[i].name);
      free(m->headers[i].value);
    }
    free(m->headers);
  }
  if (m->body) free(m->body);
  memset(m, 0, sizeof *m);
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
  int oom = (m->n_headers && !hs) || (m->method && !method) || (m->target && !target) || (m->reason && !reason);
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
    return SC_ENOMEM;
  }
  for (size_t i = 0; i < m->n_headers; i++)
    if (m->headers[i].value) memset(m->headers[i].value, 0, m->headers[i].value_len);
  free(m->arena);
  m->arena = NULL;
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
