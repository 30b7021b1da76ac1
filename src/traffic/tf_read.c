/*
 * tf_read.c - the streaming traffic file reader. Reads the preamble, then
 * frames one at a time (length, CRC-32, msgpack map) from a plain or zstd
 * stream, never holding more than one frame plus one read chunk. Every byte is
 * untrusted: lengths are capped, the CRC is checked, the msgpack decoder
 * (mp_decode.c) bounds every element count by the bytes left, and every
 * field's type is validated. Stage: traffic.
 * Reference: schemas/traffic.md, msgpack spec, RFC 8878 (zstd).
 *
 * Invariants:
 *   1. d[start..end) holds decompressed stream bytes not yet consumed; base is
 *      the stream offset of d[0] (so a frame at d[start] is at base + start).
 *   2. After the first error, r->err_code != 0 and every call returns it.
 *   3. An EOF inside a frame (or before the trailer) is SC_ETRUNC; a frame
 *      whose bytes are all present but wrong is SC_ECORRUPT.
 */
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zstd.h>

#include "traffic/tf_internal.h"
#include "traffic/traffic.h"
#include "util/buf.h"
#include "util/check.h"
#include "util/limits.h"

#define CHUNK (64u << 10)

struct sc_tf_reader {
  char *path;
  int fd, own_fd;
  uint64_t src_size;      /* regular file or memory: its size; 0 unknown (pipe) */
  uint64_t src_bytes;     /* bytes taken from the source so far */
  const uint8_t *mem;     /* memory source (fuzzing, tests) */
  size_t mem_len, mem_pos;
  ZSTD_DCtx *dctx;        /* NULL when plain */
  uint8_t *in;            /* compressed input chunk */
  size_t in_len, in_pos;
  int src_eof;
  size_t zstd_pending;    /* last ZSTD_decompressStream hint (0 = frame complete) */
  int careful;            /* re-decoding one input byte per call after a zstd error */
  uint64_t skip;          /* careful mode: decompressed bytes already delivered */
  uint8_t *d;             /* see invariant 1 */
  size_t cap, start, end;
  uint64_t base;
  uint64_t preamble;      /* SC_TF_PREAMBLE_LEN for plain files (offsets are file offsets), 0 for zstd */
  uint64_t count;
  uint64_t frame_off;     /* offset of the frame being parsed */
  struct sc_tf_header hdr;
  struct sc_tf_stats stats;
  int have_stats;
  int err_code;
  struct sc_error saved;
  msgpack_unpacked unp;
  int lean_resp;          /* sc_tf_reader_skip_response_payload */
};

/* ---- byte source ------------------------------------------------------ */

static int src_read(struct sc_tf_reader *r, uint8_t *p, size_t n, size_t *got, struct sc_error *err) {
  *got = 0;
  if (r->mem) {
    size_t k = r->mem_len - r->mem_pos;
    if (k > n) k = n;
    memcpy(p, r->mem + r->mem_pos, k);
    r->mem_pos += k;
    *got = k;
    r->src_bytes += k;
    return 0;
  }
  for (;;) {
    ssize_t k = read(r->fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int e = errno;
      return sc_error_set(err, e == EISDIR ? SC_EINVAL : SC_EIO, "cannot read traffic file '%s': %s", r->path,
                          strerror(e));
    }
    *got = (size_t)k;
    r->src_bytes += (uint64_t)k;
    return 0;
  }
}

/* Makes room for at least `want` more bytes after end. */
static int room(struct sc_tf_reader *r, size_t want, struct sc_error *err) {
  if (r->start > 0 && (r->start == r->end || r->cap - r->end < want)) {
    memmove(r->d, r->d + r->start, r->end - r->start);
    r->end -= r->start;
    r->base += r->start;
    r->start = 0;
  }
  if (r->cap - r->end >= want) return 0;
  size_t nc = r->cap ? r->cap : CHUNK;
  while (nc - r->end < want) nc *= 2;
  uint8_t *nd = realloc(r->d, nc);
  if (!nd) return sc_error_set(err, SC_ENOMEM, "out of memory reading traffic file '%s'", r->path);
  r->d = nd;
  r->cap = nc;
  return 0;
}

/* After a zstd error, the output of the failing ZSTD_decompressStream call is
 * lost, and it may hold good blocks before the bad one. So the stream is
 * decoded again from the start, one input byte per call, dropping the bytes
 * already delivered: every good block then reaches the buffer before the error
 * is reported. Only possible for seekable sources. Returns 1 when restarted. */
