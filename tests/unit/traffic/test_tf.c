/* test_tf.c - src/traffic/tf_write.c, tf_read.c, exchange.c: the traffic file
 * round-trips every field, tolerates unknown keys, and reports truncation and
 * corruption precisely without losing the good exchanges before them. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "traffic/traffic.h"
#include "util/buf.h"

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  cr_assert_not_null(d);
  return d;
}

static void add_hdr(struct sc_http_msg *m, const char *n, const char *v, size_t vlen) {
  m->headers = realloc(m->headers, (m->n_headers + 1) * sizeof *m->headers);
  cr_assert_not_null(m->headers);
  struct sc_hdr *h = &m->headers[m->n_headers++];
  h->name = xstrdup(n);
  h->name_len = strlen(n);
  h->value = sc_memdup0(v, vlen);
  h->value_len = vlen;
}

struct variant {
  const char *name;
  int compress, family, empty_bodies, binary_bodies, big_header;
};

static void make_exchange(struct sc_exchange *x, uint64_t id, const struct variant *v) {
  memset(x, 0, sizeof *x);
  x->id = id;
  x->conn.family = (uint8_t)v->family;
  for (int i = 0; i < 16; i++) {
    x->conn.client_addr[i] = (uint8_t)(i + 1);
    x->conn.server_addr[i] = (uint8_t)(0xf0 + i);
  }
  if (v->family == 4) {
    memset(x->conn.client_addr + 4, 0, 12);
    memset(x->conn.server_addr + 4, 0, 12);
  }
  x->conn.client_port = 54321;
  x->conn.server_port = 8080;
  x->conn.conn_id = 7 + id;
  x->req.method = xstrdup("POST");
  x->req.target = xstrdup("/v1/score?x=1&y=%20");
  x->req.version_major = 1;
  x->req.version_minor = 1;
  add_hdr(&x->req, "Host", "svc", 3);
  add_hdr(&x->req, "x-MiXeD-Case", "Value With Spaces", 17);
  if (v->big_header) {
    size_t n = 64 * 1024;
    char *big = malloc(n);
    memset(big, 'h', n);
    add_hdr(&x->req, "X-Big", big, n);
    free(big);
  }
  add_hdr(&x->req, "Empty", "", 0);
  x->resp.status = 201;
  x->resp.reason = xstrdup("Created");
  x->resp.version_major = 1;
  x->resp.version_minor = 0;
  add_hdr(&x->resp, "Content-Type", "application/json", 16);
  if (!v->empty_bodies) {
    size_t n = 300 + id;
    x->req.body = malloc(n + 1);
    for (size_t i = 0; i < n; i++) x->req.body[i] = v->binary_bodies ? (uint8_t)(i * 7 + id) : (uint8_t)('a' + i % 26);
    x->req.body[n] = 0;
    x->req.body_len = n;
    x->req.body_wire_len = n + 1000;
    x->resp.body = (uint8_t *)xstrdup("{\"score\":0.5}");
    x->resp.body_len = 13;
    x->resp.body_wire_len = 13;
  }
  x->t_req_first = 1767225600000000000ull + id * 1000;
  x->t_req_last = x->t_req_first + 10;
  x->t_resp_first = x->t_req_last + 5000000;
  x->t_resp_last = x->t_resp_first + 20;
  x->flags = SC_XF_REQ_TRUNCATED | SC_XF_RESP_CHUNKED | (uint32_t)(id << 20);
}

static void assert_msg_eq(const struct sc_http_msg *a, const struct sc_http_msg *b) {
  cr_assert_str_eq(a->method ? a->method : "", b->method ? b->method : "");
  cr_assert_str_eq(a->target ? a->target : "", b->target ? b->target : "");
  cr_assert_str_eq(a->reason ? a->reason : "", b->reason ? b->reason : "");
  cr_assert_eq(a->status, b->status);
  cr_assert_eq(a->version_major, b->version_major);
  cr_assert_eq(a->version_minor, b->version_minor);
  cr_assert_eq(a->n_headers, b->n_headers);
  for (size_t i = 0; i < a->n_headers; i++) {
    cr_assert_eq(a->headers[i].name_len, b->headers[i].name_len);
    cr_assert_eq(memcmp(a->headers[i].name, b->headers[i].name, a->headers[i].name_len), 0);
    cr_assert_eq(a->headers[i].value_len, b->headers[i].value_len);
    cr_assert_eq(memcmp(a->headers[i].value, b->headers[i].value, a->headers[i].value_len), 0);
  }
  cr_assert_eq(a->body_len, b->body_len);
  if (a->body_len) cr_assert_eq(memcmp(a->body, b->body, a->body_len), 0);
  cr_assert_eq(a->body_wire_len, b->body_wire_len);
}

static void assert_exchange_eq(const struct sc_exchange *a, const struct sc_exchange *b) {
  cr_assert_eq(a->id, b->id);
  cr_assert_eq(a->conn.family, b->conn.family);
  size_t al = a->conn.family == 6 ? 16 : 4;
  cr_assert_eq(memcmp(a->conn.client_addr, b->conn.client_addr, al), 0);
  cr_assert_eq(memcmp(a->conn.server_addr, b->conn.server_addr, al), 0);
  cr_assert_eq(a->conn.client_port, b->conn.client_port);
  cr_assert_eq(a->conn.server_port, b->conn.server_port);
  cr_assert_eq(a->conn.conn_id, b->conn.conn_id);
  assert_msg_eq(&a->req, &b->req);
  assert_msg_eq(&a->resp, &b->resp);
  cr_assert_eq(a->t_req_first, b->t_req_first);
  cr_assert_eq(a->t_req_last, b->t_req_last);
  cr_assert_eq(a->t_resp_first, b->t_resp_first);
  cr_assert_eq(a->t_resp_last, b->t_resp_last);
  cr_assert_eq(a->flags, b->flags);
}

static char *tmpname(void) {
  char *p = xstrdup("/tmp/sc_test_tf_XXXXXX");
  int fd = mkstemp(p);
  cr_assert(fd >= 0);
  close(fd);
  return p;
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  struct sc_buf b;
  sc_buf_init(&b, 1u << 30);
  char tmp[65536];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) cr_assert_eq(sc_buf_append(&b, tmp, k), SC_OK);
  fclose(f);
  return (uint8_t *)sc_buf_take(&b, n);
}

static const char *redactions[] = {"header:Authorization", "json:$.card.number"};

/* Writes n exchanges of variant v; flush_each makes each exchange readable on
 * its own (ends[i] = file size after exchange i's flush). */
