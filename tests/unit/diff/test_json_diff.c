/* test_json_diff.c - src/diff/json_diff.c: field diffs by path, ignore and
 * tolerance patterns, arrays by index, type changes, unicode escapes, numbers
 * beyond double precision, depth and size limits, invalid and empty bodies,
 * gzip/deflate decoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "diff/json_diff.h"

static struct sc_config cfg;
static struct sc_diff_rules rules;

static void setup_rules(const char *yaml) {
  struct sc_error err;
  cr_assert_eq(sc_config_init_defaults(&cfg), 0);
  if (yaml) cr_assert_eq(sc_config_load_buffer(&cfg, "t.yaml", yaml, strlen(yaml), &err), 0, "%s", err.msg);
  cr_assert_eq(sc_diff_rules_init(&rules, &cfg, &err), 0, "%s", err.msg);
}

static void teardown_rules(void) {
  sc_diff_rules_release(&rules);
  sc_config_release(&cfg);
}

/* Diffs a and b (JSON bodies) and renders "kind path;kind path;..." */
static enum sc_diff_class diff(const char *a, const char *b, char *out, size_t n) {
  struct sc_body ba = {a, strlen(a), "application/json", NULL}, bb = {b, strlen(b), "application/json", NULL};
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  cr_assert_eq(sc_diff_bodies(&rules, &ba, &bb, &r), 0);
  out[0] = '\0';
  for (size_t i = 0; i < r.n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s%s %s", i ? ";" : "", sc_diff_kind_str(r.v[i].kind), sc_diff_path(&r, &r.v[i]));
  }
  enum sc_diff_class c = r.cls;
  sc_diff_result_release(&r);
  return c;
}