static int restart_careful(struct sc_tf_reader *r) {
  if (r->careful) return 0;
  if (r->mem) {
    r->mem_pos = SC_TF_PREAMBLE_LEN;
  } else if (lseek(r->fd, SC_TF_PREAMBLE_LEN, SEEK_SET) != (off_t)SC_TF_PREAMBLE_LEN) {
    return 0;
  }
  ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
  r->careful = 1;
  r->skip = r->base + r->end;
  r->in_len = r->in_pos = 0;
  r->src_eof = 0;
  return 1;
}

/* Adds more decompressed bytes. Returns 0 (maybe with no progress at EOF: the
 * caller checks r->src_eof), or an error. */
static int fill_some(struct sc_tf_reader *r, struct sc_error *err) {
  int rc = room(r, CHUNK, err);
  if (rc) return rc;
  if (!r->dctx) {
    size_t got = 0;
    rc = src_read(r, r->d + r->end, r->cap - r->end, &got, err);
    if (rc) return rc;
    if (!got) r->src_eof = 1;
    r->end += got;
    return 0;
  }
  for (;;) {
    if (r->in_pos == r->in_len && !r->src_eof) {
      size_t got = 0;
      rc = src_read(r, r->in, ZSTD_DStreamInSize(), &got, err);
      if (rc) return rc;
      r->in_len = got;
      r->in_pos = 0;
      if (!got) r->src_eof = 1;
    }
    if (r->in_pos == r->in_len && r->src_eof) return 0;
    ZSTD_inBuffer ib = {r->in, r->careful ? r->in_pos + 1 : r->in_len, r->in_pos};
    ZSTD_outBuffer ob = {r->d, r->cap, r->end};
    size_t z = ZSTD_decompressStream(r->dctx, &ob, &ib);
    if (ZSTD_isError(z)) {
      if (restart_careful(r)) continue;
      return sc_error_set(err, SC_ECORRUPT, "%llu exchanges read; %s corrupt at decompressed byte %llu: zstd: %s",
                          (unsigned long long)r->count, r->path,
                          (unsigned long long)(r->base + r->end), ZSTD_getErrorName(z));
    }
    r->zstd_pending = z;
    r->in_pos = ib.pos;
    size_t produced = ob.pos - r->end;
    if (r->skip && produced) {
      size_t d = produced < r->skip ? produced : (size_t)r->skip;
      memmove(r->d + r->end, r->d + r->end + d, produced - d);
      produced -= d;
      r->skip -= d;
    }
    r->end += produced;
    if (produced) return 0;
    if (r->end == r->cap) return 0;
  }
}

/* Ensures `need` unconsumed bytes. Returns 1 when they are there, 0 at EOF
 * with fewer, or an error. */
static int fill(struct sc_tf_reader *r, size_t need, struct sc_error *err) {
  while (r->end - r->start < need) {
    if (r->src_eof && (!r->dctx || r->in_pos == r->in_len)) return 0;
    size_t before = r->end - r->start;
    int rc = fill_some(r, err);
    if (rc) return rc;
    if (r->end - r->start == before && r->src_eof && (!r->dctx || r->in_pos == r->in_len)) return 0;
  }
  return 1;
}

static int fail(struct sc_tf_reader *r, int code, struct sc_error *err, const char *reason) {
  const char *what = code == SC_ETRUNC ? "truncated" : "corrupt";
  sc_error_set(err, code, "%llu exchanges read; %s %s at %sbyte %llu: %s", (unsigned long long)r->count, r->path,
               what, r->dctx ? "decompressed " : "", (unsigned long long)(r->frame_off + r->preamble), reason);
  return code;
}

/* ---- typed field access ------------------------------------------------ */

static int key_is(const msgpack_object *k, const char *s) {
  size_t n = strlen(s);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

static int get_u64(const msgpack_object *o, uint64_t max, uint64_t *v) {
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) return -1;
  *v = o->via.u64;
  return 0;
}

/* str, bin or nil -> owned NUL-terminated copy (NULL for nil). */
static int get_bytes(const msgpack_object *o, int allow_nil, char **out, size_t *len) {
  const char *p;
  size_t n;
  if (o->type == MSGPACK_OBJECT_NIL && allow_nil) {
    free(*out);
    *out = NULL;
    if (len) *len = 0;
    return 0;
  }
  if (o->type == MSGPACK_OBJECT_STR) {
    p = o->via.str.ptr;
    n = o->via.str.size;
  } else if (o->type == MSGPACK_OBJECT_BIN) {
    p = o->via.bin.ptr;
    n = o->via.bin.size;
  } else {
    return -1;
  }
  char *c = sc_memdup0(p, n);
  if (!c) return -2;
  free(*out);
  *out = c;
  if (len) *len = n;
  return 0;
}