static void write_file(const char *path, const struct variant *v, int n, int flush_each, long *ends, int trailer) {
  struct sc_error err;
  sc_error_init(&err);
  struct sc_tf_header h = {.version = SC_TF_VERSION, .created_ns = 42, .source_kind = "file", .source = "x.pcap",
                           .filter = "tcp port 80", .host = "h1", .redactions = (char **)redactions,
                           .n_redactions = 2, .tool = "test"};
  struct sc_tf_writer *w = NULL;
  cr_assert_eq(sc_tf_writer_open(&w, path, &h, v->compress, &err), 0, "%s", err.msg);
  for (int i = 1; i <= n; i++) {
    struct sc_exchange x;
    make_exchange(&x, (uint64_t)i, v);
    cr_assert_eq(sc_tf_writer_append(w, &x, &err), 0, "%s", err.msg);
    sc_exchange_release(&x);
    if (flush_each) {
      cr_assert_eq(sc_tf_writer_flush(w, &err), 0, "%s", err.msg);
      struct stat st;
      cr_assert_eq(stat(path, &st), 0);
      if (ends) ends[i - 1] = (long)st.st_size;
    }
  }
  struct sc_tf_stats s;
  memset(&s, 0, sizeof s);
  s.packets = 1000;
  s.exchanges = (uint64_t)n;
  s.kernel_drops = 3;
  s.last_ts_ns = 99;
  if (trailer) {
    cr_assert_eq(sc_tf_writer_close(w, &s, &err), 0, "%s", err.msg);
  } else {
    /* simulate a killed writer: flushed, never closed (fd leak accepted in a test) */
    cr_assert_eq(sc_tf_writer_flush(w, &err), 0);
  }
}

static const struct variant variants[] = {
  {"zstd-v4", 1, 4, 0, 0, 0},        {"plain-v4", 0, 4, 0, 0, 0},      {"zstd-v6", 1, 6, 0, 0, 0},
  {"plain-v6", 0, 6, 0, 0, 0},       {"empty-bodies", 1, 4, 1, 0, 0},  {"binary-plain", 0, 6, 0, 1, 0},
  {"binary-zstd", 1, 4, 0, 1, 0},    {"64k-header-zstd", 1, 4, 0, 0, 1}, {"64k-header-plain", 0, 6, 1, 0, 1},
};

Test(tf, round_trip_every_variant) {
  for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
    const struct variant *v = &variants[vi];
    char *path = tmpname();
    write_file(path, v, 20, 0, NULL, 1);
    struct sc_error err;
    sc_error_init(&err);
    struct sc_tf_reader *r = NULL;
    cr_assert_eq(sc_tf_reader_open(&r, path, &err), 0, "%s: %s", v->name, err.msg);
    const struct sc_tf_header *h = sc_tf_reader_header(r);
    cr_assert_eq(h->version, SC_TF_VERSION);
    cr_assert_eq(h->created_ns, 42);
    cr_assert_str_eq(h->source_kind, "file");
    cr_assert_str_eq(h->source, "x.pcap");
    cr_assert_str_eq(h->filter, "tcp port 80");
    cr_assert_str_eq(h->host, "h1");
    cr_assert_str_eq(h->tool, "test");
    cr_assert_eq(h->n_redactions, 2);
    cr_assert_str_eq(h->redactions[1], "json:$.card.number");
    cr_assert_eq(sc_tf_reader_compressed(r), v->compress);
    struct sc_exchange x, want;
    memset(&x, 0, sizeof x);
    int rc, n = 0;
    cr_assert_null(sc_tf_reader_stats(r));
    while ((rc = sc_tf_reader_next(r, &x, &err)) == 1) {
      n++;
      make_exchange(&want, (uint64_t)n, v);
      assert_exchange_eq(&x, &want);
      sc_exchange_release(&want);
    }
    cr_assert_eq(rc, 0, "%s: %s", v->name, err.msg);
    cr_assert_eq(n, 20, "%s", v->name);
    cr_assert_eq(sc_tf_reader_count(r), 20);
    const struct sc_tf_stats *s = sc_tf_reader_stats(r);
    cr_assert_not_null(s);
    cr_assert_eq(s->packets, 1000);
    cr_assert_eq(s->kernel_drops, 3);
    cr_assert_eq(s->last_ts_ns, 99);
    cr_assert_eq(sc_tf_reader_next(r, &x, &err), 0, "reads past the end stay at the end");
    sc_tf_reader_close(r);
    unlink(path);
    free(path);
  }
}

