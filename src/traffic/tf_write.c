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

/* The frame prefix of the n payload bytes at p: length, then CRC-32 (IEEE,
 * the value zlib's crc32() gives, which the reader checks), big-endian. */
static void put_frame_prefix(uint8_t *pre, const uint8_t *p, size_t n) {
  uint32_t crc = libdeflate_crc32(0, p, n);
  uint8_t v[SC_TF_FRAME_PREFIX] = {
      (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
      (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
  memcpy(pre, v, sizeof v);
}

/* Emits the current packer contents as one frame. */
static int emit_frame(struct sc_tf_writer *w, struct sc_error *err) {
  if (w->e.oom) return sc_error_set(err, SC_ENOMEM, "out of memory writing traffic file '%s'", w->path);
  size_t n = w->e.len;
  if (n > SC_MAX_RECORD_BYTES)
    return sc_error_set(err, SC_ETOOBIG, "cannot write traffic file '%s': record of %zu bytes exceeds %u",
                        w->path, n, (unsigned)SC_MAX_RECORD_BYTES);
  uint8_t pre[SC_TF_FRAME_PREFIX];
  put_frame_prefix(pre, w->e.p, n);
  int rc = stream_put(w, pre, sizeof pre, err);
  if (!rc) rc = stream_put(w, w->e.p, n, err);
  w->bytes_since_flush += n + sizeof pre;
  return rc;
}

/* ---- msgpack encoding (spec: msgpack/spec.md "Formats") ------------------
 * A small encoder of the few formats the writer emits, into one growable
 * buffer: the writer sits on capture's hot path, and msgpack-c's packer costs
 * a callback and a capacity check per token. Output is plain msgpack; the
 * reader decodes it with msgpack-c (and tests cross-check both ways).
 *
 * The w_* primitives write at a cursor without any check and return the
 * cursor past what they wrote: an exchange record reserves an upper bound of
 * its size once (exchange_bound) and then writes with the cursor in a
 * register. The e_* wrappers check before each token, for the cold header
 * and trailer records. Bounds: an integer takes at most 9 bytes, a
 * str/bin/array/map head at most 5. */

#define MP_INT_MAX 9
#define MP_HEAD_MAX 5

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

/* Big-endian stores of 2, 4 or 8 bytes (one byte swap and one store). */
static inline void put_be(uint8_t *p, uint64_t v, int n) {
  if (n == 8) {
    uint64_t b = __builtin_bswap64(v);
    memcpy(p, &b, 8);
  } else if (n == 4) {
    uint32_t b = __builtin_bswap32((uint32_t)v);
    memcpy(p, &b, 4);
  } else {
    uint16_t b = __builtin_bswap16((uint16_t)v);
    memcpy(p, &b, 2);
  }
}

static inline uint8_t *w_uint(uint8_t *p, uint64_t v) {
  if (v < 128) {
    p[0] = (uint8_t)v;
    return p + 1;
  }
  if (v <= 0xff) {
    p[0] = 0xcc;
    p[1] = (uint8_t)v;
    return p + 2;
  }
  if (v <= 0xffff) {
    p[0] = 0xcd;
    put_be(p + 1, v, 2);
    return p + 3;
  }
  if (v <= 0xffffffffu) {
    p[0] = 0xce;
    put_be(p + 1, v, 4);
    return p + 5;
  }
  p[0] = 0xcf;
  put_be(p + 1, v, 8);
  return p + 9;
}

static inline uint8_t *w_int(uint8_t *p, int64_t v) {
  if (v >= 0) return w_uint(p, (uint64_t)v);
  if (v >= -32) {
    p[0] = (uint8_t)(int8_t)v;
    return p + 1;
  }
  p[0] = 0xd3;
  put_be(p + 1, (uint64_t)v, 8);
  return p + 9;
}

static inline uint8_t *w_container(uint8_t *p, size_t n, uint8_t fix, uint8_t b16, uint8_t b32) {
  if (n < 16) {
    p[0] = (uint8_t)(fix | n);
    return p + 1;
  }
  if (n <= 0xffff) {
    p[0] = b16;
    put_be(p + 1, n, 2);
    return p + 3;
  }
  p[0] = b32;
  put_be(p + 1, n, 4);
  return p + 5;
}

static inline uint8_t *w_map(uint8_t *p, size_t n) { return w_container(p, n, 0x80, 0xde, 0xdf); }
static inline uint8_t *w_array(uint8_t *p, size_t n) { return w_container(p, n, 0x90, 0xdc, 0xdd); }

/* str (bin=0) or bin (bin=1) of n bytes. */
static inline uint8_t *w_bytes(uint8_t *p, const void *s, size_t n, int bin) {
  if (!bin && n < 32) {
    *p++ = (uint8_t)(0xa0 | n);
  } else if (n <= 0xff) {
    p[0] = bin ? 0xc4 : 0xd9;
    p[1] = (uint8_t)n;
    p += 2;
  } else if (n <= 0xffff) {
    p[0] = bin ? 0xc5 : 0xda;
    put_be(p + 1, n, 2);
    p += 3;
  } else {
    p[0] = bin ? 0xc6 : 0xdb;
    put_be(p + 1, n, 4);
    p += 5;
  }
  sc_copy_short(p, s, n); /* header names and values: mostly under 32 bytes */
  return p + n;
}

/* A C string, or nil for NULL; n is strlen(s). */
static inline uint8_t *w_str(uint8_t *p, const char *s, size_t n) {
  if (!s) {
    *p = 0xc0;
    return p + 1;
  }
  return w_bytes(p, s, n, 0);
}

/* Keys are literals shorter than 32 bytes (a fixstr): with the length known
 * at compile time the copy is a few moves, not a memcpy call. */
static inline uint8_t *w_key(uint8_t *p, const char *s, size_t n) {
  p[0] = (uint8_t)(0xa0 | n);
  memcpy(p + 1, s, n);
  return p + 1 + n;
}

#define KEY(q, lit)                                             \
  do {                                                          \
    _Static_assert(sizeof(lit) - 1 < 32, "key must be a fixstr"); \
    (q) = w_key((q), (lit), sizeof(lit) - 1);                   \
  } while (0)

/* Checked wrappers (a failed growth sets e->oom and writes nothing). */
static void e_uint(struct enc *e, uint64_t v) {
  if (!need(e, MP_INT_MAX)) e->len = (size_t)(w_uint(e->p + e->len, v) - e->p);
}

static void e_container(struct enc *e, size_t n, int map) {
  if (!need(e, MP_HEAD_MAX)) e->len = (size_t)((map ? w_map : w_array)(e->p + e->len, n) - e->p);
}

static void e_cstr(struct enc *e, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!need(e, n + MP_HEAD_MAX)) e->len = (size_t)(w_str(e->p + e->len, s, n) - e->p);
}

#define E_KEY(e, lit)                                   \
  do {                                                  \
    if (!need((e), sizeof(lit))) {                      \
      uint8_t *q_ = (e)->p + (e)->len;                  \
      KEY(q_, lit);                                     \
      (e)->len = (size_t)(q_ - (e)->p);                 \
    }                                                   \
  } while (0)

/* Lengths of a message's C strings, measured once for the bound and the
 * write. */
struct msg_lens {
  size_t a, b; /* method and target, or reason (b unused) */
};

static size_t msg_bound(const struct sc_http_msg *m, int is_req, struct msg_lens *l) {
  if (is_req) {
    l->a = m->method ? strlen(m->method) : 0;
    l->b = m->target ? strlen(m->target) : 0;
  } else {
    l->a = m->reason ? strlen(m->reason) : 0;
    l->b = 0;
  }
  /* map, six keys (at most 14 bytes each with their fixstr byte), the two
   * start-line fields, version, headers, body, body_wire_len */
  size_t n = MP_HEAD_MAX + 6 * 14 + 2 * (MP_HEAD_MAX + MP_INT_MAX) + l->a + l->b +
             (1 + 2 * MP_INT_MAX) + MP_HEAD_MAX + MP_HEAD_MAX + MP_INT_MAX;
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *h = &m->headers[i];
    n += 1 + 2 * MP_HEAD_MAX + (h->name ? h->name_len : 0) + (h->value ? h->value_len : 0);
  }
  if (m->body) n += m->body_len;
  return n;
}

static uint8_t *w_msg(uint8_t *q, const struct sc_http_msg *m, int is_req, const struct msg_lens *l) {
  q = w_map(q, 6);
  if (is_req) {
    KEY(q, "method");
    q = w_str(q, m->method, l->a);
    KEY(q, "target");
    q = w_str(q, m->target, l->b);
  } else {
    KEY(q, "status");
    q = w_int(q, m->status);
    KEY(q, "reason");
    q = w_str(q, m->reason, l->a);
  }
  KEY(q, "version");
  q = w_array(q, 2);
  q = w_uint(q, m->version_major);
  q = w_uint(q, m->version_minor);
  KEY(q, "headers");
  q = w_array(q, m->n_headers);
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *h = &m->headers[i];
    *q++ = 0x92; /* fixarray of 2 */
    q = w_bytes(q, h->name ? h->name : "", h->name ? h->name_len : 0, 0);
    q = w_bytes(q, h->value ? h->value : "", h->value ? h->value_len : 0, 0);
  }
  KEY(q, "body");
  q = w_bytes(q, m->body, m->body ? m->body_len : 0, 1);
  KEY(q, "body_wire_len");
  return w_uint(q, m->body_wire_len);
}

