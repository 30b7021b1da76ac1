/* test_redact.c - src/traffic/redact.c: headers (defaults, case, keep/add)
 * and JSON paths are redacted, bodies that cannot be parsed are untouched, and
 * default-redacted secrets never reach a traffic file's bytes. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "traffic/redact.h"
#include "traffic/traffic.h"
#include "util/buf.h"

static void add_hdr(struct sc_http_msg *m, const char *n, const char *v) {
  m->headers = realloc(m->headers, (m->n_headers + 1) * sizeof *m->headers);
  struct sc_hdr *h = &m->headers[m->n_headers++];
  h->name = strdup(n);
  h->name_len = strlen(n);
  h->value = strdup(v);
  h->value_len = strlen(v);
}

static void set_body(struct sc_http_msg *m, const char *b) {
  free(m->body);
  m->body = (uint8_t *)strdup(b);
  m->body_len = m->body_wire_len = strlen(b);
}

static void secrets_exchange(struct sc_exchange *x) {
  memset(x, 0, sizeof *x);
  x->id = 1;
  x->conn.family = 4;
  x->req.method = strdup("POST");
  x->req.target = strdup("/v1/score");
  add_hdr(&x->req, "authorization", "Bearer SECRET-AUTH-1");
  add_hdr(&x->req, "PROXY-AUTHORIZATION", "Basic SECRET-PROXY-2");
  add_hdr(&x->req, "Cookie", "sid=SECRET-COOKIE-3");
  add_hdr(&x->req, "X-Api-KEY", "SECRET-KEY-4");
  add_hdr(&x->req, "X-Trace", "keep-me");
  add_hdr(&x->req, "Content-Length", "48");
  set_body(&x->req, "{\"card\":{\"number\":\"4111111111111111\",\"cvv\":123}}");
  x->resp.status = 200;
  add_hdr(&x->resp, "Set-Cookie", "sid=SECRET-SETCOOKIE-5; HttpOnly");
  set_body(&x->resp, "{\"ok\":true}");
}

static const char *hval(const struct sc_http_msg *m, const char *name) {
  const struct sc_hdr *h = sc_http_msg_header(m, name);
  return h ? h->value : NULL;
}

Test(redact, default_headers_case_insensitive) {
  struct sc_error err;
  struct sc_redact_cfg cfg;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  struct sc_exchange x;
  secrets_exchange(&x);
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_str_eq(hval(&x.req, "Authorization"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.req, "Proxy-Authorization"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.req, "cookie"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.req, "x-api-key"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.resp, "set-cookie"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.req, "X-Trace"), "keep-me");
  cr_assert_str_eq(x.req.headers[0].name, "authorization", "names keep their recorded case");
  cr_assert(x.flags & SC_XF_REDACTED);
  cr_assert_str_eq((char *)x.req.body, "{\"card\":{\"number\":\"4111111111111111\",\"cvv\":123}}", "no JSON path: body untouched");
  sc_exchange_release(&x);
  sc_redact_cfg_release(&cfg);
}

/* Moves m's strings into one arena block, as capture builds messages. */
static void to_arena(struct sc_http_msg *m) {
  size_t hsz = m->n_headers * sizeof(struct sc_hdr), n = hsz;
  const char *s[3] = {m->method, m->target, m->reason};
  for (int i = 0; i < 3; i++) n += s[i] ? strlen(s[i]) + 1 : 0;
  for (size_t i = 0; i < m->n_headers; i++) n += m->headers[i].name_len + m->headers[i].value_len + 2;
  char *a = malloc(n), *p = a + hsz;
  struct sc_hdr *hs = (struct sc_hdr *)(void *)a;
  char **d[3] = {&m->method, &m->target, &m->reason};
  for (int i = 0; i < 3; i++) {
    if (!s[i]) continue;
    size_t k = strlen(s[i]) + 1;
    memcpy(p, s[i], k);
    free(*d[i]);
    *d[i] = p;
    p += k;
  }
  for (size_t i = 0; i < m->n_headers; i++) {
    struct sc_hdr *h = &m->headers[i];
    hs[i] = *h;
    memcpy(p, h->name, h->name_len + 1);
    hs[i].name = p;
    p += h->name_len + 1;
    memcpy(p, h->value, h->value_len + 1);
    hs[i].value = p;
    p += h->value_len + 1;
    free(h->name);
    free(h->value);
  }
  free(m->headers);
  m->headers = m->n_headers ? hs : NULL;
  m->arena = a;
}