/* Replay's reading: the response keeps its status, version and wire length
 * only; the request and everything else come through whole. */
Test(tf, skip_response_payload_keeps_the_request_and_the_status) {
  for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
    const struct variant *v = &variants[vi];
    char *path = tmpname();
    write_file(path, v, 12, 0, NULL, 1);
    struct sc_error err;
    sc_error_init(&err);
    struct sc_tf_reader *r = NULL;
    cr_assert_eq(sc_tf_reader_open(&r, path, &err), 0, "%s: %s", v->name, err.msg);
    sc_tf_reader_skip_response_payload(r, 1);
    struct sc_exchange x, want;
    memset(&x, 0, sizeof x);
    int rc, n = 0;
    while ((rc = sc_tf_reader_next(r, &x, &err)) == 1) {
      n++;
      make_exchange(&want, (uint64_t)n, v);
      assert_msg_eq(&x.req, &want.req);
      cr_assert_eq(x.id, want.id);
      cr_assert_eq(x.t_req_first, want.t_req_first);
      cr_assert_eq(x.t_resp_last, want.t_resp_last);
      cr_assert_eq(x.flags, want.flags);
      cr_assert_eq(x.resp.status, want.resp.status, "%s", v->name);
      cr_assert_eq(x.resp.version_major, want.resp.version_major);
      cr_assert_eq(x.resp.body_wire_len, want.resp.body_wire_len);
      cr_assert_eq(x.resp.n_headers, 0);
      cr_assert_null(x.resp.headers);
      cr_assert_null(x.resp.body);
      cr_assert_null(x.resp.reason);
      cr_assert_null(x.resp.arena);
      sc_exchange_release(&want);
    }
    cr_assert_eq(rc, 0, "%s: %s", v->name, err.msg);
    cr_assert_eq(n, 12);
    sc_tf_reader_skip_response_payload(r, 0); /* off again: nothing left to read, no harm */
    sc_tf_reader_close(r);
    unlink(path);
    free(path);
  }
}

Test(tf, files_are_mode_0600_even_if_they_existed) {
  char *path = tmpname();
  cr_assert_eq(chmod(path, 0644), 0);
  const struct variant v = {"p", 0, 4, 0, 0, 0};
  write_file(path, &v, 1, 0, NULL, 1);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0600);
  unlink(path);
  write_file(path, &v, 1, 0, NULL, 1);
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0600);
  unlink(path);
  free(path);
}

/* ---- hand-written frames (forward compatibility) ---- */