#define BAD(msg)       \
  do {                 \
    *why = (msg);      \
    return SC_ECORRUPT; \
  } while (0)
#define BYTES(o, nil, dst, len, name)                 \
  do {                                                \
    int b_ = get_bytes((o), (nil), (dst), (len));     \
    if (b_ == -2) return SC_ENOMEM;                   \
    if (b_) BAD("'" name "': expected a string");     \
  } while (0)

/* A message read into a fresh struct keeps method, target, reason,
 * headers[] and every header name and value in one allocation (m->arena,
 * see exchange.h) instead of one per string: sized by a first walk over the
 * map, filled by the same validating walk as before. A message that already
 * holds fields (the record repeats a key such as "req") is unshared first
 * and read the old way, one allocation per string. */
struct arena {
  struct sc_hdr *hdrs;         /* next free header slot */
  char *str, *end;             /* next free byte for strings, end of the block */
};

static int is_bytes(const msgpack_object *o) { return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN; }

static size_t bytes_size(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->type == MSGPACK_OBJECT_BIN ? o->via.bin.size : 0;
}

/* Header slots and string bytes (NULs included) the map's fields need. */
static void arena_need(const msgpack_object *o, size_t *n_hdrs, size_t *n_bytes) {
  *n_hdrs = *n_bytes = 0;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (key_is(k, "method") || key_is(k, "target") || key_is(k, "reason")) {
      if (is_bytes(v)) *n_bytes += bytes_size(v) + 1;
    } else if (key_is(k, "body")) {
      if (is_bytes(v) && bytes_size(v)) *n_bytes += bytes_size(v) + 1;
    } else if (key_is(k, "headers")) {
      if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > SC_TF_MAX_HEADERS_READ) continue;
      *n_hdrs += v->via.array.size;
      for (uint32_t j = 0; j < v->via.array.size; j++) {
        const msgpack_object *e = &v->via.array.ptr[j];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2) continue;
        for (int h = 0; h < 2; h++)
          if (is_bytes(&e->via.array.ptr[h])) *n_bytes += bytes_size(&e->via.array.ptr[h]) + 1;
      }
    }
  }
}

/* get_bytes into the arena (sized by arena_need, so it always fits). */
static int arena_bytes(struct arena *a, const msgpack_object *o, int allow_nil, char **out, size_t *len) {
  if (o->type == MSGPACK_OBJECT_NIL && allow_nil) {
    *out = NULL;
    if (len) *len = 0;
    return 0;
  }
  if (!is_bytes(o)) return -1;
  size_t n = bytes_size(o);
  SC_ASSERT(n < (size_t)(a->end - a->str));
  memcpy(a->str, o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr, n);
  a->str[n] = '\0';
  *out = a->str;
  a->str += n + 1;
  if (len) *len = n;
  return 0;
}

#define FIELD(o, nil, dst, len, name)                                                  \
  do {                                                                                 \
    int b_ = a ? arena_bytes(a, (o), (nil), (dst), (len)) : get_bytes((o), (nil), (dst), (len)); \
    if (b_ == -2) return SC_ENOMEM;                                                    \
    if (b_) BAD("'" name "': expected a string");                                      \
  } while (0)

static int read_headers(const msgpack_object *o, struct sc_http_msg *m, struct arena *a, const char **why) {
  if (o->type != MSGPACK_OBJECT_ARRAY) BAD("'headers': expected an array");
  size_t n = o->via.array.size;
  if (n > SC_TF_MAX_HEADERS_READ) BAD("'headers': too many header lines");
  if (!a) {
    for (size_t i = 0; i < m->n_headers; i++) {
      free(m->headers[i].name);
      free(m->headers[i].value);
    }
    free(m->headers);
  }
  m->headers = NULL;
  m->n_headers = 0;
  if (!n) return 0;
  if (a) {
    m->headers = a->hdrs;
    a->hdrs += n;
    memset(m->headers, 0, n * sizeof *m->headers);
  } else {
    m->headers = calloc(n, sizeof *m->headers);
    if (!m->headers) return SC_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const msgpack_object *e = &o->via.array.ptr[i];
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2) BAD("'headers': entry is not [name, value]");
    struct sc_hdr *h = &m->headers[i];
    m->n_headers = i + 1;
    int b1, b2;
    if (a) {
      b1 = arena_bytes(a, &e->via.array.ptr[0], 0, &h->name, &h->name_len);
      b2 = b1 ? 0 : arena_bytes(a, &e->via.array.ptr[1], 0, &h->value, &h->value_len);
    } else {
      b1 = get_bytes(&e->via.array.ptr[0], 0, &h->name, &h->name_len);
      b2 = b1 ? 0 : get_bytes(&e->via.array.ptr[1], 0, &h->value, &h->value_len);
    }
    if (b1 == -2 || b2 == -2) return SC_ENOMEM;
    if (b1 || b2) BAD("'headers': name or value is not a string");
  }
  return 0;
}

