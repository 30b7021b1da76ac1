/* test_extract.c - src/diff/extract.c: decision rules (score + threshold,
 * label + positive set), path lookup, request fields for slices. */
#include <criterion/criterion.h>
#include <string.h>

#include "diff/extract.h"

static json_t *J(const char *s) {
  json_error_t e;
  json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
  cr_assert_not_null(j, "%s", e.text);
  return j;
}

Test(extract, path_lookup) {
  json_t *j = J("{\"a\":{\"b\":[10,{\"c\":\"x\"}]},\"k y\":1,\"deep\":{\"x\":{\"id\":7}}}");
  cr_assert_eq(json_integer_value(sc_extract_path(j, "$.a.b[0]")), 10);
  cr_assert_str_eq(json_string_value(sc_extract_path(j, "$.a.b[1].c")), "x");
  cr_assert_eq(json_integer_value(sc_extract_path(j, "$[\"k y\"]")), 1);
  cr_assert_eq(json_integer_value(sc_extract_path(j, "$..id")), 7);
  cr_assert_eq(sc_extract_path(j, "$"), j);
  cr_assert_null(sc_extract_path(j, "$.a.b[2]"));
  cr_assert_null(sc_extract_path(j, "$.a.b.c"));
  cr_assert_null(sc_extract_path(j, "a.b"));
  cr_assert_null(sc_extract_path(j, "$.a["));
  cr_assert_null(sc_extract_path(NULL, "$.a"));
  json_decref(j);
}

static const struct {
  const char *yaml;   /* overlay on defaults */
  const char *body;
  int decision, has_score;
  double score;
  const char *label;
} rules[] = {
  {NULL, "{\"score\":0.7,\"decision\":\"legit\"}", 1, 1, 0.7, "legit"},  /* score decides when present */
  {NULL, "{\"score\":0.5}", 1, 1, 0.5, NULL},                            /* >= threshold */
  {NULL, "{\"score\":0.4999}", 0, 1, 0.4999, NULL},
  {NULL, "{\"decision\":\"fraud\"}", 1, 0, 0, "fraud"},                  /* label when no score */
  {NULL, "{\"decision\":\"legit\"}", 0, 0, 0, "legit"},
  {NULL, "{\"decision\":true}", 1, 0, 0, "true"},
  {NULL, "{\"score\":\"0.9\"}", -1, 0, 0, NULL},                         /* string score: unreadable */
  {NULL, "{}", -1, 0, 0, NULL},
  {NULL, "[1,2]", -1, 0, 0, NULL},
  {"decision:\n  threshold: 0.8\n", "{\"score\":0.7}", 0, 1, 0.7, NULL},
  {"decision:\n  score_path: \"$.out.p\"\n", "{\"out\":{\"p\":0.9}}", 1, 1, 0.9, NULL},
  {"decision:\n  score_path: \"\"\n  label_path: \"$.verdict\"\n  positive: [BLOCK, REVIEW]\n",
   "{\"score\":0.99,\"verdict\":\"REVIEW\"}", 1, 0, 0, "REVIEW"},
  {"decision:\n  score_path: \"\"\n  label_path: \"$.verdict\"\n  positive: [BLOCK]\n",
   "{\"verdict\":\"block\"}", 0, 0, 0, "block"},                         /* exact match */
};

Test(extract, decision_rules) {
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    struct sc_config cfg;
    struct sc_error err;
    cr_assert_eq(sc_config_init_defaults(&cfg), 0);
    if (rules[i].yaml)
      cr_assert_eq(sc_config_load_buffer(&cfg, "t", rules[i].yaml, strlen(rules[i].yaml), &err), 0, "%s", err.msg);
    json_t *j = J(rules[i].body);
    struct sc_decision d;
    sc_extract_decision(&cfg, j, &d);
    cr_expect_eq(d.decision, rules[i].decision, "case %zu", i);
    cr_expect_eq(d.has_score, rules[i].has_score, "case %zu", i);
    if (rules[i].has_score) cr_expect_float_eq(d.score, rules[i].score, 1e-12, "case %zu", i);
    cr_expect_eq(d.has_label, rules[i].label != NULL, "case %zu", i);
    if (rules[i].label) cr_expect_str_eq(d.label, rules[i].label, "case %zu", i);
    json_decref(j);
    sc_config_release(&cfg);
  }
  struct sc_config cfg;
  cr_assert_eq(sc_config_init_defaults(&cfg), 0);
  struct sc_decision d;
  sc_extract_decision(&cfg, NULL, &d);
  cr_assert_eq(d.decision, -1);
  sc_config_release(&cfg);
}

Test(extract, request_fields) {
  const char *h = "[[\"Content-Type\",\"application/json\"],[\"X-Region\",\"eu-west\"]]";
  const char *b = "{\"country\":\"FR\",\"amount\":12.5,\"n\":3}";
  char out[64];
  cr_assert_eq(sc_extract_request_field("header:x-region", h, strlen(h), b, strlen(b), out, sizeof out), 1);
  cr_assert_str_eq(out, "eu-west");
  cr_assert_eq(sc_extract_request_field("$.country", h, strlen(h), b, strlen(b), out, sizeof out), 1);
  cr_assert_str_eq(out, "FR");
  cr_assert_eq(sc_extract_request_field("$.n", h, strlen(h), b, strlen(b), out, sizeof out), 1);
  cr_assert_str_eq(out, "3");
  cr_assert_eq(sc_extract_request_field("$.missing", h, strlen(h), b, strlen(b), out, sizeof out), 0);
  cr_assert_eq(sc_extract_request_field("header:Nope", h, strlen(h), b, strlen(b), out, sizeof out), 0);
  cr_assert_eq(sc_extract_request_field("$.country", h, strlen(h), "not json", 8, out, sizeof out), 0);
  cr_assert_eq(sc_extract_request_field("header:X-Region", "garbage", 7, NULL, 0, out, sizeof out), 0);
}
