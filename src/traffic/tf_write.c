/*
 * tf_write.c - the traffic file writer: preamble, then msgpack frames
 * (header, exchanges, trailer), each prefixed by length and CRC-32, optionally
 * through one zstd stream flushed periodically. Stage: traffic.
 * Reference: schemas/traffic.md, msgpack spec, RFC 8878 (zstd).
 */
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "traffic/tf_internal.h"
#include "traffic/traffic.h"
#include "util/buf.h"
#include "util/limits.h"

#define OUT_CAP (256u << 10)

struct sc_tf_writer {
  char *path;             /* for messages */
  int fd;
  int own_fd;
  ZSTD_CCtx *cctx;        /* NULL when plain */
  msgpack_sbuffer sb;
  msgpack_packer pk;
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
  size_t n = w->sb.size;
  if (n > SC_MAX_RECORD_BYTES)
    return sc_error_set(err, SC_ETOOBIG, "cannot write traffic file '%s': record of %zu bytes exceeds %u",
                        w->path, n, (unsigned)SC_MAX_RECORD_BYTES);
  uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)w->sb.data, (uInt)n);
  uint8_t pre[SC_TF_FRAME_PREFIX] = {
      (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
      (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
  int rc = stream_put(w, pre, sizeof pre, err);
  if (!rc) rc = stream_put(w, w->sb.data, n, err);
  w->bytes_since_flush += n + sizeof pre;
  return rc;
}

static void pk_key(msgpack_packer *pk, const char *k) {
  size_t n = strlen(k);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, k, n);
}

static void pk_str(msgpack_packer *pk, const char *s, size_t n) {
  if (!s) {
    msgpack_pack_nil(pk);
    return;
  }
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

static void pk_cstr(msgpack_packer *pk, const char *s) { pk_str(pk, s, s ? strlen(s) : 0); }

static void pk_bin(msgpack_packer *pk, const void *p, size_t n) {
  msgpack_pack_bin(pk, n);
  if (n) msgpack_pack_bin_body(pk, p, n);
}

static void pk_msg(msgpack_packer *pk, const struct sc_http_msg *m, int is_req) {
  msgpack_pack_map(pk, 6);
  if (is_req) {
    pk_key(pk, "method");
    pk_cstr(pk, m->method);
    pk_key(pk, "target");
    pk_cstr(pk, m->target);
  } else {
    pk_key(pk, "status");
    msgpack_pack_int(pk, m->status);
    pk_key(pk, "reason");
    pk_cstr(pk, m->reason);
  }
  pk_key(pk, "version");
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, m->version_major);
  msgpack_pack_uint8(pk, m->version_minor);
  pk_key(pk, "headers");
  msgpack_pack_array(pk, m->n_headers);
  for (size_t i = 0; i < m->n_headers; i++) {
    msgpack_pack_array(pk, 2);
    pk_str(pk, m->headers[i].name ? m->headers[i].name : "", m->headers[i].name ? m->headers[i].name_len : 0);
    pk_str(pk, m->headers[i].value ? m->headers[i].value : "", m->headers[i].value ? m->headers[i].value_len : 0);
  }
  pk_key(pk, "body");
  pk_bin(pk, m->body, m->body ? m->body_len : 0);
  pk_key(pk, "body_wire_len");
  msgpack_pack_uint64(pk, m->body_wire_len);
}

static void pk_header(msgpack_packer *pk, const struct sc_tf_header *h, int compress) {
  msgpack_pack_map(pk, 10);
  pk_key(pk, "t");
  pk_cstr(pk, "h");
  pk_key(pk, "version");
  msgpack_pack_uint32(pk, SC_TF_VERSION);
  pk_key(pk, "created_ns");
  msgpack_pack_uint64(pk, h ? h->created_ns : 0);
  pk_key(pk, "source_kind");
  pk_cstr(pk, h ? h->source_kind : NULL);
  pk_key(pk, "source");
  pk_cstr(pk, h ? h->source : NULL);
  pk_key(pk, "filter");
  pk_cstr(pk, h ? h->filter : NULL);
  pk_key(pk, "host");
  pk_cstr(pk, h ? h->host : NULL);
  pk_key(pk, "redactions");
  uint32_t nr = h && h->redactions ? h->n_redactions : 0;
  msgpack_pack_array(pk, nr);
  for (uint32_t i = 0; i < nr; i++) pk_cstr(pk, h->redactions[i] ? h->redactions[i] : "");
  pk_key(pk, "tool");
  pk_cstr(pk, h && h->tool ? h->tool : "shadowctl " SHADOWCTL_VERSION);
  pk_key(pk, "compression");
  pk_cstr(pk, compress ? "zstd" : "none");
}

int sc_tf_writer_open(struct sc_tf_writer **out, const char *path, const struct sc_tf_header *h,
                      int compress, struct sc_error *err) {
  int rc = 0;
  *out = NULL;
  struct sc_tf_writer *w = calloc(1, sizeof *w);
  if (!w) return sc_error_set(err, SC_ENOMEM, "out of memory");
  w->fd = -1;
  msgpack_sbuffer_init(&w->sb);
  msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
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
  msgpack_sbuffer_clear(&w->sb);
  pk_header(&w->pk, h, compress);
  if (w->sb.size > SC_MAX_HEADER_RECORD) {
    rc = sc_error_set(err, SC_ETOOBIG, "cannot write traffic file '%s': header of %zu bytes exceeds %u",
                      w->path, w->sb.size, (unsigned)SC_MAX_HEADER_RECORD);
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
    msgpack_sbuffer_destroy(&w->sb);
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
  msgpack_packer *pk = &w->pk;
  msgpack_sbuffer_clear(&w->sb);
  msgpack_pack_map(pk, 7);
  pk_key(pk, "t");
  pk_cstr(pk, "x");
  pk_key(pk, "id");
  msgpack_pack_uint64(pk, x->id);
  pk_key(pk, "conn");
  msgpack_pack_map(pk, 6);
  size_t alen = x->conn.family == 6 ? 16 : 4;
  pk_key(pk, "family");
  msgpack_pack_uint8(pk, x->conn.family == 6 ? 6 : 4);
  pk_key(pk, "client");
  pk_bin(pk, x->conn.client_addr, alen);
  pk_key(pk, "server");
  pk_bin(pk, x->conn.server_addr, alen);
  pk_key(pk, "client_port");
  msgpack_pack_uint16(pk, x->conn.client_port);
  pk_key(pk, "server_port");
  msgpack_pack_uint16(pk, x->conn.server_port);
  pk_key(pk, "conn_id");
  msgpack_pack_uint64(pk, x->conn.conn_id);
  pk_key(pk, "req");
  pk_msg(pk, &x->req, 1);
  pk_key(pk, "resp");
  pk_msg(pk, &x->resp, 0);
  pk_key(pk, "ts");
  msgpack_pack_array(pk, 4);
  msgpack_pack_uint64(pk, x->t_req_first);
  msgpack_pack_uint64(pk, x->t_req_last);
  msgpack_pack_uint64(pk, x->t_resp_first);
  msgpack_pack_uint64(pk, x->t_resp_last);
  pk_key(pk, "flags");
  msgpack_pack_uint32(pk, x->flags);
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

static void pk_stats(msgpack_packer *pk, const struct sc_tf_stats *s) {
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
  msgpack_pack_map(pk, n + 1);
  pk_key(pk, "t");
  pk_cstr(pk, "s");
  for (size_t i = 0; i < n; i++) {
    pk_key(pk, f[i].k);
    msgpack_pack_uint64(pk, f[i].v);
  }
}

int sc_tf_writer_close(struct sc_tf_writer *w, const struct sc_tf_stats *stats, struct sc_error *err) {
  if (!w) return 0;
  int rc = w->failed;
  if (rc) {
    sc_error_set(err, rc, "traffic file '%s': writer failed earlier", w->path);
  } else {
    msgpack_sbuffer_clear(&w->sb);
    pk_stats(&w->pk, stats);
    rc = emit_frame(w, err);
    if (!rc) rc = stream_flush(w, ZSTD_e_end, err);
  }
  if (w->own_fd && close(w->fd) != 0 && !rc) {
    int e = errno;
    rc = sc_error_set(err, SC_EIO, "cannot close traffic file '%s': %s", w->path, strerror(e));
  }
  ZSTD_freeCCtx(w->cctx);
  msgpack_sbuffer_destroy(&w->sb);
  free(w->out);
  free(w->path);
  free(w);
  return rc;
}