/* lean: only status, version and body_wire_len (see
 * sc_tf_reader_skip_response_payload); the other keys are skipped unread. */
static int read_msg(const msgpack_object *o, struct sc_http_msg *m, int lean, const char **why) {
  if (o->type != MSGPACK_OBJECT_MAP) BAD("'req'/'resp': expected a map");
  struct arena arena, *a = NULL;
  if (lean) {
    /* nothing to allocate */
  } else if (!m->method && !m->target && !m->reason && !m->headers && !m->body && (!m->arena || m->arena_cap)) {
    /* fresh, or emptied by sc_http_msg_clear with its block kept: the block
     * is reused when large enough (no allocation per record) */
    size_t nh, nb;
    arena_need(o, &nh, &nb);
    if (nh || nb) {
      size_t need = nh * sizeof(struct sc_hdr) + nb + 1;
      if (!m->arena || m->arena_cap < need) {
        free(m->arena);
        m->arena_cap = 0;
        size_t cap = need < 512 ? 512 : need; /* one size serves most records */
        m->arena = malloc(cap);
        if (!m->arena) return SC_ENOMEM;
        m->arena_cap = cap;
      }
      arena.hdrs = m->arena;
      arena.str = (char *)(arena.hdrs + nh);
      arena.end = arena.str + nb + 1;
      a = &arena;
    }
  } else if (sc_http_msg_unshare(m)) {
    return SC_ENOMEM;
  }
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    uint64_t u;
    if (lean && !key_is(k, "status") && !key_is(k, "version") && !key_is(k, "body_wire_len")) {
      continue;
    } else if (key_is(k, "method")) {
      FIELD(v, 1, &m->method, NULL, "method");
    } else if (key_is(k, "target")) {
      FIELD(v, 1, &m->target, NULL, "target");
    } else if (key_is(k, "reason")) {
      FIELD(v, 1, &m->reason, NULL, "reason");
    } else if (key_is(k, "status")) {
      if (get_u64(v, 999, &u)) BAD("'status': expected an integer 0..999");
      m->status = (int)u;
    } else if (key_is(k, "version")) {
      uint64_t a_, b;
      if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2 || get_u64(&v->via.array.ptr[0], 255, &a_) ||
          get_u64(&v->via.array.ptr[1], 255, &b))
        BAD("'version': expected [major, minor]");
      m->version_major = (uint8_t)a_;
      m->version_minor = (uint8_t)b;
    } else if (key_is(k, "headers")) {
      int rc = read_headers(v, m, a, why);
      if (rc) return rc;
    } else if (key_is(k, "body")) {
      if (a && !m->body) {
        char *b = NULL;
        size_t n = 0;
        if (is_bytes(v) && bytes_size(v) == 0) {
          /* an empty body is no body (arena_need left no room for it) */
        } else if (arena_bytes(a, v, 1, &b, &n)) {
          BAD("'body': expected binary");
        }
        m->body = (uint8_t *)b;
        m->body_len = n;
        continue;
      }
      char *b = sc_http_msg_body_in_arena(m) ? NULL : (char *)m->body;
      int g = get_bytes(v, 1, &b, &m->body_len);
      if (g == -2) return SC_ENOMEM;
      if (g) BAD("'body': expected binary");
      m->body = (uint8_t *)b;
      if (m->body && m->body_len == 0) {
        free(m->body);
        m->body = NULL;
      }
    } else if (key_is(k, "body_wire_len")) {
      if (get_u64(v, UINT64_MAX, &m->body_wire_len)) BAD("'body_wire_len': expected an unsigned integer");
    }
  }
  return 0;
}

