/* test_policy.c - replay/policy.c: URL parsing, key rules, split hash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"

struct url_case {
  const char *url;
  int rc;
  const char *host;
  unsigned port;
  const char *prefix;
  const char *hostport;
};

static const struct url_case url_cases[] = {
  {"http://127.0.0.1:8080", SC_OK, "127.0.0.1", 8080, "", "127.0.0.1:8080"},
  {"http://localhost", SC_OK, "localhost", 80, "", "localhost"},
  {"http://example.com/", SC_OK, "example.com", 80, "", "example.com"},
  {"http://h:9/base/", SC_OK, "h", 9, "/base", "h:9"},
  {"HTTP://h:1/a/b", SC_OK, "h", 1, "/a/b", "h:1"},
  {"http://[::1]:8080/x", SC_OK, "::1", 8080, "/x", "[::1]:8080"},
  {"https://h:443", SC_EUNSUPPORTED, NULL, 0, NULL, NULL},
  {"http//h", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"ftp://h", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://h:0", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://h:65536", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://h:12x", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://user@h", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://h/a?q=1", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"http://h /a", SC_EPARSE_URL, NULL, 0, NULL, NULL},
  {"", SC_EPARSE_URL, NULL, 0, NULL, NULL},
};

Test(policy, url_table) {
  for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
    const struct url_case *c = &url_cases[i];
    struct sc_replay_url u;
    struct sc_error e;
    sc_error_init(&e);
    int rc = sc_replay_url_parse(c->url, &u, &e);
    cr_assert_eq(rc, c->rc, "%s: rc %d, expected %d (%s)", c->url, rc, c->rc, e.msg);
    if (rc) {
      cr_assert(e.msg[0], "%s: no message", c->url);
      continue;
    }
    cr_assert_str_eq(u.host, c->host, "%s", c->url);
    cr_assert_eq(u.port, c->port, "%s", c->url);
    cr_assert_str_eq(u.path_prefix, c->prefix, "%s", c->url);
    cr_assert_str_eq(u.hostport, c->hostport, "%s", c->url);
  }
}

Test(policy, https_message_says_tls) {
  struct sc_replay_url u;
  struct sc_error e;
  sc_error_init(&e);
  cr_assert_eq(sc_replay_url_parse("https://x", &u, &e), SC_EUNSUPPORTED);
  cr_assert(strstr(e.msg, "TLS is not supported yet"));
}

Test(policy, key_rule_check_table) {
  static const struct { const char *rule; int ok; } cases[] = {
    {NULL, 1}, {"default", 1}, {"header:X-Id", 1}, {"$.txn_id", 1}, {"$.a.b[2].c", 1},
    {"header:", 0}, {"$", 0}, {"$.", 0}, {"$.a[x]", 0}, {"$a", 0}, {"txn_id", 0}, {"$.a..b", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sc_error e;
    sc_error_init(&e);
    int rc = sc_replay_key_rule_check(cases[i].rule, &e);
    cr_assert_eq(rc == SC_OK, cases[i].ok, "rule '%s'", cases[i].rule ? cases[i].rule : "(null)");
  }
}

static void mkx(struct sc_exchange *x, const char *body, const char *hname, const char *hval) {
  memset(x, 0, sizeof *x);
  x->req.method = strdup("POST");
  x->req.target = strdup("/v1/score");
  if (body) {
    x->req.body = (uint8_t *)strdup(body);
    x->req.body_len = strlen(body);
  }
  if (hname) {
    x->req.headers = calloc(1, sizeof *x->req.headers);
    x->req.headers[0].name = strdup(hname);
    x->req.headers[0].name_len = strlen(hname);
    x->req.headers[0].value = strdup(hval);
    x->req.headers[0].value_len = strlen(hval);
    x->req.n_headers = 1;
  }
}

Test(policy, keys) {
  struct sc_exchange x;
  struct sc_error e;
  char *k = NULL;
  uint64_t h1, h2, h3;
  mkx(&x, "{\"txn_id\":\"t42\",\"a\":{\"b\":[1,{\"c\":7}]}}", "X-Id", "abc");
  cr_assert_eq(sc_replay_key("$.txn_id", &x, 0, &k, &h1, &e), SC_OK);
  cr_assert_str_eq(k, "t42");
  free(k);
  cr_assert_eq(sc_replay_key("$.a.b[1].c", &x, 0, &k, &h2, &e), SC_OK);
  cr_assert_str_eq(k, "7");
  free(k);
  cr_assert_eq(sc_replay_key("header:x-id", &x, 0, &k, &h3, &e), SC_OK);
  cr_assert_str_eq(k, "abc");
  free(k);
  /* same key value, same hash; seed changes it */
  uint64_t ha, hb;
  cr_assert_eq(sc_replay_key("$.txn_id", &x, 5, &k, &ha, &e), SC_OK);
  free(k);
  cr_assert_neq(ha, h1);
  cr_assert_eq(sc_replay_key("$.txn_id", &x, 0, &k, &hb, &e), SC_OK);
  free(k);
  cr_assert_eq(hb, h1);
  /* default and missing field -> default key (hex of the hash) */
  uint64_t hd, hm;
  cr_assert_eq(sc_replay_key(NULL, &x, 0, &k, &hd, &e), SC_OK);
  cr_assert_eq(strlen(k), 16);
  free(k);
  cr_assert_eq(sc_replay_key("$.nope", &x, 0, &k, &hm, &e), SC_OK);
  free(k);
  cr_assert_eq(hd, hm);
  sc_exchange_release(&x);
  /* body not JSON -> default */
  mkx(&x, "not json", NULL, NULL);
  cr_assert_eq(sc_replay_key("$.txn_id", &x, 0, &k, &hm, &e), SC_OK);
  cr_assert_eq(strlen(k), 16);
  free(k);
  sc_exchange_release(&x);
}