static void pk_s(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

static void frame(struct sc_buf *out, msgpack_sbuffer *sb) {
  uint32_t n = (uint32_t)sb->size, c = (uint32_t)crc32(0L, (const Bytef *)sb->data, n);
  uint8_t p[8] = {n >> 24, n >> 16, n >> 8, n, c >> 24, c >> 16, c >> 8, c};
  cr_assert_eq(sc_buf_append(out, p, 8), 0);
  cr_assert_eq(sc_buf_append(out, sb->data, sb->size), 0);
  msgpack_sbuffer_clear(sb);
}

Test(tf, unknown_keys_and_record_types_are_skipped) {
  struct sc_buf out;
  sc_buf_init(&out, 1 << 20);
  cr_assert_eq(sc_buf_append(&out, "SHDW\x01\x00\x00\x00", 8), 0);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  /* header with a key from the future */
  msgpack_pack_map(&pk, 3);
  pk_s(&pk, "t"); pk_s(&pk, "h");
  pk_s(&pk, "future_key"); msgpack_pack_array(&pk, 2); msgpack_pack_nil(&pk); msgpack_pack_double(&pk, 1.5);
  pk_s(&pk, "version"); msgpack_pack_uint8(&pk, 1);
  frame(&out, &sb);
  /* a record type this reader does not know */
  msgpack_pack_map(&pk, 2);
  pk_s(&pk, "t"); pk_s(&pk, "z");
  pk_s(&pk, "payload"); msgpack_pack_bin(&pk, 3); msgpack_pack_bin_body(&pk, "abc", 3);
  frame(&out, &sb);
  /* an exchange with unknown keys at every level */
  msgpack_pack_map(&pk, 6);
  pk_s(&pk, "new_top"); msgpack_pack_map(&pk, 1); pk_s(&pk, "a"); msgpack_pack_int(&pk, -5);
  pk_s(&pk, "t"); pk_s(&pk, "x");
  pk_s(&pk, "id"); msgpack_pack_uint64(&pk, 77);
  pk_s(&pk, "conn"); msgpack_pack_map(&pk, 3);
  pk_s(&pk, "family"); msgpack_pack_uint8(&pk, 6);
  pk_s(&pk, "server"); msgpack_pack_bin(&pk, 16); msgpack_pack_bin_body(&pk, "0123456789abcdef", 16);
  pk_s(&pk, "tls"); msgpack_pack_true(&pk);
  pk_s(&pk, "req"); msgpack_pack_map(&pk, 3);
  pk_s(&pk, "method"); pk_s(&pk, "GET");
  pk_s(&pk, "h2_stream"); msgpack_pack_uint8(&pk, 3);
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 1); msgpack_pack_array(&pk, 2); pk_s(&pk, "A"); pk_s(&pk, "b");
  pk_s(&pk, "resp"); msgpack_pack_map(&pk, 1);
  pk_s(&pk, "status"); msgpack_pack_uint16(&pk, 404);
  frame(&out, &sb);
  msgpack_pack_map(&pk, 2);
  pk_s(&pk, "t"); pk_s(&pk, "s");
  pk_s(&pk, "packets"); msgpack_pack_uint8(&pk, 9);
  frame(&out, &sb);
  msgpack_sbuffer_destroy(&sb);

  struct sc_error err;
  sc_error_init(&err);
  struct sc_tf_reader *r = NULL;
  cr_assert_eq(sc_tf_reader_open_mem(&r, out.p, out.len, "hand.shdw", &err), 0, "%s", err.msg);
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  cr_assert_eq(sc_tf_reader_next(r, &x, &err), 1, "%s", err.msg);
  cr_assert_eq(x.id, 77);
  cr_assert_eq(x.conn.family, 6);
  cr_assert_eq(memcmp(x.conn.server_addr, "0123456789abcdef", 16), 0);
  cr_assert_str_eq(x.req.method, "GET");
  cr_assert_null(x.req.target);
  cr_assert_eq(x.req.n_headers, 1);
  cr_assert_str_eq(x.req.headers[0].value, "b");
  cr_assert_eq(x.resp.status, 404);
  cr_assert_eq(sc_tf_reader_next(r, &x, &err), 0, "%s", err.msg);
  cr_assert_eq(sc_tf_reader_stats(r)->packets, 9);
  sc_exchange_release(&x);
  sc_tf_reader_close(r);
  sc_buf_release(&out);
}

/* Repeated keys: the last value of a key wins, a repeated "req" map updates
 * the fields it names (the reader keeps a fresh message's strings in one
 * allocation, and reads a repeated map into separate ones); a bad header
 * after good ones is corrupt (and leaks nothing, under ASan). */
Test(tf, repeated_keys_last_wins) {
  struct sc_buf out;
  sc_buf_init(&out, 1 << 20);
  cr_assert_eq(sc_buf_append(&out, "SHDW\x01\x00\x00\x00", 8), 0);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2); pk_s(&pk, "t"); pk_s(&pk, "h"); pk_s(&pk, "version"); msgpack_pack_uint8(&pk, 1);
  frame(&out, &sb);
  msgpack_pack_map(&pk, 5);
  pk_s(&pk, "t"); pk_s(&pk, "x");
  pk_s(&pk, "id"); msgpack_pack_uint8(&pk, 1);
  pk_s(&pk, "req"); msgpack_pack_map(&pk, 4);
  pk_s(&pk, "method"); pk_s(&pk, "POST");
  pk_s(&pk, "target"); pk_s(&pk, "/a");
  pk_s(&pk, "method"); pk_s(&pk, "PUT");
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 2);
  msgpack_pack_array(&pk, 2); pk_s(&pk, "A"); pk_s(&pk, "1");
  msgpack_pack_array(&pk, 2); pk_s(&pk, "B"); msgpack_pack_bin(&pk, 2); msgpack_pack_bin_body(&pk, "2\0", 2);
  pk_s(&pk, "req"); msgpack_pack_map(&pk, 2);
  pk_s(&pk, "target"); pk_s(&pk, "/b");
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 1); msgpack_pack_array(&pk, 2); pk_s(&pk, "C"); pk_s(&pk, "3");
  pk_s(&pk, "resp"); msgpack_pack_map(&pk, 4);
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 1); msgpack_pack_array(&pk, 2); pk_s(&pk, "X"); pk_s(&pk, "1");
  pk_s(&pk, "reason"); pk_s(&pk, "OK");
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 2);
  msgpack_pack_array(&pk, 2); pk_s(&pk, "Y"); pk_s(&pk, "2");
  msgpack_pack_array(&pk, 2); pk_s(&pk, "Z"); pk_s(&pk, "");
  pk_s(&pk, "status"); msgpack_pack_uint16(&pk, 200);
  frame(&out, &sb);
  size_t off = out.len;
  msgpack_pack_map(&pk, 3);
  pk_s(&pk, "t"); pk_s(&pk, "x");
  pk_s(&pk, "id"); msgpack_pack_uint8(&pk, 2);
  pk_s(&pk, "req"); msgpack_pack_map(&pk, 2);
  pk_s(&pk, "method"); pk_s(&pk, "GET");
  pk_s(&pk, "headers"); msgpack_pack_array(&pk, 2);
  msgpack_pack_array(&pk, 2); pk_s(&pk, "A"); pk_s(&pk, "1");
  msgpack_pack_array(&pk, 2); pk_s(&pk, "B"); msgpack_pack_uint8(&pk, 2);
  frame(&out, &sb);
  msgpack_sbuffer_destroy(&sb);

  struct sc_error err;
  sc_error_init(&err);
  struct sc_tf_reader *r = NULL;
  cr_assert_eq(sc_tf_reader_open_mem(&r, out.p, out.len, "dup.shdw", &err), 0, "%s", err.msg);
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  cr_assert_eq(sc_tf_reader_next(r, &x, &err), 1, "%s", err.msg);
  cr_assert_str_eq(x.req.method, "PUT");
  cr_assert_str_eq(x.req.target, "/b");
  cr_assert_eq(x.req.n_headers, 1);
  cr_assert_str_eq(x.req.headers[0].name, "C");
  cr_assert_str_eq(x.req.headers[0].value, "3");
  cr_assert_str_eq(x.resp.reason, "OK");
  cr_assert_eq(x.resp.n_headers, 2);
  cr_assert_str_eq(x.resp.headers[0].name, "Y");
  cr_assert_str_eq(x.resp.headers[1].name, "Z");
  cr_assert_eq(x.resp.headers[1].value_len, 0);
  cr_assert_str_eq(x.resp.headers[1].value, "");
  cr_assert_eq(x.resp.status, 200);
  cr_assert_eq(sc_tf_reader_next(r, &x, &err), SC_ECORRUPT);
  char want[160];
  snprintf(want, sizeof want, "dup.shdw corrupt at byte %zu: 'headers': name or value is not a string", off);
  cr_assert(strstr(err.msg, want), "%s", err.msg);
  sc_exchange_release(&x);
  sc_tf_reader_close(r);
  sc_buf_release(&out);
}