static int read_conn(const msgpack_object *o, struct sc_conn_info *c, const char **why) {
  if (o->type != MSGPACK_OBJECT_MAP) BAD("'conn': expected a map");
  const msgpack_object *cli = NULL, *srv = NULL;
  uint64_t u;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (key_is(k, "family")) {
      if (get_u64(v, 6, &u) || (u != 4 && u != 6)) BAD("'family': expected 4 or 6");
      c->family = (uint8_t)u;
    } else if (key_is(k, "client")) {
      cli = v;
    } else if (key_is(k, "server")) {
      srv = v;
    } else if (key_is(k, "client_port")) {
      if (get_u64(v, 65535, &u)) BAD("'client_port': expected 0..65535");
      c->client_port = (uint16_t)u;
    } else if (key_is(k, "server_port")) {
      if (get_u64(v, 65535, &u)) BAD("'server_port': expected 0..65535");
      c->server_port = (uint16_t)u;
    } else if (key_is(k, "conn_id")) {
      if (get_u64(v, UINT64_MAX, &c->conn_id)) BAD("'conn_id': expected an unsigned integer");
    }
  }
  size_t alen = c->family == 6 ? 16 : 4;
  if (!c->family) c->family = 4;
  if (cli) {
    if (cli->type != MSGPACK_OBJECT_BIN || cli->via.bin.size != alen) BAD("'client': address of wrong size");
    memcpy(c->client_addr, cli->via.bin.ptr, alen);
  }
  if (srv) {
    if (srv->type != MSGPACK_OBJECT_BIN || srv->via.bin.size != alen) BAD("'server': address of wrong size");
    memcpy(c->server_addr, srv->via.bin.ptr, alen);
  }
  return 0;
}

static int read_exchange(const msgpack_object *o, struct sc_exchange *x, int lean_resp, const char **why) {
  int rc = 0;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (key_is(k, "id")) {
      if (get_u64(v, UINT64_MAX, &x->id)) BAD("'id': expected an unsigned integer");
    } else if (key_is(k, "conn")) {
      rc = read_conn(v, &x->conn, why);
    } else if (key_is(k, "req")) {
      rc = read_msg(v, &x->req, 0, why);
    } else if (key_is(k, "resp")) {
      rc = read_msg(v, &x->resp, lean_resp, why);
    } else if (key_is(k, "ts")) {
      uint64_t t[4];
      if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 4) BAD("'ts': expected 4 timestamps");
      for (int j = 0; j < 4; j++)
        if (get_u64(&v->via.array.ptr[j], UINT64_MAX, &t[j])) BAD("'ts': expected unsigned integers");
      x->t_req_first = t[0];
      x->t_req_last = t[1];
      x->t_resp_first = t[2];
      x->t_resp_last = t[3];
    } else if (key_is(k, "flags")) {
      uint64_t u;
      if (get_u64(v, UINT32_MAX, &u)) BAD("'flags': expected a 32-bit unsigned integer");
      x->flags = (uint32_t)u;
    }
    if (rc) return rc;
  }
  return 0;
}

static int read_header_map(const msgpack_object *o, struct sc_tf_header *h, int *zstd_named, const char **why) {
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    uint64_t u;
    if (key_is(k, "version")) {
      if (get_u64(v, UINT32_MAX, &u)) BAD("'version': expected an unsigned integer");
      h->version = (uint32_t)u;
    } else if (key_is(k, "created_ns")) {
      if (get_u64(v, UINT64_MAX, &h->created_ns)) BAD("'created_ns': expected an unsigned integer");
    } else if (key_is(k, "source_kind")) {
      BYTES(v, 1, &h->source_kind, NULL, "source_kind");
    } else if (key_is(k, "source")) {
      BYTES(v, 1, &h->source, NULL, "source");
    } else if (key_is(k, "filter")) {
      BYTES(v, 1, &h->filter, NULL, "filter");
    } else if (key_is(k, "host")) {
      BYTES(v, 1, &h->host, NULL, "host");
    } else if (key_is(k, "tool")) {
      BYTES(v, 1, &h->tool, NULL, "tool");
    } else if (key_is(k, "compression")) {
      *zstd_named = v->type == MSGPACK_OBJECT_STR && v->via.str.size == 4 && !memcmp(v->via.str.ptr, "zstd", 4);
    } else if (key_is(k, "redactions")) {
      if (v->type != MSGPACK_OBJECT_ARRAY) BAD("'redactions': expected an array");
      for (uint32_t j = 0; j < h->n_redactions; j++) free(h->redactions[j]);
      free(h->redactions);
      h->n_redactions = 0;
      h->redactions = calloc(v->via.array.size + 1, sizeof *h->redactions);
      if (!h->redactions) return SC_ENOMEM;
      for (uint32_t j = 0; j < v->via.array.size; j++) {
        h->n_redactions = j + 1;
        BYTES(&v->via.array.ptr[j], 0, &h->redactions[j], NULL, "redactions");
      }
    }
  }
  return 0;
}