static const struct {
  const char *a, *b;
  enum sc_diff_class cls;
  const char *diffs;
} cases[] = {
  {"{\"a\":1}", "{\"a\":1}", SC_DC_EQUAL, ""},
  {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", SC_DC_EQUAL, ""},                           /* member order */
  {"{\"a\":1}", "{\"a\":2}", SC_DC_DIFFER, "changed $.a"},
  {"{\"a\":1}", "{\"a\":\"1\"}", SC_DC_DIFFER, "type_changed $.a"},
  {"{\"a\":1}", "{\"a\":1.0}", SC_DC_EQUAL, ""},                                           /* int vs real, same value */
  {"{\"a\":null}", "{\"a\":false}", SC_DC_DIFFER, "type_changed $.a"},
  {"{\"a\":true}", "{\"a\":false}", SC_DC_DIFFER, "changed $.a"},
  {"{\"a\":1}", "{}", SC_DC_DIFFER, "removed $.a"},
  {"{}", "{\"z\":{\"y\":1}}", SC_DC_DIFFER, "added $.z"},
  {"{\"a\":{\"b\":{\"c\":[1,2,3]}}}", "{\"a\":{\"b\":{\"c\":[1,5,3]}}}", SC_DC_DIFFER, "changed $.a.b.c[1]"},
  /* arrays of different length, compared by index */
  {"[1,2,3]", "[1,2]", SC_DC_DIFFER, "removed $[2]"},
  {"[1,2]", "[1,2,3,4]", SC_DC_DIFFER, "added $[2];added $[3]"},
  {"[1,2,3]", "[2,3]", SC_DC_DIFFER, "changed $[0];changed $[1];removed $[2]"},
  {"{\"a\":[]}", "{\"a\":{}}", SC_DC_DIFFER, "type_changed $.a"},
  /* unicode escapes decode to the same string */
  {"{\"s\":\"caf\\u00e9\"}", "{\"s\":\"caf\xc3\xa9\"}", SC_DC_EQUAL, ""},
  {"{\"s\":\"\\ud83d\\ude00\"}", "{\"s\":\"\xf0\x9f\x98\x80\"}", SC_DC_EQUAL, ""},
  {"{\"s\":\"a\\u0000b\"}", "{\"s\":\"a\\u0000c\"}", SC_DC_DIFFER, "changed $.s"},   /* embedded NUL */
  {"{\"caf\\u00e9\":1}", "{\"caf\\u00e9\":2}", SC_DC_DIFFER, "changed $[\"caf\xc3\xa9\"]"},
  {"{\"a b\":1}", "{\"a b\":2}", SC_DC_DIFFER, "changed $[\"a b\"]"},
  {"{\"q\\\"\":1}", "{\"q\\\"\":2}", SC_DC_DIFFER, "changed $[\"q\\\"\"]"},
  /* numbers beyond double precision: integers are compared exactly */
  {"{\"n\":9007199254740993}", "{\"n\":9007199254740992}", SC_DC_DIFFER, "changed $.n"},
  {"{\"n\":9223372036854775807}", "{\"n\":9223372036854775807}", SC_DC_EQUAL, ""},
  /* beyond int64 they are read as doubles (documented): no crash, same value */
  {"{\"n\":123456789012345678901234567890}", "{\"n\":123456789012345678901234567890}", SC_DC_EQUAL, ""},
  {"{\"n\":1e400}", "{\"n\":1}", SC_DC_INVALID_JSON, ""},
  /* scalars at the top level */
  {"1", "2", SC_DC_DIFFER, "changed $"},
  {"\"x\"", "\"x\"", SC_DC_EQUAL, ""},
  /* invalid and empty */
  {"{\"a\":", "{\"a\":1}", SC_DC_INVALID_JSON, ""},
  {"{\"a\":1}", "{'a':1}", SC_DC_INVALID_JSON, ""},
  {"", "", SC_DC_EMPTY, ""},
  {"  \n", "", SC_DC_EMPTY, ""},
  {"", "{\"a\":1}", SC_DC_DIFFER, "added $"},
  {"{\"a\":1}", "", SC_DC_DIFFER, "removed $"},
};

Test(json_diff, table, .init = NULL) {
  setup_rules(NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[1024];
    enum sc_diff_class c = diff(cases[i].a, cases[i].b, out, sizeof out);
    cr_expect_eq(c, cases[i].cls, "case %zu: class %s, want %s", i, sc_diff_class_str(c), sc_diff_class_str(cases[i].cls));
    cr_expect_str_eq(out, cases[i].diffs, "case %zu", i);
  }
  teardown_rules();
}

Test(json_diff, ignore_patterns) {
  setup_rules("diff:\n  ignore: [\"$.meta.*\", \"$..request_id\", \"$.items[*].ts\", \"$.x[1]\"]\n");
  char out[1024];
  cr_assert_eq(diff("{\"meta\":{\"a\":1,\"b\":2},\"v\":1}", "{\"meta\":{\"a\":9,\"c\":3},\"v\":1}", out, sizeof out), SC_DC_EQUAL, "%s", out);
  /* $.meta.* ignores the members, not a change of meta itself into another type */
  cr_assert_eq(diff("{\"meta\":{\"a\":1}}", "{\"meta\":5}", out, sizeof out), SC_DC_DIFFER);
  cr_assert_str_eq(out, "type_changed $.meta");
  cr_assert_eq(diff("{\"request_id\":\"a\",\"deep\":{\"k\":[{\"request_id\":1}]}}",
                    "{\"request_id\":\"b\",\"deep\":{\"k\":[{\"request_id\":2}]}}", out, sizeof out), SC_DC_EQUAL, "%s", out);
  cr_assert_eq(diff("{\"items\":[{\"ts\":1,\"v\":1},{\"ts\":2,\"v\":2}]}", "{\"items\":[{\"ts\":5,\"v\":1},{\"ts\":6,\"v\":3}]}",
                    out, sizeof out), SC_DC_DIFFER);
  cr_assert_str_eq(out, "changed $.items[1].v");
  cr_assert_eq(diff("{\"x\":[1,2,3]}", "{\"x\":[1,9,4]}", out, sizeof out), SC_DC_DIFFER);
  cr_assert_str_eq(out, "changed $.x[2]");
  teardown_rules();
}

Test(json_diff, path_match) {
  static const struct { const char *pat, *path; int m; } t[] = {
    {"$.a.b", "$.a.b", 1}, {"$.a.b", "$.a.c", 0}, {"$.a.*", "$.a.zz", 1}, {"$.a.*", "$.a[3]", 1},
    {"$.a.*", "$.a.b.c", 0}, {"$..id", "$.x.y[2].id", 1}, {"$..id", "$.id", 1}, {"$..id", "$.idx", 0},
    {"$.a[*].b", "$.a[7].b", 1}, {"$.a[2]", "$.a[2]", 1}, {"$.a[2]", "$.a[3]", 0},
    {"$[\"a b\"].c", "$[\"a b\"].c", 1}, {"$..a.b", "$.x.a.b", 1}, {"$..a.b", "$.x.a.c.b", 0},
    {"bad", "$.a", 0}, {"$.", "$.a", 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    cr_expect_eq(sc_diff_path_match(t[i].pat, t[i].path), t[i].m, "%s vs %s", t[i].pat, t[i].path);
}

Test(json_diff, numeric_tolerance) {
  setup_rules("diff:\n  tolerances:\n    - {path: \"$.score\", abs: 0.001}\n    - {path: \"$.items[*].w\", rel: 0.01}\n");
  char out[256];
  cr_assert_eq(diff("{\"score\":0.5}", "{\"score\":0.5009}", out, sizeof out), SC_DC_EQUAL);
  cr_assert_eq(diff("{\"score\":0.5}", "{\"score\":0.502}", out, sizeof out), SC_DC_DIFFER);
  cr_assert_eq(diff("{\"items\":[{\"w\":100}]}", "{\"items\":[{\"w\":100.9}]}", out, sizeof out), SC_DC_EQUAL);
  cr_assert_eq(diff("{\"items\":[{\"w\":100}]}", "{\"items\":[{\"w\":102}]}", out, sizeof out), SC_DC_DIFFER);
  cr_assert_eq(diff("{\"other\":0.5}", "{\"other\":0.5009}", out, sizeof out), SC_DC_DIFFER); /* exact elsewhere */
  teardown_rules();
}

static char *nested(size_t depth) {
  char *s = malloc(2 * depth + 2);
  for (size_t i = 0; i < depth; i++) s[i] = '[';
  s[depth] = '1';
  for (size_t i = 0; i < depth; i++) s[depth + 1 + i] = ']';
  s[2 * depth + 1] = '\0';
  return s;
}

Test(json_diff, depth_limit_classified) {
  setup_rules("diff:\n  max_depth: 64\n");
  char out[256];
  char *ok = nested(64), *deep = nested(65), *huge = nested(100000);
  cr_assert_eq(diff(ok, ok, out, sizeof out), SC_DC_EQUAL);
  cr_assert_eq(diff(deep, deep, out, sizeof out), SC_DC_TOO_DEEP);
  cr_assert_eq(diff(huge, ok, out, sizeof out), SC_DC_TOO_DEEP);
  free(ok);
  free(deep);
  free(huge);
  teardown_rules();
}

Test(json_diff, size_limit_classified) {
  setup_rules("diff:\n  max_bytes: 1k\n");
  char out[256];
  char big[2048];
  memset(big, ' ', sizeof big);
  big[0] = '[';
  big[sizeof big - 2] = ']';
  big[sizeof big - 1] = '\0';
  cr_assert_eq(diff(big, "[]", out, sizeof out), SC_DC_TOO_LARGE);
  teardown_rules();
}

Test(json_diff, non_json_by_content_type_and_bytes) {
  setup_rules(NULL);
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  struct sc_body a = {"hello", 5, "text/plain", NULL}, b = {"hello", 5, "text/plain; charset=utf-8", NULL};
  struct sc_body c = {"hellO", 5, "text/plain", NULL}, d = {"hello", 5, "text/html", NULL};
  cr_assert_eq(sc_diff_bodies(&rules, &a, &b, &r), 0);
  cr_assert_eq(r.cls, SC_DC_NON_JSON_EQUAL);
  cr_assert_eq(sc_diff_bodies(&rules, &a, &c, &r), 0);
  cr_assert_eq(r.cls, SC_DC_NON_JSON_DIFFER);
  cr_assert_eq(sc_diff_bodies(&rules, &a, &d, &r), 0);
  cr_assert_eq(r.cls, SC_DC_NON_JSON_DIFFER);
  /* JSON without a content type is still compared as JSON */
  struct sc_body e = {"{\"a\":1}", 7, NULL, NULL}, f = {"{\"a\":2}", 7, NULL, NULL};
  cr_assert_eq(sc_diff_bodies(&rules, &e, &f, &r), 0);
  cr_assert_eq(r.cls, SC_DC_DIFFER);
  sc_diff_result_release(&r);
  teardown_rules();
}

static size_t zcompress(const char *in, int wbits, unsigned char *out, size_t n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)strlen(in);
  z.next_out = out;
  z.avail_out = (uInt)n;
  cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  size_t len = n - z.avail_out;
  deflateEnd(&z);
  return len;
}

Test(json_diff, gzip_and_deflate_decoded_first) {
  setup_rules(NULL);
  unsigned char gz[256], zl[256], raw[256];
  const char *js = "{\"score\":0.25,\"decision\":\"legit\"}";
  size_t ng = zcompress(js, 15 + 16, gz, sizeof gz), nz = zcompress(js, 15, zl, sizeof zl),
         nr = zcompress(js, -15, raw, sizeof raw);
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  struct sc_body plain = {js, strlen(js), "application/json", NULL};
  struct sc_body g = {gz, ng, "application/json", "gzip"};
  struct sc_body z = {zl, nz, "application/json", "deflate"};
  struct sc_body w = {raw, nr, "application/json", "deflate"};
  cr_assert_eq(sc_diff_bodies(&rules, &plain, &g, &r), 0);
  cr_assert_eq(r.cls, SC_DC_EQUAL);
  cr_assert_eq(sc_diff_bodies(&rules, &plain, &z, &r), 0);
  cr_assert_eq(r.cls, SC_DC_EQUAL);
  cr_assert_eq(sc_diff_bodies(&rules, &plain, &w, &r), 0);
  cr_assert_eq(r.cls, SC_DC_EQUAL);
  struct sc_body bad = {gz, ng / 2, "application/json", "gzip"};
  cr_assert_eq(sc_diff_bodies(&rules, &plain, &bad, &r), 0);
  cr_assert_eq(r.cls, SC_DC_DECODE_ERROR);
  struct sc_body br = {js, strlen(js), "application/json", "br"};
  cr_assert_eq(sc_diff_bodies(&rules, &plain, &br, &r), 0);
  cr_assert_eq(r.cls, SC_DC_DECODE_ERROR);
  sc_diff_result_release(&r);
  teardown_rules();
}

Test(json_diff, gzip_bomb_stops_at_cap) {
  setup_rules("diff:\n  max_bytes: 64k\n");
  size_t n = 4u << 20;
  char *zeros = calloc(1, n + 1);
  memset(zeros, ' ', n);
  zeros[0] = '[';
  zeros[n - 1] = ']';
  unsigned char *gz = malloc(n);
  size_t ng = zcompress(zeros, 15 + 16, gz, n);
  cr_assert_lt(ng, 64u << 10);
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  struct sc_body a = {gz, ng, "application/json", "gzip"}, b = {"[]", 2, "application/json", NULL};
  cr_assert_eq(sc_diff_bodies(&rules, &a, &b, &r), 0);
  cr_assert_eq(r.cls, SC_DC_TOO_LARGE);
  sc_diff_result_release(&r);
  free(zeros);
  free(gz);
  teardown_rules();
}

Test(json_diff, many_differences_truncate) {
  setup_rules(NULL);
  size_t n = 10000;
  char *a = malloc(n * 4 + 8), *b = malloc(n * 4 + 8);
  size_t la = 0, lb = 0;
  a[la++] = '[';
  b[lb++] = '[';
  for (size_t i = 0; i < n; i++) {
    la += (size_t)sprintf(a + la, "%s1", i ? "," : "");
    lb += (size_t)sprintf(b + lb, "%s2", i ? "," : "");
  }
  a[la++] = ']';
  b[lb++] = ']';
  a[la] = b[lb] = '\0';
  struct sc_body ba = {a, la, "application/json", NULL}, bb = {b, lb, "application/json", NULL};
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  cr_assert_eq(sc_diff_bodies(&rules, &ba, &bb, &r), 0);
  cr_assert_eq(r.cls, SC_DC_DIFFER);
  cr_assert_eq(r.truncated, 1);
  cr_assert_eq(r.n, rules.max_entries);
  sc_diff_result_release(&r);
  free(a);
  free(b);
  teardown_rules();
}

Test(json_diff, value_text_truncates) {
  json_t *s = json_string("abcdefghijklmnopqrstuvwxyz");
  char out[12];
  sc_diff_value_text(s, out, sizeof out);
  cr_assert_str_eq(out, "\"abcdefg...");
  sc_diff_value_text(NULL, out, sizeof out);
  cr_assert_str_eq(out, "");
  json_decref(s);
}

/* Fuzz seeds and every kept fuzz finding (tests/fixtures/regress/fuzz_json_diff-*)
 * go through the properties of tests/fuzz/fuzz_json_diff.c: no crash, a body
 * compared with itself never differs. */
#include <dirent.h>

static void replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (!n) return;
  const unsigned char *nul = memchr(buf + 1, 0, n - 1);
  size_t na = nul ? (size_t)(nul - (buf + 1)) : (n - 1) / 2;
  struct sc_body a = {buf + 1, na, "application/json", NULL};
  struct sc_parsed pa;
  sc_parsed_init(&pa);
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  cr_assert_eq(sc_diff_parse(&rules, &a, &pa), 0);
  cr_assert_eq(sc_diff_parsed(&rules, &pa, &pa, &r), 0);
  cr_assert(r.cls != SC_DC_DIFFER && r.cls != SC_DC_NON_JSON_DIFFER && r.n == 0, "%s: %s", path,
            sc_diff_class_str(r.cls));
  sc_diff_result_release(&r);
  sc_parsed_release(&pa);
}

Test(json_diff, fuzz_seeds_and_regressions) {
  setup_rules(NULL);
  static const char *const dirs[] = {SC_SOURCE_DIR "/tests/fuzz/corpus/json_diff", SC_SOURCE_DIR "/tests/fixtures/regress"};
  size_t seen = 0;
  for (size_t d = 0; d < 2; d++) {
    DIR *dir = opendir(dirs[d]);
    if (!dir) continue;
    struct dirent *e;
    while ((e = readdir(dir))) {
      if (e->d_name[0] == '.') continue;
      if (d == 1 && strncmp(e->d_name, "fuzz_json_diff-", 15)) continue;
      char p[1024];
      snprintf(p, sizeof p, "%s/%s", dirs[d], e->d_name);
      replay_file(p);
      seen++;
    }
    closedir(dir);
  }
  cr_assert_geq(seen, 3); /* the seeds at least */
  teardown_rules();
}