/* ---- truncation and corruption ---- */

static int read_all(const uint8_t *p, size_t n, int *rc_out, struct sc_error *err) {
  struct sc_tf_reader *r = NULL;
  int rc = sc_tf_reader_open_mem(&r, p, n, "cut.shdw", err);
  if (rc) {
    *rc_out = rc;
    return -1;
  }
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  int k = 0;
  while ((rc = sc_tf_reader_next(r, &x, err)) == 1) k++;
  cr_assert_eq(sc_tf_reader_next(r, &x, NULL), rc, "errors are sticky");
  sc_exchange_release(&x);
  sc_tf_reader_close(r);
  *rc_out = rc;
  return k;
}

static void cut_everywhere(int compress) {
  const struct variant v = {"cut", compress, 4, 0, 0, 0};
  char *path = tmpname();
  long ends[4];
  write_file(path, &v, 4, 1, ends, 1);
  size_t n = 0;
  uint8_t *all = slurp(path, &n);
  int rc;
  struct sc_error err;
  cr_assert_eq(read_all(all, n, &rc, &err), 4);
  cr_assert_eq(rc, 0);
  int prev = 0;
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *c = malloc(cut ? cut : 1); /* exact-size copy: ASan catches any overread */
    memcpy(c, all, cut);
    sc_error_init(&err);
    int k = read_all(c, cut, &rc, &err);
    free(c);
    if (k < 0) {
      cr_assert(cut < 300, "open fails only inside the preamble/header (cut %zu: %s)", cut, err.msg);
      cr_assert(rc == SC_ETRUNC || (cut == 0 && rc == SC_EPARSE_MSGPACK), "cut %zu: rc %d %s", cut, rc, err.msg);
      continue;
    }
    cr_assert_eq(rc, SC_ETRUNC, "cut %zu: rc %d %s", cut, rc, err.msg);
    cr_assert(strstr(err.msg, "cut.shdw truncated at"), "%s", err.msg);
    int want = 0;
    for (int i = 0; i < 4; i++)
      if (ends[i] <= (long)cut) want = i + 1;
    if (compress) {
      cr_assert(k >= want && k <= 4 && k >= prev, "cut %zu: %d exchanges, want >= %d", cut, k, want);
    } else {
      cr_assert_eq(k, want, "cut %zu: %d exchanges, want %d", cut, k, want);
    }
    prev = k;
  }
  free(all);
  unlink(path);
  free(path);
}

Test(tf, cut_at_every_byte_plain) { cut_everywhere(0); }
Test(tf, cut_at_every_byte_zstd) { cut_everywhere(1); }