static int read_stats_map(const msgpack_object *o, struct sc_tf_stats *s, const char **why) {
  struct {
    const char *k;
    uint64_t *v;
  } f[] = {
      {"packets", &s->packets}, {"bytes", &s->bytes}, {"connections", &s->connections},
      {"exchanges", &s->exchanges}, {"unpaired_requests", &s->unpaired_requests},
      {"unpaired_responses", &s->unpaired_responses}, {"kernel_drops", &s->kernel_drops},
      {"iface_drops", &s->iface_drops}, {"stream_gaps", &s->stream_gaps},
      {"truncated_bodies", &s->truncated_bodies}, {"parse_errors", &s->parse_errors},
      {"non_http_flows", &s->non_http_flows}, {"ip_fragments", &s->ip_fragments},
      {"mem_evictions", &s->mem_evictions}, {"idle_evictions", &s->idle_evictions},
      {"first_ts_ns", &s->first_ts_ns}, {"last_ts_ns", &s->last_ts_ns},
  };
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
      if (key_is(k, f[j].k) && get_u64(v, UINT64_MAX, f[j].v)) BAD("trailer: counter is not an unsigned integer");
  }
  return 0;
}

/* ---- frames -------------------------------------------------------------- */

enum frame_kind { FK_HEADER = 'h', FK_EXCHANGE = 'x', FK_STATS = 's', FK_OTHER = '?', FK_EOF = 0 };

/* Reads the next frame into r->unp. Returns the frame kind, FK_EOF at a clean
 * end of the stream (no bytes left), or a negative error (err set). */
static int next_frame(struct sc_tf_reader *r, uint32_t max_len, const msgpack_object **map, struct sc_error *err) {
  r->frame_off = r->base + r->start;
  int f = fill(r, SC_TF_FRAME_PREFIX, err);
  if (f < 0) return f;
  if (f == 0) {
    if (r->end == r->start) return FK_EOF; /* the caller decides whether that is clean */
    return fail(r, SC_ETRUNC, err, "file ends inside a frame header");
  }
  const uint8_t *p = r->d + r->start;
  uint32_t len = (uint32_t)sc_tf_be(p, 4), crc = (uint32_t)sc_tf_be(p + 4, 4);
  if (len == 0 || len > max_len) {
    char why[96];
    snprintf(why, sizeof why, "frame length %u out of range (1..%u)", len, max_len);
    return fail(r, SC_ECORRUPT, err, why);
  }
  f = fill(r, SC_TF_FRAME_PREFIX + (size_t)len, err);
  if (f < 0) return f;
  if (f == 0) return fail(r, SC_ETRUNC, err, "file ends inside a frame");
  p = r->d + r->start + SC_TF_FRAME_PREFIX;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* (fuzz builds skip the check so mutations reach the msgpack decoder);
   * libdeflate's CRC-32 is zlib's, 3-4x faster (PCLMUL) */
  if (libdeflate_crc32(0, p, len) != crc) return fail(r, SC_ECORRUPT, err, "checksum mismatch");
#else
  (void)crc;
#endif
  const char *why = NULL;
  /* one zone for the reader's life, emptied per frame */
  if (r->unp.zone) msgpack_zone_clear(r->unp.zone);
  else r->unp.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  if (!r->unp.zone) return sc_error_set(err, SC_ENOMEM, "out of memory reading '%s'", r->path);
  int dr = sc_tf_mp_decode(p, len, r->unp.zone, &r->unp.data, &why);
  if (dr == SC_TF_MP_NOMEM) return sc_error_set(err, SC_ENOMEM, "out of memory reading '%s'", r->path);
  if (dr) return fail(r, SC_ECORRUPT, err, why);
  const msgpack_object *o = &r->unp.data;
  if (o->type != MSGPACK_OBJECT_MAP) return fail(r, SC_ECORRUPT, err, "record is not a map");
  r->start += SC_TF_FRAME_PREFIX + (size_t)len;
  *map = o;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (key_is(k, "t")) {
      if (v->type != MSGPACK_OBJECT_STR || v->via.str.size != 1) return fail(r, SC_ECORRUPT, err, "'t': expected a one-letter string");
      char t = v->via.str.ptr[0];
      return t == 'h' || t == 'x' || t == 's' ? t : FK_OTHER;
    }
  }
  return fail(r, SC_ECORRUPT, err, "record has no type key 't'");
}