Test(redact, arena_messages) {
  struct sc_error err;
  struct sc_redact_cfg cfg;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  cr_assert_eq(sc_redact_cfg_add_json_path(&cfg, "$.card.number", &err), 0);
  struct sc_exchange x;
  secrets_exchange(&x);
  to_arena(&x.req);
  to_arena(&x.resp);
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_null(x.req.arena, "a redacted message no longer uses its arena");
  cr_assert_str_eq(x.req.method, "POST");
  cr_assert_str_eq(x.req.target, "/v1/score");
  cr_assert_str_eq(hval(&x.req, "Authorization"), "[REDACTED]");
  cr_assert_str_eq(hval(&x.req, "X-Trace"), "keep-me");
  cr_assert_str_eq(hval(&x.req, "Content-Length"), "42");
  cr_assert_str_eq((char *)x.req.body, "{\"card\":{\"number\":\"[REDACTED]\",\"cvv\":123}}");
  cr_assert_str_eq(hval(&x.resp, "Set-Cookie"), "[REDACTED]");
  sc_exchange_release(&x);

  /* Nothing to redact: the arena is kept. */
  sc_redact_cfg_keep_header(&cfg, "Authorization");
  sc_redact_cfg_keep_header(&cfg, "Proxy-Authorization");
  sc_redact_cfg_keep_header(&cfg, "Cookie");
  sc_redact_cfg_keep_header(&cfg, "X-Api-Key");
  secrets_exchange(&x);
  free(x.req.body);
  x.req.body = NULL;
  x.req.body_len = 0;
  to_arena(&x.req);
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_not_null(x.req.arena);
  cr_assert_str_eq(hval(&x.req, "Authorization"), "Bearer SECRET-AUTH-1");
  cr_assert_str_eq(x.req.target, "/v1/score");
  sc_exchange_release(&x);
  sc_redact_cfg_release(&cfg);
}

Test(redact, keep_and_add_headers) {
  struct sc_error err;
  struct sc_redact_cfg cfg;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  sc_redact_cfg_keep_header(&cfg, "COOKIE");
  cr_assert_eq(sc_redact_cfg_add_header(&cfg, "x-trace", &err), 0);
  cr_assert_eq(sc_redact_cfg_add_header(&cfg, "X-Trace", &err), 0, "duplicates are fine");
  cr_assert_eq(sc_redact_cfg_add_header(&cfg, "Bad Header", &err), SC_EINVAL);
  cr_assert_str_eq(err.msg, "invalid header name 'Bad Header'");
  struct sc_exchange x;
  secrets_exchange(&x);
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_str_eq(hval(&x.req, "Cookie"), "sid=SECRET-COOKIE-3");
  cr_assert_str_eq(hval(&x.req, "X-Trace"), "[REDACTED]");
  char **d;
  uint32_t n;
  cr_assert_eq(sc_redact_cfg_describe(&cfg, &d, &n, &err), 0);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(d[0], "header:Authorization");
  cr_assert_str_eq(d[4], "header:x-trace");
  for (uint32_t i = 0; i < n; i++) free(d[i]);
  free(d);
  sc_exchange_release(&x);
  sc_redact_cfg_release(&cfg);
}

Test(redact, nothing_to_redact_leaves_flag_clear) {
  struct sc_error err;
  struct sc_redact_cfg cfg;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  add_hdr(&x.req, "Host", "a");
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_eq(x.flags & SC_XF_REDACTED, 0);
  sc_exchange_release(&x);
  sc_redact_cfg_release(&cfg);
}

struct json_case {
  const char *path, *in, *out;
};