Test(tf, flipped_byte_in_a_middle_record_is_corrupt_with_offset) {
  const struct variant v = {"flip", 0, 4, 0, 0, 0};
  char *path = tmpname();
  long ends[5];
  write_file(path, &v, 5, 1, ends, 1);
  size_t n = 0;
  uint8_t *all = slurp(path, &n);
  /* a byte in the middle of exchange 3's frame (frames 1, 2 end at ends[1]) */
  size_t at = (size_t)ends[1] + (size_t)(ends[2] - ends[1]) / 2;
  all[at] ^= 0x20;
  struct sc_error err;
  sc_error_init(&err);
  int rc;
  int k = read_all(all, n, &rc, &err);
  cr_assert_eq(k, 2);
  cr_assert_eq(rc, SC_ECORRUPT);
  char want[128];
  snprintf(want, sizeof want, "2 exchanges read; cut.shdw corrupt at byte %ld: checksum mismatch", ends[1]);
  cr_assert_str_eq(err.msg, want);
  /* a length that overruns the file is a truncation, a zero length is corruption */
  all[at] ^= 0x20;
  memset(all + ends[1], 0, 4);
  k = read_all(all, n, &rc, &err);
  cr_assert_eq(k, 2);
  cr_assert_eq(rc, SC_ECORRUPT);
  cr_assert(strstr(err.msg, "frame length 0 out of range"), "%s", err.msg);
  free(all);
  unlink(path);
  free(path);
}

Test(tf, corrupted_zstd_never_crashes_and_keeps_a_prefix) {
  const struct variant v = {"flipz", 1, 4, 0, 0, 0};
  char *path = tmpname();
  long ends[6];
  write_file(path, &v, 6, 1, ends, 1);
  size_t n = 0;
  uint8_t *all = slurp(path, &n);
  for (size_t at = (size_t)ends[2]; at < (size_t)ends[3]; at++) {
    all[at] ^= 0x55;
    struct sc_error err;
    sc_error_init(&err);
    int rc;
    int k = read_all(all, n, &rc, &err);
    cr_assert(k >= 0 && k <= 6);
    if (rc != 0) {
      cr_assert(rc == SC_ECORRUPT || rc == SC_ETRUNC, "%d %s", rc, err.msg);
      cr_assert(k >= 3 || strstr(err.msg, "decompressed byte"), "%s", err.msg);
    }
    all[at] ^= 0x55;
  }
  free(all);
  unlink(path);
  free(path);
}

Test(tf, file_without_trailer_is_truncated_after_every_exchange) {
  const struct variant v = {"killed", 1, 4, 0, 0, 0};
  char *path = tmpname();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) { /* the writer dies after a flush, without a trailer */
    write_file(path, &v, 3, 0, NULL, 0);
    _exit(0);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  size_t n = 0;
  uint8_t *all = slurp(path, &n);
  struct sc_error err;
  int rc;
  cr_assert_eq(read_all(all, n, &rc, &err), 3);
  cr_assert_eq(rc, SC_ETRUNC);
  cr_assert(strstr(err.msg, "3 exchanges read"), "%s", err.msg);
  free(all);
  unlink(path);
  free(path);
}

Test(tf, not_a_traffic_file) {
  struct {
    const char *data;
    size_t n;
    int rc;
    const char *msg;
  } t[] = {
    {"", 0, SC_EPARSE_MSGPACK, "'m' is empty, not a shadowctl traffic file"},
    {"GET / HTTP/1.1\r\n", 16, SC_EPARSE_MSGPACK, "'m' is not a shadowctl traffic file (bad magic)"},
    {"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8, SC_EPARSE_MSGPACK, "'m' is not a shadowctl traffic file (bad magic)"},
    {"SHDW\x09\x00\x00\x00", 8, SC_EVERSION, "'m': traffic file format version 9 is not supported (this shadowctl reads 1)"},
    {"SHDW\x01\x80\x00\x00", 8, SC_EVERSION, "'m': unknown traffic file flags 0x80"},
    {"SHDW\x01\x00\x00\x00", 8, SC_ETRUNC, "0 exchanges read; m truncated at byte 8: no header record"},
    {"SHDW\x01\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00", 16, SC_ECORRUPT,
     "0 exchanges read; m corrupt at byte 8: frame length 4294967295 out of range (1..65536)"},
    {"SHD", 3, SC_ETRUNC, "0 exchanges read; m truncated at byte 3: file ends inside the magic"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    struct sc_error err;
    sc_error_init(&err);
    struct sc_tf_reader *r = NULL;
    int rc = sc_tf_reader_open_mem(&r, t[i].data, t[i].n, "m", &err);
    cr_assert_eq(rc, t[i].rc, "case %zu: %d %s", i, rc, err.msg);
    cr_assert_str_eq(err.msg, t[i].msg, "case %zu", i);
    cr_assert_null(r);
  }
  struct sc_error err;
  struct sc_tf_reader *r = NULL;
  cr_assert_eq(sc_tf_reader_open(&r, "/nonexistent/x.shdw", &err), SC_ENOENT);
  cr_assert(strstr(err.msg, "cannot open traffic file '/nonexistent/x.shdw'"), "%s", err.msg);
}

Test(tf, wrong_field_types_are_corrupt) {
  /* one exchange frame whose "id" is a string */
  struct sc_buf out;
  sc_buf_init(&out, 1 << 20);
  cr_assert_eq(sc_buf_append(&out, "SHDW\x01\x00\x00\x00", 8), 0);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2); pk_s(&pk, "t"); pk_s(&pk, "h"); pk_s(&pk, "version"); msgpack_pack_uint8(&pk, 1);
  frame(&out, &sb);
  size_t off = out.len;
  msgpack_pack_map(&pk, 2); pk_s(&pk, "t"); pk_s(&pk, "x"); pk_s(&pk, "id"); pk_s(&pk, "one");
  frame(&out, &sb);
  msgpack_sbuffer_destroy(&sb);
  struct sc_error err;
  int rc;
  cr_assert_eq(read_all((const uint8_t *)out.p, out.len, &rc, &err), 0);
  cr_assert_eq(rc, SC_ECORRUPT);
  char want[128];
  snprintf(want, sizeof want, "0 exchanges read; cut.shdw corrupt at byte %zu: 'id': expected an unsigned integer", off);
  cr_assert_str_eq(err.msg, want);
  sc_buf_release(&out);
}

Test(exchange, header_lookup_and_latency) {
  struct sc_exchange x;
  const struct variant v = {"e", 0, 4, 0, 0, 0};
  make_exchange(&x, 1, &v);
  cr_assert_not_null(sc_http_msg_header(&x.req, "X-MIXED-CASE"));
  cr_assert_null(sc_http_msg_header(&x.req, "X-Mixed"));
  cr_assert_eq(sc_exchange_latency_ns(&x), 5000020);
  x.t_resp_last = 0;
  cr_assert_eq(sc_exchange_latency_ns(&x), 0);
  sc_exchange_release(&x);
  cr_assert_null(x.req.headers);
  sc_exchange_release(&x); /* twice is harmless */
}

/* Every fuzz finding kept in tests/fixtures/regress/fuzz_tf_read-* is read
 * again: no crash, a documented result. Plus the seed corpus. */
#include <dirent.h>

static int replay_dir(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len = 0;
    uint8_t *data = slurp(path, &len);
    struct sc_error err;
    sc_error_init(&err);
    int rc;
    int k = read_all(data, len, &rc, &err);
    cr_assert(k < 0 || rc == 0 || rc == SC_ETRUNC || rc == SC_ECORRUPT, "%s: rc %d %s", path, rc, err.msg);
    free(data);
    n++;
  }
  closedir(d);
  return n;
}