static int reader_open_common(struct sc_tf_reader *r, struct sc_error *err) {
  int rc = 0;
  uint8_t pre[SC_TF_PREAMBLE_LEN];
  size_t have = 0;
  while (have < sizeof pre) {
    size_t got = 0;
    rc = src_read(r, pre + have, sizeof pre - have, &got, err);
    if (rc) return rc;
    if (!got) break;
    have += got;
  }
  if (have == 0) return sc_error_set(err, SC_EPARSE_MSGPACK, "'%s' is empty, not a shadowctl traffic file", r->path);
  if (have < 4 && memcmp(pre, SC_TF_MAGIC, have) == 0)
    return sc_error_set(err, SC_ETRUNC, "0 exchanges read; %s truncated at byte %zu: file ends inside the magic",
                        r->path, have);
  if (have < 4 || memcmp(pre, SC_TF_MAGIC, 4) != 0)
    return sc_error_set(err, SC_EPARSE_MSGPACK, "'%s' is not a shadowctl traffic file (bad magic)", r->path);
  if (have < sizeof pre)
    return sc_error_set(err, SC_ETRUNC, "0 exchanges read; %s truncated at byte %zu: file ends inside the preamble",
                        r->path, have);
  if (pre[4] != SC_TF_VERSION)
    return sc_error_set(err, SC_EVERSION, "'%s': traffic file format version %u is not supported (this shadowctl reads %u)",
                        r->path, pre[4], SC_TF_VERSION);
  if (pre[5] & ~SC_TF_FLAG_ZSTD)
    return sc_error_set(err, SC_EVERSION, "'%s': unknown traffic file flags 0x%02x", r->path, pre[5]);
  if (pre[5] & SC_TF_FLAG_ZSTD) {
    r->dctx = ZSTD_createDCtx();
    r->in = malloc(ZSTD_DStreamInSize());
    if (!r->dctx || !r->in) return sc_error_set(err, SC_ENOMEM, "out of memory");
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, SC_TF_ZSTD_WINDOW_LOG_MAX);
  } else {
    r->preamble = SC_TF_PREAMBLE_LEN;
  }
  const msgpack_object *o = NULL;
  int k = next_frame(r, SC_MAX_HEADER_RECORD, &o, err);
  if (k < 0) return k;
  if (k == FK_EOF) {
    r->frame_off = r->base + r->start;
    return fail(r, SC_ETRUNC, err, "no header record");
  }
  if (k != FK_HEADER) return fail(r, SC_ECORRUPT, err, "first record is not the file header");
  const char *why = NULL;
  int zstd_named = 0;
  rc = read_header_map(o, &r->hdr, &zstd_named, &why);
  if (rc == SC_ENOMEM) return sc_error_set(err, rc, "out of memory");
  if (rc) return fail(r, rc, err, why);
  if (r->hdr.version != SC_TF_VERSION)
    return sc_error_set(err, SC_EVERSION, "'%s': header says format version %u, this shadowctl reads %u", r->path,
                        r->hdr.version, SC_TF_VERSION);
  return 0;
}