Test(policy, split_fraction_within_half_a_point_on_100k) {
  static const double fractions[] = {0.01, 0.05, 0.2, 0.5, 0.9};
  for (size_t f = 0; f < sizeof fractions / sizeof fractions[0]; f++) {
    unsigned in = 0;
    const unsigned n = 100000;
    for (unsigned i = 0; i < n; i++) {
      struct sc_exchange x;
      char body[64];
      snprintf(body, sizeof body, "{\"txn_id\":\"t%06u\"}", i);
      mkx(&x, body, NULL, NULL);
      char *k = NULL;
      uint64_t h;
      struct sc_error e;
      cr_assert_eq(sc_replay_key("$.txn_id", &x, 1, &k, &h, &e), SC_OK);
      in += (unsigned)sc_replay_hash_in(h, fractions[f]);
      free(k);
      sc_exchange_release(&x);
    }
    double got = (double)in / n;
    cr_assert(got > fractions[f] - 0.005 && got < fractions[f] + 0.005, "fraction %g realised %g", fractions[f], got);
  }
}

Test(policy, hash_in_edges) {
  cr_assert_eq(sc_replay_hash_in(0, 0.0), 0);
  cr_assert_eq(sc_replay_hash_in(UINT64_MAX, 1.0), 1);
  cr_assert_eq(sc_replay_hash_in(0, 0.01), 1);
  cr_assert_eq(sc_replay_hash_in(UINT64_MAX, 0.99), 0);
  cr_assert_eq(sc_replay_hash_in(UINT64_MAX / 2 - 1000, 0.5), 1);
  cr_assert_eq(sc_replay_hash_in(UINT64_MAX / 2 + 100000, 0.5), 0);
}

Test(policy, errkind_names) {
  cr_assert_null(sc_replay_errkind_name(SC_RE_NONE));
  cr_assert_str_eq(sc_replay_errkind_name(SC_RE_REFUSED), "refused");
  cr_assert_str_eq(sc_replay_errkind_name(SC_RE_TOO_LARGE), "too_large");
  cr_assert_null(sc_replay_errkind_name(SC_RE_COUNT));
}