Test(tf, fuzz_regressions_and_seeds_read_cleanly) {
  replay_dir(SC_SOURCE_DIR "/tests/fixtures/regress", "fuzz_tf_read-");
  int seeds = replay_dir(SC_SOURCE_DIR "/tests/fuzz/corpus/tf_read", "");
  cr_assert(seeds >= 4, "seed corpus present (%d files)", seeds);
}

/* A full disk (RLIMIT_FSIZE with SIGXFSZ ignored) while writing: append or
 * flush fails with SC_ENOSPC naming the file, and what reached the disk reads
 * as a truncated file whose exchanges are all intact. */
#include <signal.h>
#include <sys/resource.h>

Test(tf, full_disk_gives_enospc_and_a_readable_prefix) {
  char *path = tmpname();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {100000, 100000};
    if (setrlimit(RLIMIT_FSIZE, &rl)) _exit(10);
    struct sc_error err;
    sc_error_init(&err);
    struct sc_tf_header h = {.version = SC_TF_VERSION};
    struct sc_tf_writer *w;
    if (sc_tf_writer_open(&w, path, &h, 0, &err)) _exit(11);
    const struct variant v = {"full", 0, 4, 0, 0, 0};
    int rc = 0;
    for (int i = 1; i <= 2000 && !rc; i++) {
      struct sc_exchange x;
      make_exchange(&x, (uint64_t)i, &v);
      rc = sc_tf_writer_append(w, &x, &err);
      sc_exchange_release(&x);
    }
    if (!rc) rc = sc_tf_writer_flush(w, &err);
    if (rc != SC_ENOSPC) _exit(12);
    if (!strstr(err.msg, "cannot write traffic file '") || !strstr(err.msg, "too large")) _exit(13);
    if (sc_tf_writer_close(w, NULL, &err) != SC_ENOSPC) _exit(14);
    _exit(0);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status), "child died");
  cr_assert_eq(WEXITSTATUS(status), 0, "child step %d failed", WEXITSTATUS(status));
  size_t n = 0;
  uint8_t *all = slurp(path, &n);
  cr_assert_eq(n, 100000);
  struct sc_error err;
  int rc;
  int k = read_all(all, n, &rc, &err);
  cr_assert_eq(rc, SC_ETRUNC, "%s", err.msg);
  cr_assert(k > 50, "%d exchanges survive", k);
  free(all);
  unlink(path);
  free(path);
}

/* Progress for the replay status line: for a plain file exactly the share of
 * the file parsed; for a zstd file the compressed input handed to the
 * decoder (it runs ahead by at most a flush group of 256 exchanges); 1 at
 * the end. */