static int reader_new(struct sc_tf_reader **out, const char *name, struct sc_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return sc_error_set(err, SC_ENOMEM, "out of memory");
  (*out)->fd = -1;
  (*out)->path = strdup(name ? name : "-");
  msgpack_unpacked_init(&(*out)->unp);
  if (!(*out)->path) {
    sc_tf_reader_close(*out);
    *out = NULL;
    return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  return 0;
}

int sc_tf_reader_open(struct sc_tf_reader **out, const char *path, struct sc_error *err) {
  struct sc_tf_reader *r = NULL;
  *out = NULL;
  int rc = reader_new(&r, path, err);
  if (rc) return rc;
  if (!strcmp(r->path, "-")) {
    r->fd = STDIN_FILENO;
  } else {
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
      int e = errno;
      rc = sc_error_set(err, e == ENOENT ? SC_ENOENT : e == EACCES ? SC_EACCES : SC_EIO,
                        "cannot open traffic file '%s': %s", r->path, strerror(e));
      goto out;
    }
    r->own_fd = 1;
    struct stat st;
    if (!fstat(r->fd, &st) && S_ISREG(st.st_mode)) r->src_size = (uint64_t)st.st_size;
  }
  rc = reader_open_common(r, err);
out:
  if (rc) {
    sc_tf_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

int sc_tf_reader_open_mem(struct sc_tf_reader **out, const void *data, size_t len, const char *name,
                          struct sc_error *err) {
  struct sc_tf_reader *r = NULL;
  *out = NULL;
  int rc = reader_new(&r, name ? name : "<memory>", err);
  if (rc) return rc;
  static const uint8_t empty[1];
  r->mem = data ? data : empty;
  r->mem_len = data ? len : 0;
  rc = reader_open_common(r, err);
  if (rc) {
    sc_tf_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

void sc_tf_reader_skip_response_payload(struct sc_tf_reader *r, int on) { r->lean_resp = on != 0; }

const struct sc_tf_header *sc_tf_reader_header(const struct sc_tf_reader *r) { return &r->hdr; }

int sc_tf_reader_compressed(const struct sc_tf_reader *r) { return r->dctx != NULL; }

/* Arena blocks up to this size stay with the caller's exchange between
 * records (sc_exchange_clear): the next record reuses the block. */
#define TF_ARENA_KEEP (64u << 10)

static int tf_next(struct sc_tf_reader *r, struct sc_exchange *x, struct sc_error *err) {
  sc_exchange_clear(x, TF_ARENA_KEEP);
  if (r->err_code) {
    if (err) *err = r->saved;
    return r->err_code;
  }
  if (r->have_stats) return 0;
  int rc = 0;
  for (;;) {
    const msgpack_object *o = NULL;
    int k = next_frame(r, SC_MAX_RECORD_BYTES, &o, err);
    if (k < 0) {
      rc = k;
      break;
    }
    if (k == FK_EOF) {
      rc = fail(r, SC_ETRUNC, err,
                r->dctx && r->zstd_pending ? "compressed stream cut (data after the last flush point is lost)"
                                           : "no trailer record (capture interrupted?)");
      break;
    }
    const char *why = NULL;
    if (k == FK_EXCHANGE) {
      rc = read_exchange(o, x, r->lean_resp, &why);
      if (rc == SC_ENOMEM) {
        sc_error_set(err, rc, "out of memory reading '%s'", r->path);
        break;
      }
      if (rc) {
        sc_exchange_release(x);
        rc = fail(r, rc, err, why);
        break;
      }
      r->count++;
      return 1;
    }
    if (k == FK_STATS) {
      rc = read_stats_map(o, &r->stats, &why);
      if (rc) {
        rc = fail(r, rc, err, why);
        break;
      }
      r->frame_off = r->base + r->start;
      int f = fill(r, 1, err);
      if (f < 0) {
        rc = f;
        break;
      }
      if (f > 0) {
        rc = fail(r, SC_ECORRUPT, err, "data after the trailer record");
        break;
      }
      if (r->dctx && r->zstd_pending) {
        rc = fail(r, SC_ETRUNC, err, "compressed stream ends before its end mark");
        break;
      }
      r->have_stats = 1;
      return 0;
    }
    if (k == FK_HEADER) {
      rc = fail(r, SC_ECORRUPT, err, "second header record");
      break;
    }
    /* FK_OTHER: a record type from a newer writer; skipped. */
  }
  r->err_code = rc;
  if (err) r->saved = *err;
  else sc_error_set(&r->saved, rc, "%s", sc_strerror(rc));
  return rc;
}

int sc_tf_reader_next(struct sc_tf_reader *r, struct sc_exchange *x, struct sc_error *err) {
  int rc = tf_next(r, x, err);
  if (rc != 1) sc_exchange_release(x); /* nothing kept once the reading ends */
  return rc;
}

const struct sc_tf_stats *sc_tf_reader_stats(const struct sc_tf_reader *r) {
  return r->have_stats ? &r->stats : NULL;
}

uint64_t sc_tf_reader_count(const struct sc_tf_reader *r) { return r->count; }

uint64_t sc_tf_reader_offset(const struct sc_tf_reader *r) { return r->base + r->start + r->preamble; }

double sc_tf_reader_progress(const struct sc_tf_reader *r) {
  uint64_t size = r->mem ? r->mem_len : r->src_size;
  if (!size) return -1;
  /* plain: the parse offset is a file offset; zstd: compressed bytes handed
   * to the decoder (it decodes ahead by at most one block) */
  uint64_t used = r->dctx ? r->src_bytes - (r->in_len - r->in_pos) : sc_tf_reader_offset(r);
  double f = (double)used / (double)size;
  return f > 1 ? 1 : f;
}

void sc_tf_reader_close(struct sc_tf_reader *r) {
  if (!r) return;
  if (r->own_fd) close(r->fd);
  ZSTD_freeDCtx(r->dctx);
  free(r->in);
  free(r->d);
  msgpack_unpacked_destroy(&r->unp);
  sc_tf_header_release(&r->hdr);
  free(r->path);
  free(r);
}

void sc_tf_header_release(struct sc_tf_header *h) {
  if (!h) return;
  free(h->source_kind);
  free(h->source);
  free(h->filter);
  free(h->host);
  free(h->tool);
  for (uint32_t i = 0; i < h->n_redactions; i++) free(h->redactions[i]);
  free(h->redactions);
  memset(h, 0, sizeof *h);
}
