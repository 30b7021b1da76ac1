/*
 * tf_write.c - the traffic file writer: preamble, then msgpack frames
 * (header, exchanges, trailer), each prefixed by length and CRC-32, optionally
 * through one zstd stream flushed periodically. Stage: traffic.
 * Reference: schemas/traffic.md, msgpack spec, RFC 8878 (zstd), RFC 1952
 * section 8 (CRC-32).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zstd.h>

#include "traffic/tf_internal.h"
#include "traffic/traffic.h"
#include "util/buf.h"
#include "util/limits.h"

#define OUT_CAP (256u << 10)

struct enc {
  uint8_t *p;
  size_t len, cap;
  int oom;
};

struct sc_tf_writer {
  char *path;             /* for messages */
  int fd;
  int own_fd;
  ZSTD_CCtx *cctx;        /* NULL when plain */
  struct enc e;           /* the record being encoded */
  uint8_t *out;
  size_t out_len;
  uint64_t n_since_flush, bytes_since_flush;
  int failed;             /* sticky error code */
};

static int write_all(struct sc_tf_writer *w, const uint8_t *p, size_t n, struct sc_error *err) {
  while (n > 0) {
    ssize_t k = write(w->fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return sc_error_set(err, e == ENOSPC || e == EFBIG || e == EDQUOT ? SC_ENOSPC : SC_EIO,
                          "cannot write traffic file '%s': %s", w->path, strerror(e));
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int out_drain(struct sc_tf_writer *w, struct sc_error *err) {
  int rc = 0;
  if (w->out_len) rc = write_all(w, w->out, w->out_len, err);
  w->out_len = 0;
  return rc;
}

/* Appends n stream bytes (compressed when zstd is on). */
static int stream_put(struct sc_tf_writer *w, const void *data, size_t n, struct sc_error *err) {
  int rc = 0;
  if (!w->cctx) {
    if (w->out_len + n > OUT_CAP) {
      rc = out_drain(w, err);
      if (rc) return rc;
    }
    if (n >= OUT_CAP) return write_all(w, data, n, err);
    memcpy(w->out + w->out_len, data, n);
    w->out_len += n;
    return 0;
  }
  ZSTD_inBuffer ib = {data, n, 0};
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob = {w->out, OUT_CAP, w->out_len};
    size_t r = ZSTD_compressStream2(w->cctx, &ob, &ib, ZSTD_e_continue);
    if (ZSTD_isError(r))
      return sc_error_set(err, SC_EINTERNAL, "cannot compress traffic file '%s': %s", w->path,
                          ZSTD_getErrorName(r));
    w->out_len = ob.pos;
    if (w->out_len == OUT_CAP) {
      rc = out_drain(w, err);
      if (rc) return rc;
    }
  }
  return 0;
}

/* Flushes the compressor (mode ZSTD_e_flush or ZSTD_e_end) and the output
 * buffer to the file. */
static int stream_flush(struct sc_tf_writer *w, ZSTD_EndDirective mode, struct sc_error *err) {
  int rc = 0;
  if (w->cctx) {
    for (;;) {
      ZSTD_inBuffer ib = {NULL, 0, 0};
      ZSTD_outBuffer ob = {w->out, OUT_CAP, w->out_len};
      size_t r = ZSTD_compressStream2(w->cctx, &ob, &ib, mode);
      if (ZSTD_isError(r))
        return sc_error_set(err, SC_EINTERNAL, "cannot compress traffic file '%s': %s", w->path,
                            ZSTD_getErrorName(r));
      w->out_len = ob.pos;
      rc = out_drain(w, err);
      if (rc) return rc;
      if (r == 0) break;
    }
  }
  rc = out_drain(w, err);
  w->n_since_flush = 0;
  w->bytes_since_flush = 0;
  return rc;
}

/* Emits the current packer contents as one frame. */
static int emit_frame(struct sc_tf_writer *w, struct sc_error *err) {
  if (w->e.oom) return sc_error_set(err, SC_ENOMEM, "out of memory writing traffic file '%s'", w->path);
  size_t n = w->e.len;
  if (n > SC_MAX_RECORD_BYTES)
    return sc_error_set(err, SC_ETOOBIG, "cannot write traffic file '%s': record of %zu bytes exceeds %u",
                        w->path, n, (unsigned)SC_MAX_RECORD_BYTES);
  /* CRC-32 (IEEE), the value zlib's crc32() gives, which the reader checks */
  uint32_t crc = libdeflate_crc32(0, w->e.p, n);
  uint8_t pre[SC_TF_FRAME_PREFIX] = {
      (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
      (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
  int rc = stream_put(w, pre, sizeof pre, err);
  if (!rc) rc = stream_put(w, w->e.p, n, err);
  w->bytes_since_flush += n + sizeof pre;
  return rc;
}

/* ---- msgpack encoding (spec: msgpack/spec.md "Formats") ------------------
 * A small encoder of the few formats the writer emits, into one growable
 * buffer: the writer sits on capture's hot path, and msgpack-c's packer costs
 * a callback and a capacity check per token. Output is plain msgpack; the
 * reader decodes it with msgpack-c (and tests cross-check both ways). */

static int enc_grow(struct enc *e, size_t n) {
  size_t nc = e->cap ? e->cap : 4096;
  while (nc - e->len < n) nc *= 2;
  uint8_t *np = realloc(e->p, nc);
  if (!np) {
    e->oom = 1;
    return -1;
  }
  e->p = np;
  e->cap = nc;
  return 0;
}

static inline int need(struct enc *e, size_t n) {
  return e->cap - e->len >= n ? 0 : enc_grow(e, n);
}

static inline void put_be(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static inline void e_uint(struct enc *e, uint64_t v) {
  if (need(e, 9)) return;
  uint8_t *p = e->p + e->len;
  if (v < 128) {
    p[0] = (uint8_t)v;
    e->len += 1;
  } else if (v <= 0xff) {
    p[0] = 0xcc;
    p[1] = (uint8_t)v;
    e->len += 2;
  } else if (v <= 0xffff) {
    p[0] = 0xcd;
    put_be(p + 1, v, 2);
    e->len += 3;
  } else if (v <= 0xffffffffu) {
    p[0] = 0xce;
    put_be(p + 1, v, 4);
    e->len += 5;
  } else {
    p[0] = 0xcf;
    put_be(p + 1, v, 8);
    e->len += 9;
  }
}

static inline void e_int(struct enc *e, int64_t v) {
  if (v >= 0) {
    e_uint(e, (uint64_t)v);
    return;
  }
  if (need(e, 9)) return;
  uint8_t *p = e->p + e->len;
  if (v >= -32) {
    p[0] = (uint8_t)(int8_t)v;
    e->len += 1;
  } else {
    p[0] = 0xd3;
    put_be(p + 1, (uint64_t)v, 8);
    e->len += 9;
  }
}

static inline void e_container(struct enc *e, size_t n, uint8_t fix, uint8_t b16, uint8_t b32) {
  if (need(e, 5)) return;
  uint8_t *p = e->p + e->len;
  if (n < 16) {
    p[0] = (uint8_t)(fix | n);
    e->len += 1;
  } else if (n <= 0xffff) {
    p[0] = b16;
    put_be(p + 1, n, 2);
    e->len += 3;
  } else {
    p[0] = b32;
    put_be(p + 1, n, 4);
    e->len += 5;
  }
}

static inline void e_map(struct enc *e, size_t n) { e_container(e, n, 0x80, 0xde, 0xdf); }
static inline void e_array(struct enc *e, size_t n) { e_container(e, n, 0x90, 0xdc, 0xdd); }

static inline void e_nil(struct enc *e) {
  if (need(e, 1)) return;
  e->p[e->len++] = 0xc0;
}

/* str (bin=0) or bin (bin=1) of n bytes. */
static inline void e_bytes(struct enc *e, const void *s, size_t n, int bin) {
  if (need(e, n + 5)) return;
  uint8_t *p = e->p + e->len;
  size_t h;
  if (!bin && n < 32) {
    p[0] = (uint8_t)(0xa0 | n);
    h = 1;
  } else if (n <= 0xff) {
    p[0] = bin ? 0xc4 : 0xd9;
    p[1] = (uint8_t)n;
    h = 2;
  } else if (n <= 0xffff) {
    p[0] = bin ? 0xc5 : 0xda;
    put_be(p + 1, n, 2);
    h = 3;
  } else {
    p[0] = bin ? 0xc6 : 0xdb;
    put_be(p + 1, n, 4);
    h = 5;
  }
  if (n) memcpy(p + h, s, n);
  e->len += h + n;
}

static inline void e_str(struct enc *e, const char *s, size_t n) {
  if (!s) e_nil(e);
  else e_bytes(e, s, n, 0);
}

static inline void e_cstr(struct enc *e, const char *s) { e_str(e, s, s ? strlen(s) : 0); }

/* Keys are literals shorter than 32 bytes (a fixstr): with the length known
 * at compile time the copy is a few moves, not a memcpy call. */
static inline void e_key(struct enc *e, const char *s, size_t n) {
  if (need(e, n + 1)) return;
  uint8_t *p = e->p + e->len;
  p[0] = (uint8_t)(0xa0 | n);
  memcpy(p + 1, s, n);
  e->len += n + 1;
}

#define KEY(e, lit)                                             \
  do {                                                          \
    _Static_assert(sizeof(lit) - 1 < 32, "key must be a fixstr"); \
    e_key((e), (lit), sizeof(lit) - 1);                         \
  } while (0)

static void e_msg(struct enc *e, const struct sc_http_msg *m, int is_req) {
  e_map(e, 6);
  if (is_req) {
    KEY(e, "method");
    e_cstr(e, m->method);
    KEY(e, "target");
    e_cstr(e, m->target);
  } else {
    KEY(e, "status");
    e_int(e, m->status);
    KEY(e, "reason");
    e_cstr(e, m->reason);
  }
  KEY(e, "version");
  e_array(e, 2);
  e_uint(e, m->version_major);
  e_uint(e, m->version_minor);
  KEY(e, "headers");
  e_array(e, m->n_headers);
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *h = &m->headers[i];
    e_array(e, 2);
    e_bytes(e, h->name ? h->name : "", h->name ? h->name_len : 0, 0);
    e_bytes(e, h->value ? h->value : "", h->value ? h->value_len : 0, 0);
  }
  KEY(e, "body");
  e_bytes(e, m->body, m->body ? m->body_len : 0, 1);
  KEY(e, "body_wire_len");
  e_uint(e, m->body_wire_len);
}

static void e_header(struct enc *pk, const struct sc_tf_header *h, int compress) {
  e_map(pk, 10);
  KEY(pk, "t");
  e_cstr(pk, "h");
  KEY(pk, "version");
  e_uint(pk, SC_TF_VERSION);
  KEY(pk, "created_ns");
  e_uint(pk, h ? h->created_ns : 0);
  KEY(pk, "source_kind");
  e_cstr(pk, h ? h->source_kind : NULL);
  KEY(pk, "source");
  e_cstr(pk, h ? h->source : NULL);
  KEY(pk, "filter");
  e_cstr(pk, h ? h->filter : NULL);
  KEY(pk, "host");
  e_cstr(pk, h ? h->host : NULL);
  KEY(pk, "redactions");
  uint32_t nr = h && h->redactions ? h->n_redactions : 0;
  e_array(pk, nr);
  for (uint32_t i = 0; i < nr; i++) e_cstr(pk, h->redactions[i] ? h->redactions[i] : "");
  KEY(pk, "tool");
  e_cstr(pk, h && h->tool ? h->tool : "shadowctl " SHADOWCTL_VERSION);
  KEY(pk, "compression");
  e_cstr(pk, compress ? "zstd" : "none");
}

int sc_tf_writer_open(struct sc_tf_writer **out, const char *path, const struct sc_tf_header *h,
                      int compress, struct sc_error *err) {
  int rc = 0;
  *out = NULL;
  struct sc_tf_writer *w = calloc(1, sizeof *w);
  if (!w) return sc_error_set(err, SC_ENOMEM, "out of memory");
  w->fd = -1;
  w->path = strdup(path ? path : "-");
  w->out = malloc(OUT_CAP);
  if (!w->path || !w->out) {
    rc = sc_error_set(err, SC_ENOMEM, "out of memory");
    goto out;
  }
  if (!strcmp(w->path, "-")) {
    w->fd = STDOUT_FILENO;
  } else {
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0) {
      int e = errno;
      rc = sc_error_set(err, e == ENOENT ? SC_ENOENT : e == EACCES ? SC_EACCES : SC_EIO,
                        "cannot create traffic file '%s': %s", w->path, strerror(e));
      goto out;
    }
    w->own_fd = 1;
    struct stat st;
    /* An existing file keeps its mode under O_CREAT: force 0600. */
    if (fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
        fchmod(w->fd, 0600) != 0) {
      int e = errno;
      rc = sc_error_set(err, SC_EACCES, "cannot set mode 0600 on traffic file '%s': %s", w->path, strerror(e));
      goto out;
    }
  }
  uint8_t pre[SC_TF_PREAMBLE_LEN] = {'S', 'H', 'D', 'W', SC_TF_VERSION, compress ? SC_TF_FLAG_ZSTD : 0, 0, 0};
  rc = write_all(w, pre, sizeof pre, err);
  if (rc) goto out;
  if (compress) {
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
      rc = sc_error_set(err, SC_ENOMEM, "out of memory (zstd)");
      goto out;
    }
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, SC_TF_ZSTD_LEVEL);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
  }
  w->e.len = 0;
  e_header(&w->e, h, compress);
  if (w->e.len > SC_MAX_HEADER_RECORD) {
    rc = sc_error_set(err, SC_ETOOBIG, "cannot write traffic file '%s': header of %zu bytes exceeds %u",
                      w->path, w->e.len, (unsigned)SC_MAX_HEADER_RECORD);
    goto out;
  }
  rc = emit_frame(w, err);
  if (rc) goto out;
  rc = stream_flush(w, ZSTD_e_flush, err);
out:
  if (rc) {
    if (w->own_fd) {
      close(w->fd);
      unlink(w->path);
    }
    ZSTD_freeCCtx(w->cctx);
    free(w->e.p);
    free(w->out);
    free(w->path);
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int sc_tf_writer_append(struct sc_tf_writer *w, const struct sc_exchange *x, struct sc_error *err) {
  if (w->failed) return sc_error_set(err, w->failed, "traffic file '%s': writer failed earlier", w->path);
  struct enc *pk = &w->e;
  pk->len = 0;
  e_map(pk, 7);
  KEY(pk, "t");
  e_cstr(pk, "x");
  KEY(pk, "id");
  e_uint(pk, x->id);
  KEY(pk, "conn");
  e_map(pk, 6);
  size_t alen = x->conn.family == 6 ? 16 : 4;
  KEY(pk, "family");
  e_uint(pk, x->conn.family == 6 ? 6 : 4);
  KEY(pk, "client");
  e_bytes(pk, x->conn.client_addr, alen, 1);
  KEY(pk, "server");
  e_bytes(pk, x->conn.server_addr, alen, 1);
  KEY(pk, "client_port");
  e_uint(pk, x->conn.client_port);
  KEY(pk, "server_port");
  e_uint(pk, x->conn.server_port);
  KEY(pk, "conn_id");
  e_uint(pk, x->conn.conn_id);
  KEY(pk, "req");
  e_msg(pk, &x->req, 1);
  KEY(pk, "resp");
  e_msg(pk, &x->resp, 0);
  KEY(pk, "ts");
  e_array(pk, 4);
  e_uint(pk, x->t_req_first);
  e_uint(pk, x->t_req_last);
  e_uint(pk, x->t_resp_first);
  e_uint(pk, x->t_resp_last);
  KEY(pk, "flags");
  e_uint(pk, x->flags);
  int rc = emit_frame(w, err);
  if (rc == SC_ETOOBIG) return rc; /* this record only; the file stays valid */
  if (!rc && (++w->n_since_flush >= SC_TF_FLUSH_EVERY_N || w->bytes_since_flush >= SC_TF_FLUSH_EVERY_BYTES))
    rc = stream_flush(w, ZSTD_e_flush, err);
  if (rc) w->failed = rc;
  return rc;
}

int sc_tf_writer_flush(struct sc_tf_writer *w, struct sc_error *err) {
  if (w->failed) return sc_error_set(err, w->failed, "traffic file '%s': writer failed earlier", w->path);
  int rc = stream_flush(w, ZSTD_e_flush, err);
  if (rc) w->failed = rc;
  return rc;
}

static void e_stats(struct enc *pk, const struct sc_tf_stats *s) {
  struct sc_tf_stats z;
  if (!s) {
    memset(&z, 0, sizeof z);
    s = &z;
  }
  const struct {
    const char *k;
    uint64_t v;
  } f[] = {
      {"packets", s->packets}, {"bytes", s->bytes}, {"connections", s->connections},
      {"exchanges", s->exchanges}, {"unpaired_requests", s->unpaired_requests},
      {"unpaired_responses", s->unpaired_responses}, {"kernel_drops", s->kernel_drops},
      {"iface_drops", s->iface_drops}, {"stream_gaps", s->stream_gaps},
      {"truncated_bodies", s->truncated_bodies}, {"parse_errors", s->parse_errors},
      {"non_http_flows", s->non_http_flows}, {"ip_fragments", s->ip_fragments},
      {"mem_evictions", s->mem_evictions}, {"idle_evictions", s->idle_evictions},
      {"first_ts_ns", s->first_ts_ns}, {"last_ts_ns", s->last_ts_ns},
  };
  size_t n = sizeof f / sizeof f[0];
  e_map(pk, n + 1);
  KEY(pk, "t");
  e_cstr(pk, "s");
  for (size_t i = 0; i < n; i++) {
    e_cstr(pk, f[i].k);
    e_uint(pk, f[i].v);
  }
}

int sc_tf_writer_close(struct sc_tf_writer *w, const struct sc_tf_stats *stats, struct sc_error *err) {
  if (!w) return 0;
  int rc = w->failed;
  if (rc) {
    sc_error_set(err, rc, "traffic file '%s': writer failed earlier", w->path);
  } else {
    w->e.len = 0;
    e_stats(&w->e, stats);
    rc = emit_frame(w, err);
    if (!rc) rc = stream_flush(w, ZSTD_e_end, err);
  }
  if (w->own_fd && close(w->fd) != 0 && !rc) {
    int e = errno;
    rc = sc_error_set(err, SC_EIO, "cannot close traffic file '%s': %s", w->path, strerror(e));
  }
  ZSTD_freeCCtx(w->cctx);
  free(w->e.p);
  free(w->out);
  free(w->path);
  free(w);
  return rc;
}