Test(tf, progress_tracks_the_share_of_the_file_read) {
  double plain_at[3] = {0}, at[3];
  for (int compress = 0; compress <= 1; compress++) {
    const struct variant *v = compress ? &variants[0] : &variants[1];
    char *path = tmpname();
    write_file(path, v, 20000, 0, NULL, 1);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    struct sc_error err;
    sc_error_init(&err);
    struct sc_tf_reader *r = NULL;
    cr_assert_eq(sc_tf_reader_open(&r, path, &err), 0, "%s", err.msg);
    struct sc_exchange x;
    memset(&x, 0, sizeof x);
    int k = 0;
    for (int i = 1; i <= 20000; i++) {
      cr_assert_eq(sc_tf_reader_next(r, &x, &err), 1, "%s", err.msg);
      sc_exchange_release(&x);
      if (i == 5000 || i == 10000 || i == 15000) {
        at[k] = sc_tf_reader_progress(r);
        if (!compress) {
          double want = (double)sc_tf_reader_offset(r) / (double)st.st_size;
          cr_assert(at[k] > want - 1e-9 && at[k] < want + 1e-9, "plain: %.4f, offset share %.4f", at[k], want);
          plain_at[k] = at[k];
        } else {
          /* the bodies compress to about the same size whatever their
           * length, so the compressed share follows the exchange share */
          double want = (double)i / 20000.0;
          cr_assert(at[k] > want - 0.05 && at[k] < want + 0.05,
                    "zstd progress %.3f after %.0f%% of the exchanges (plain file at %.3f)", at[k], want * 100,
                    plain_at[k]);
        }
        if (k) cr_assert_gt(at[k], at[k - 1], "%s: progress went back", v->name);
        k++;
      }
    }
    cr_assert_eq(sc_tf_reader_next(r, &x, &err), 0, "%s", err.msg);
    cr_assert_geq(sc_tf_reader_progress(r), 0.99, "%s: progress %.3f at the end", v->name, sc_tf_reader_progress(r));
    sc_tf_reader_close(r);
    unlink(path);
    free(path);
  }
}

/* The reader fills the caller's exchange in one block per message, body
 * included, and reuses that block for the next record when it is large
 * enough (no allocation per record); when the reading ends, nothing is
 * kept. */
Test(tf, reader_reuses_the_message_block_across_records) {
  const struct variant *v = &variants[1]; /* plain-v4: bodies and headers */
  char *path = tmpname();
  write_file(path, v, 20, 0, NULL, 1);
  struct sc_error err;
  sc_error_init(&err);
  struct sc_tf_reader *r = NULL;
  cr_assert_eq(sc_tf_reader_open(&r, path, &err), 0, "%s", err.msg);
  struct sc_exchange x, want;
  memset(&x, 0, sizeof x);
  void *first = NULL;
  int n = 0, same = 0, rc;
  while ((rc = sc_tf_reader_next(r, &x, &err)) == 1) {
    n++;
    make_exchange(&want, (uint64_t)n, v);
    assert_exchange_eq(&x, &want);
    sc_exchange_release(&want);
    cr_assert_not_null(x.req.arena);
    cr_assert_geq(x.req.arena_cap, 512u);
    if (x.req.body) cr_assert(sc_http_msg_body_in_arena(&x.req), "record %d: body outside the block", n);
    if (!first) first = x.req.arena;
    else same += x.req.arena == first;
  }
  cr_assert_eq(rc, 0, "%s", err.msg);
  cr_assert_eq(n, 20);
  cr_assert_eq(same, 19, "the first block served every record (%d of 19)", same);
  struct sc_exchange zero;
  memset(&zero, 0, sizeof zero);
  cr_assert_eq(memcmp(&x, &zero, sizeof x), 0, "nothing kept after the end");
  sc_tf_reader_close(r);
  unlink(path);
  free(path);
}

Test(exchange, clear_keeps_the_block_and_unshare_copies_the_body_out) {
  struct sc_http_msg m;
  memset(&m, 0, sizeof m);
  m.arena_cap = 256;
  m.arena = malloc(m.arena_cap);
  cr_assert_not_null(m.arena);
  char *a = m.arena;
  memcpy(a, "GET\0/x\0body", 11);
  m.method = a;
  m.target = a + 4;
  m.body = (uint8_t *)a + 7;
  m.body_len = 4;
  cr_assert(sc_http_msg_body_in_arena(&m));
  /* unshare: everything gets its own allocation, the body too */
  cr_assert_eq(sc_http_msg_unshare(&m), 0);
  cr_assert_null(m.arena);
  cr_assert_eq(m.arena_cap, 0);
  cr_assert_not(sc_http_msg_body_in_arena(&m));
  cr_assert_str_eq(m.method, "GET");
  cr_assert_eq(memcmp(m.body, "body", 4), 0);
  /* set_body frees an owned body */
  uint8_t *nb = malloc(3);
  memcpy(nb, "new", 3);
  sc_http_msg_set_body(&m, nb, 3);
  cr_assert_eq(m.body, nb);
  sc_http_msg_release(&m);
  /* clear: the block stays (when not above keep_max), every field is emptied */
  m.arena_cap = 128;
  m.arena = malloc(m.arena_cap);
  m.method = m.arena;
  strcpy(m.method, "PUT");
  m.body = malloc(2); /* its own allocation: freed by clear */
  m.body_len = 2;
  m.status = 7;
  void *blk = m.arena;
  sc_http_msg_clear(&m, 1024);
  cr_assert_eq(m.arena, blk);
  cr_assert_eq(m.arena_cap, 128);
  cr_assert_null(m.method);
  cr_assert_null(m.body);
  cr_assert_eq(m.status, 0);
  sc_http_msg_clear(&m, 64); /* above keep_max: freed */
  cr_assert_null(m.arena);
  cr_assert_eq(m.arena_cap, 0);
  sc_http_msg_release(&m);
}
