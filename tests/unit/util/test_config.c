/* test_config.c - src/util/config.c: shadow.yaml defaults, overlay, and every
 * mistake reported as FILE:LINE:COLUMN. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

static int load(struct sc_config *c, const char *yaml, struct sc_error *err) {
  sc_error_init(err);
  int rc = sc_config_init_defaults(c);
  cr_assert_eq(rc, 0);
  return sc_config_load_buffer(c, "t.yaml", yaml, strlen(yaml), err);
}

Test(config, defaults_work_without_a_file) {
  struct sc_config c;
  cr_assert_eq(sc_config_init_defaults(&c), 0);
  cr_assert_str_eq(c.score_path, "$.score");
  cr_assert_str_eq(c.label_path, "$.decision");
  cr_assert_str_eq(c.request_key, "default");
  cr_assert_float_eq(c.threshold, 0.5, 1e-12);
  cr_assert_float_eq(c.alpha, 0.05, 1e-12);
  cr_assert_gt(c.n_criteria, 3);
  cr_assert_gt(c.n_positive_labels, 0);
  for (size_t i = 0; i < c.n_criteria; i++) cr_assert_eq(c.criteria[i].needs_labels, 0);
  char *js = sc_config_to_json(&c);
  cr_assert_not_null(js);
  cr_assert_not_null(strstr(js, "\"latency_p99_ratio\""));
  free(js);
  sc_config_release(&c);
}

Test(config, full_example_file_loads) {
  struct sc_config c;
  struct sc_error err;
  cr_assert_eq(sc_config_init_defaults(&c), 0);
  int rc = sc_config_load(&c, SC_SOURCE_DIR "/schemas/shadow.example.yaml", &err);
  cr_assert_eq(rc, 0, "%s", err.msg);
  cr_assert_str_eq(c.request_key, "$.txn_id");
  cr_assert_eq(c.n_ignore_paths, 3);
  cr_assert_str_eq(c.ignore_paths[1], "$..request_id");
  cr_assert_eq(c.n_tolerances, 2);
  cr_assert_float_eq(c.tolerances[0].abs, 0.0001, 1e-12);
  cr_assert_float_eq(c.tolerances[1].rel, 0.01, 1e-12);
  cr_assert_eq(c.max_json_bytes, 16u << 20);
  cr_assert_eq(c.n_sweep, 9);
  cr_assert_eq(c.n_slices, 2);
  cr_assert_str_eq(c.slices[1], "header:X-Region");
  cr_assert_eq(c.n_criteria, 8);
  struct sc_criterion *last = &c.criteria[7];
  cr_assert_str_eq(last->metric, "fpr_delta");
  cr_assert_eq(last->needs_labels, 1);
  cr_assert_eq(last->cmp, SC_CMP_LE);
  cr_assert_eq(last->min_samples, 200);
  cr_assert_str_eq(c.criteria[0].target, "all");
  cr_assert_eq(c.criteria[0].cmp, SC_CMP_GE);
  cr_assert_eq(c.criteria[4].use_abs, 1);
  cr_assert_str_eq(c.path, SC_SOURCE_DIR "/schemas/shadow.example.yaml");
  sc_config_release(&c);
}

Test(config, overlay_keeps_unset_defaults) {
  struct sc_config c;
  struct sc_error err;
  int rc = load(&c, "decision:\n  threshold: 0.8\n  positive: fraud\n", &err);
  cr_assert_eq(rc, 0, "%s", err.msg);
  cr_assert_float_eq(c.threshold, 0.8, 1e-12);
  cr_assert_str_eq(c.score_path, "$.score");
  cr_assert_eq(c.n_positive_labels, 1);
  cr_assert_str_eq(c.positive_labels[0], "fraud");
  sc_config_release(&c);
}

Test(config, empty_file_is_defaults) {
  struct sc_config c;
  struct sc_error err;
  cr_assert_eq(load(&c, "", &err), 0, "%s", err.msg);
  cr_assert_str_eq(c.score_path, "$.score");
  sc_config_release(&c);
  cr_assert_eq(load(&c, "# only a comment\n", &err), 0, "%s", err.msg);
  sc_config_release(&c);
}

static const struct {
  const char *yaml;
  int code;
  const char *where; /* "t.yaml:L:C:" prefix */
  const char *what;  /* substring of the message */
} bad[] = {
  {"decision:\n  threshold: high\n", SC_ECONFIG, "t.yaml:2:14:", "must be a number"},
  {"decison:\n  threshold: 1\n", SC_ECONFIG, "t.yaml:1:1:", "unknown key 'decison'"},
  {"diff:\n  ignore: [\"$.a\", \"meta\"]\n", SC_ECONFIG, "t.yaml:2:19:", "invalid path 'meta'"},
  {"diff:\n  ignore: [\"$.a\"\n", SC_EPARSE_YAML, "t.yaml:", "did not find expected"},
  {"criteria:\n  - metric: fpr_delta\n", SC_ECONFIG, "t.yaml:2:5:", "needs 'threshold'"},
  {"criteria:\n  - {metric: x, op: \"=>\", threshold: 1}\n", SC_ECONFIG, "t.yaml:2:21:", "'op' must be"},
  {"criteria:\n  - {metric: x, max: 1, target: canary}\n", SC_ECONFIG, "t.yaml:2:33:", "'target' must be"},
  {"- a\n- b\n", SC_ECONFIG, "t.yaml:1:1:", "must be a mapping"},
  {"statistics:\n  alpha: 2\n", SC_ECONFIG, "t.yaml:2:10:", "between"},
  {"statistics:\n  correction: bonferroni\n", SC_ECONFIG, "t.yaml:2:15:", "holm or bh"},
  {"version: 2\n", SC_ECONFIG, "t.yaml:1:10:", "unsupported version"},
  {"diff:\n  max_bytes: -5\n", SC_ECONFIG, "t.yaml:2:14:", "non-negative"},
  {"diff:\n  tolerances:\n    - {abs: 1}\n", SC_ECONFIG, "t.yaml:3:7:", "needs a 'path'"},
  {"a: [\n", SC_EPARSE_YAML, "t.yaml:2:1:", ""},
  {"key: \"unterminated\n", SC_EPARSE_YAML, "t.yaml:", "quoted scalar"},
  {"slices: [\"$.country\", 3x]\n", SC_ECONFIG, "t.yaml:1:23:", "invalid path"},
  {"\tdecision: 1\n", SC_EPARSE_YAML, "t.yaml:1:1:", ""},
};