static const struct json_case json_cases[] = {
  {"$.card.number", "{\"card\":{\"number\":\"4111\",\"cvv\":1}}", "{\"card\":{\"number\":\"[REDACTED]\",\"cvv\":1}}"},
  {"$.card", "{\"card\":{\"number\":\"4111\"},\"a\":1}", "{\"card\":\"[REDACTED]\",\"a\":1}"},
  {"$['card'].number", "{\"card\":{\"number\":5}}", "{\"card\":{\"number\":\"[REDACTED]\"}}"},
  {"$.items[1].pan", "{\"items\":[{\"pan\":1},{\"pan\":2}]}", "{\"items\":[{\"pan\":1},{\"pan\":\"[REDACTED]\"}]}"},
  {"$.items[*].pan", "{\"items\":[{\"pan\":1},{\"x\":0},{\"pan\":2}]}",
   "{\"items\":[{\"pan\":\"[REDACTED]\"},{\"x\":0},{\"pan\":\"[REDACTED]\"}]}"},
  {"$..password", "{\"a\":{\"password\":\"p1\",\"b\":[{\"password\":\"p2\"}]},\"password\":\"p0\"}",
   "{\"a\":{\"password\":\"[REDACTED]\",\"b\":[{\"password\":\"[REDACTED]\"}]},\"password\":\"[REDACTED]\"}"},
  {"$[0].k", "[{\"k\":1},{\"k\":2}]", "[{\"k\":\"[REDACTED]\"},{\"k\":2}]"},
  {"$.user.*", "{\"user\":{\"a\":1,\"b\":[2]}}", "{\"user\":{\"a\":\"[REDACTED]\",\"b\":\"[REDACTED]\"}}"},
  /* no match, not JSON, a JSON scalar: untouched byte for byte */
  {"$.missing", "{ \"a\" : 1 }", "{ \"a\" : 1 }"},
  {"$.a", "a=1&b=2", "a=1&b=2"},
  {"$.a", "{\"a\":1", "{\"a\":1"},
  {"$.a", "\"just a string\"", "\"just a string\""},
  {"$.items[5].pan", "{\"items\":[{\"pan\":1}]}", "{\"items\":[{\"pan\":1}]}"},
};

Test(redact, json_paths_table) {
  for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
    const struct json_case *c = &json_cases[i];
    struct sc_error err;
    struct sc_redact_cfg cfg;
    cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
    cr_assert_eq(sc_redact_cfg_add_json_path(&cfg, c->path, &err), 0, "%s: %s", c->path, err.msg);
    struct sc_exchange x;
    memset(&x, 0, sizeof x);
    set_body(&x.req, c->in);
    set_body(&x.resp, c->in);
    char cl[16];
    snprintf(cl, sizeof cl, "%zu", strlen(c->in));
    add_hdr(&x.req, "Content-Length", cl);
    cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
    cr_assert_str_eq((char *)x.req.body, c->out, "case %zu %s", i, c->path);
    cr_assert_str_eq((char *)x.resp.body, c->out, "case %zu %s (response)", i, c->path);
    cr_assert_eq(x.req.body_len, strlen(c->out));
    snprintf(cl, sizeof cl, "%zu", strlen(c->out));
    cr_assert_str_eq(hval(&x.req, "Content-Length"), cl, "case %zu", i);
    cr_assert_eq(!!(x.flags & SC_XF_REDACTED), strcmp(c->in, c->out) != 0, "case %zu", i);
    sc_exchange_release(&x);
    sc_redact_cfg_release(&cfg);
  }
}

Test(redact, encoded_or_truncated_bodies_untouched) {
  struct sc_error err;
  struct sc_redact_cfg cfg;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  cr_assert_eq(sc_redact_cfg_add_json_path(&cfg, "$.a", &err), 0);
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  set_body(&x.req, "{\"a\":1}");
  set_body(&x.resp, "{\"a\":1}");
  add_hdr(&x.resp, "Content-Encoding", "gzip");
  x.flags = SC_XF_REQ_TRUNCATED;
  cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
  cr_assert_str_eq((char *)x.req.body, "{\"a\":1}");
  cr_assert_str_eq((char *)x.resp.body, "{\"a\":1}");
  sc_exchange_release(&x);
  sc_redact_cfg_release(&cfg);
}