static void e_header(struct enc *pk, const struct sc_tf_header *h, int compress) {
  e_container(pk, 10, 1);
  E_KEY(pk, "t");
  e_cstr(pk, "h");
  E_KEY(pk, "version");
  e_uint(pk, SC_TF_VERSION);
  E_KEY(pk, "created_ns");
  e_uint(pk, h ? h->created_ns : 0);
  E_KEY(pk, "source_kind");
  e_cstr(pk, h ? h->source_kind : NULL);
  E_KEY(pk, "source");
  e_cstr(pk, h ? h->source : NULL);
  E_KEY(pk, "filter");
  e_cstr(pk, h ? h->filter : NULL);
  E_KEY(pk, "host");
  e_cstr(pk, h ? h->host : NULL);
  E_KEY(pk, "redactions");
  uint32_t nr = h && h->redactions ? h->n_redactions : 0;
  e_container(pk, nr, 0);
  for (uint32_t i = 0; i < nr; i++) e_cstr(pk, h->redactions[i] ? h->redactions[i] : "");
  E_KEY(pk, "tool");
  e_cstr(pk, h && h->tool ? h->tool : "shadowctl " SHADOWCTL_VERSION);
  E_KEY(pk, "compression");
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

/* Encodes exchange x at q (room for exchange_bound bytes) and returns the end. */
static uint8_t *w_exchange(uint8_t *q, const struct sc_exchange *x, const struct msg_lens *lq,
                           const struct msg_lens *ls) {
  q = w_map(q, 7);
  KEY(q, "t");
  KEY(q, "x"); /* the value "x": a fixstr like a key */
  KEY(q, "id");
  q = w_uint(q, x->id);
  KEY(q, "conn");
  q = w_map(q, 6);
  size_t alen = x->conn.family == 6 ? 16 : 4;
  KEY(q, "family");
  q = w_uint(q, x->conn.family == 6 ? 6 : 4);
  KEY(q, "client");
  q = w_bytes(q, x->conn.client_addr, alen, 1);
  KEY(q, "server");
  q = w_bytes(q, x->conn.server_addr, alen, 1);
  KEY(q, "client_port");
  q = w_uint(q, x->conn.client_port);
  KEY(q, "server_port");
  q = w_uint(q, x->conn.server_port);
  KEY(q, "conn_id");
  q = w_uint(q, x->conn.conn_id);
  KEY(q, "req");
  q = w_msg(q, &x->req, 1, lq);
  KEY(q, "resp");
  q = w_msg(q, &x->resp, 0, ls);
  KEY(q, "ts");
  q = w_array(q, 4);
  q = w_uint(q, x->t_req_first);
  q = w_uint(q, x->t_req_last);
  q = w_uint(q, x->t_resp_first);
  q = w_uint(q, x->t_resp_last);
  KEY(q, "flags");
  return w_uint(q, x->flags);
}

/* Upper bound of w_exchange's output; fills the string lengths it needs. */
static size_t exchange_bound(const struct sc_exchange *x, struct msg_lens *lq, struct msg_lens *ls) {
  /* the exchange map with its 7 keys, "x", id, conn (6 keys, 2 addresses, 4
   * integers), ts (4 integers), flags: 256 bytes bound it */
  return 256 + msg_bound(&x->req, 1, lq) + msg_bound(&x->resp, 0, ls);
}

int sc_tf_writer_append(struct sc_tf_writer *w, const struct sc_exchange *x, struct sc_error *err) {
  if (w->failed) return sc_error_set(err, w->failed, "traffic file '%s': writer failed earlier", w->path);
  struct enc *pk = &w->e;
  struct msg_lens lq, ls;
  size_t bound = exchange_bound(x, &lq, &ls);
  int rc = 0;
  if (!w->cctx && SC_TF_FRAME_PREFIX + bound <= OUT_CAP) {
    /* Plain output: encode in place in the output buffer, after room for
     * the frame prefix, instead of encoding and then copying. */
    if (w->out_len + SC_TF_FRAME_PREFIX + bound > OUT_CAP) {
      rc = out_drain(w, err);
      if (rc) {
        w->failed = rc;
        return rc;
      }
    }
    uint8_t *body = w->out + w->out_len + SC_TF_FRAME_PREFIX;
    size_t n = (size_t)(w_exchange(body, x, &lq, &ls) - body);
    put_frame_prefix(body - SC_TF_FRAME_PREFIX, body, n);
    w->out_len += SC_TF_FRAME_PREFIX + n;
    w->bytes_since_flush += SC_TF_FRAME_PREFIX + n;
  } else {
    pk->len = 0;
    if (need(pk, bound) == 0) pk->len = (size_t)(w_exchange(pk->p, x, &lq, &ls) - pk->p);
    rc = emit_frame(w, err);
    if (rc == SC_ETOOBIG) return rc; /* this record only; the file stays valid */
  }
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
  e_container(pk, n + 1, 1);
  E_KEY(pk, "t");
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