Test(config, every_mistake_has_file_line_column) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sc_config c;
    struct sc_error err;
    int rc = load(&c, bad[i].yaml, &err);
    cr_expect_eq(rc, bad[i].code, "case %zu: rc %d msg %s", i, rc, err.msg);
    cr_expect(!strncmp(err.msg, bad[i].where, strlen(bad[i].where)), "case %zu: '%s' does not start with '%s'",
              i, err.msg, bad[i].where);
    cr_expect_not_null(strstr(err.msg, bad[i].what), "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].what);
    sc_config_release(&c);
  }
}

Test(config, missing_file_is_enoent) {
  struct sc_config c;
  struct sc_error err;
  cr_assert_eq(sc_config_init_defaults(&c), 0);
  cr_assert_eq(sc_config_load(&c, "/nonexistent/shadow.yaml", &err), SC_ENOENT);
  cr_assert_not_null(strstr(err.msg, "/nonexistent/shadow.yaml"));
  sc_config_release(&c);
}

Test(config, cmp_round_trip) {
  for (int i = SC_CMP_LT; i <= SC_CMP_EQ; i++) cr_assert_eq(sc_cmp_parse(sc_cmp_str((enum sc_cmp)i)), i);
  cr_assert(sc_cmp_eval(SC_CMP_LE, 1.2, 1.2));
  cr_assert(!sc_cmp_eval(SC_CMP_LT, 1.2, 1.2));
  cr_assert(sc_cmp_eval(SC_CMP_GE, 100, 100));
  cr_assert_eq(sc_cmp_parse("~"), -1);
}

/* --set KEY=VALUE: each value of the file has a command-line equivalent,
 * overlaid after the file with the file's checks and messages. */
Test(config, set_overrides_after_the_file) {
  struct sc_config c;
  struct sc_error err;
  cr_assert_eq(load(&c, "decision:\n  threshold: 0.6\n  score_path: \"$.s\"\n", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_config_apply_set(&c, "decision.threshold=0.75", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_config_apply_set(&c, "decision.score_path=$.probability", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_config_apply_set(&c, "diff.ignore=[$.meta.*, \"$..ts\"]", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_config_apply_set(&c, "request_key=header:X-Request-Id", &err), 0, "%s", err.msg);
  cr_assert_float_eq(c.threshold, 0.75, 1e-12);
  cr_assert_str_eq(c.score_path, "$.probability");
  cr_assert_eq(c.n_ignore_paths, 2);
  cr_assert_str_eq(c.ignore_paths[0], "$.meta.*");
  cr_assert_str_eq(c.ignore_paths[1], "$..ts");
  cr_assert_str_eq(c.request_key, "header:X-Request-Id");
  sc_config_release(&c);
}

Test(config, set_mistakes_name_the_assignment) {
  static const struct {
    const char *set, *want;
  } cases[] = {
    {"decision.threshold", "expected KEY=VALUE"},
    {"=1", "expected KEY=VALUE"},
    {"decision.threshold=", "expected KEY=VALUE"},
    {"decision..threshold=1", "empty part"},
    {"Decision.threshold=1", "may hold only"},
    {"decision.threshold=abc", "must be a number"},
    {"nosuchkey=1", "unknown key 'nosuchkey'"},
    {"decision.threshold=[1", "--set 'decision.threshold=[1'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sc_config c;
    struct sc_error err;
    sc_error_init(&err);
    cr_assert_eq(sc_config_init_defaults(&c), 0);
    cr_assert_neq(sc_config_apply_set(&c, cases[i].set, &err), 0, "'%s' accepted", cases[i].set);
    cr_assert(strstr(err.msg, cases[i].want), "'%s': message '%s' lacks '%s'", cases[i].set, err.msg, cases[i].want);
    cr_assert(strstr(err.msg, "--set"), "'%s': message '%s' does not name --set", cases[i].set, err.msg);
    cr_assert_float_eq(c.threshold, 0.5, 1e-12, "a failed --set changed the threshold");
    sc_config_release(&c);
  }
}

Test(config, analysis_id_ignores_path_and_criteria_only) {
  struct sc_config a, b;
  struct sc_error err;
  char ia[17], ib[17];
  cr_assert_eq(load(&a, "criteria:\n  - {metric: exchanges, target: all, min: 5}\n", &err), 0, "%s", err.msg);
  cr_assert_eq(load(&b, "version: 1\n", &err), 0, "%s", err.msg);
  sc_config_analysis_id(&a, ia);
  sc_config_analysis_id(&b, ib);
  cr_assert_str_eq(ia, ib, "criteria changed the analysis id");
  cr_assert_eq(sc_config_apply_set(&b, "decision.threshold=0.7", &err), 0, "%s", err.msg);
  sc_config_analysis_id(&b, ib);
  cr_assert_str_neq(ia, ib, "the decision threshold did not change the analysis id");
  sc_config_release(&a);
  sc_config_release(&b);
}