Test(redact, invalid_paths_table) {
  static const struct {
    const char *path, *msg;
  } bad[] = {
    {"card.number", "invalid JSON path 'card.number': must start with '$' at character 1"},
    {"$", "invalid JSON path '$': selects the whole body; name at least one member at character 2"},
    {"$.", "invalid JSON path '$.': expected a member name after '.' at character 3"},
    {"$..", "invalid JSON path '$..': expected a member name after '..' at character 4"},
    {"$.a[", "invalid JSON path '$.a[': expected an index, '*' or a quoted name after '[' at character 5"},
    {"$.a[1", "invalid JSON path '$.a[1': expected ']' after the array index at character 6"},
    {"$.a['b]", "invalid JSON path '$.a['b]': unterminated quoted member name at character 8"},
    {"$a", "invalid JSON path '$a': expected '.' or '[' at character 2"},
  };
  struct sc_redact_cfg cfg;
  struct sc_error err;
  cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sc_error_init(&err);
    cr_assert_eq(sc_redact_cfg_add_json_path(&cfg, bad[i].path, &err), SC_EINVAL, "%s", bad[i].path);
    cr_assert_str_eq(err.msg, bad[i].msg);
  }
  cr_assert_eq(cfg.n_paths, 0);
  sc_redact_cfg_release(&cfg);
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  struct sc_buf b;
  sc_buf_init(&b, 1u << 26);
  char tmp[8192];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) cr_assert_eq(sc_buf_append(&b, tmp, k), 0);
  fclose(f);
  return (uint8_t *)sc_buf_take(&b, n);
}

static int contains(const uint8_t *h, size_t n, const char *needle) {
  return memmem(h, n, needle, strlen(needle)) != NULL;
}

static const char *secrets[] = {"SECRET-AUTH-1", "SECRET-PROXY-2", "SECRET-COOKIE-3", "SECRET-KEY-4",
                                "SECRET-SETCOOKIE-5", "4111111111111111"};

Test(redact, default_secrets_never_reach_the_file_bytes) {
  for (int compress = 0; compress <= 1; compress++) {
    struct sc_error err;
    struct sc_redact_cfg cfg;
    cr_assert_eq(sc_redact_cfg_init(&cfg, &err), 0);
    cr_assert_eq(sc_redact_cfg_add_json_path(&cfg, "$.card.number", &err), 0);
    struct sc_tf_header h = {.version = SC_TF_VERSION, .source_kind = "file", .source = "t"};
    cr_assert_eq(sc_redact_cfg_describe(&cfg, &h.redactions, &h.n_redactions, &err), 0);
    char path[] = "/tmp/sc_test_redact_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    struct sc_tf_writer *w;
    cr_assert_eq(sc_tf_writer_open(&w, path, &h, compress, &err), 0, "%s", err.msg);
    for (int i = 0; i < 10; i++) {
      struct sc_exchange x;
      secrets_exchange(&x);
      cr_assert_eq(sc_redact_exchange(&cfg, &x, &err), 0);
      cr_assert_eq(sc_tf_writer_append(w, &x, &err), 0);
      sc_exchange_release(&x);
    }
    cr_assert_eq(sc_tf_writer_close(w, NULL, &err), 0);
    size_t n;
    uint8_t *raw = slurp(path, &n);
    uint8_t *plain = raw;
    size_t pn = n;
    if (compress) {
      unsigned long long sz = ZSTD_getFrameContentSize(raw + 8, n - 8);
      size_t cap = sz == ZSTD_CONTENTSIZE_UNKNOWN || sz == ZSTD_CONTENTSIZE_ERROR ? (1u << 22) : (size_t)sz;
      plain = malloc(cap);
      ZSTD_DCtx *d = ZSTD_createDCtx();
      ZSTD_inBuffer ib = {raw + 8, n - 8, 0};
      ZSTD_outBuffer ob = {plain, cap, 0};
      size_t z = ZSTD_decompressStream(d, &ob, &ib);
      cr_assert(!ZSTD_isError(z) && z == 0, "decompressed completely");
      ZSTD_freeDCtx(d);
      pn = ob.pos;
      cr_assert(contains(plain, pn, "[REDACTED]"), "the check can see plain text");
    }
    cr_assert(contains(plain, pn, "keep-me"), "the check can see unredacted values");
    cr_assert(contains(plain, pn, "header:Authorization"), "the header lists redactions");
    cr_assert(contains(plain, pn, "json:$.card.number"));
    for (size_t s = 0; s < sizeof secrets / sizeof secrets[0]; s++) {
      cr_assert(!contains(raw, n, secrets[s]), "%s in raw bytes (compress %d)", secrets[s], compress);
      cr_assert(!contains(plain, pn, secrets[s]), "%s in decompressed bytes (compress %d)", secrets[s], compress);
    }
    if (plain != raw) free(plain);
    free(raw);
    for (uint32_t i = 0; i < h.n_redactions; i++) free(h.redactions[i]);
    free(h.redactions);
    sc_redact_cfg_release(&cfg);
    unlink(path);
  }
}
