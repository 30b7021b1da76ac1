/* test_tmpl.c - src/report/tmpl.c: escaping by default, sections, partials,
 * raw blocks only from the trusted table, syntax errors with line numbers. */
#include <criterion/criterion.h>
#include <string.h>

#include "report/tmpl.h"

static char *render(const char *tmpl, const char *json, struct sc_tmpl_env *env, int *rc_out) {
  json_error_t je;
  json_t *d = json ? json_loads(json, JSON_ALLOW_NUL, &je) : json_object();
  cr_assert_not_null(d, "bad test json: %s", je.text);
  struct sc_buf b;
  sc_buf_init(&b, 1 << 20);
  struct sc_error err;
  sc_error_init(&err);
  int rc = sc_tmpl_render(&b, "t", tmpl, d, env, &err);
  if (rc_out) *rc_out = rc;
  else cr_assert_eq(rc, 0, "render failed: %s", err.msg);
  json_decref(d);
  size_t n;
  return sc_buf_take(&b, &n);
}

struct esc_case {
  const char *in;
  size_t n;
  const char *out;
};

Test(tmpl, escape_table) {
  static const struct esc_case cases[] = {
    {"<script>alert(1)</script>", 25, "&lt;script&gt;alert(1)&lt;/script&gt;"},
    {"\"><img src=x onerror=alert(1)>", 30, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"},
    {"a'b\"c&d", 7, "a&#39;b&quot;c&amp;d"},
    {"a\0b", 3, "a\xEF\xBF\xBD" "b"},
    {"\xff\xfe<", 3, "\xEF\xBF\xBD\xEF\xBF\xBD&lt;"},
    {"\xC0\xBC", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},  /* overlong '<' */
    {"\xE0\x80\xBC", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
    {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  /* surrogate */
    {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
    {"\xE2\x82", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},  /* truncated sequence */
    {"tab\tnl\n\x1b[31m", 12, "tab\tnl\n\xEF\xBF\xBD[31m"},
    {"`x`", 3, "&#96;x&#96;"},
    {"", 0, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sc_buf b;
    sc_buf_init(&b, 4096);
    cr_assert_eq(sc_tmpl_escape_html(&b, cases[i].in, cases[i].n), 0);
    cr_assert_str_eq(b.p, cases[i].out, "case %zu", i);
    cr_assert_null(memchr(b.p, '<', b.len));
    sc_buf_release(&b);
  }
}

Test(tmpl, values_are_escaped_by_default) {
  char *s = render("<p>{{body}}</p><a title=\"{{t}}\">",
                   "{\"body\":\"<script>alert(1)</script>\",\"t\":\"\\\"><img src=x onerror=alert(1)>\"}",
                   NULL, NULL);
  cr_assert_str_eq(s, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
                      "<a title=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">");
  free(s);
}

Test(tmpl, raw_only_from_trusted_table) {
  struct sc_tmpl_raw raw[] = {{"chart", "<svg></svg>"}};
  struct sc_tmpl_env env = {NULL, NULL, raw, 1};
  /* "evil" exists in the data but {{&evil}} must not read the data tree. */
  char *s = render("{{&chart}}|{{&evil}}|{{evil}}", "{\"evil\":\"<b>\",\"chart\":\"<i>\"}", &env, NULL);
  cr_assert_str_eq(s, "<svg></svg>||&lt;b&gt;");
  free(s);
}

Test(tmpl, sections_lists_and_inverted) {
  char *s = render("{{#rows}}[{{name}}={{v}}]{{/rows}}{{^rows}}none{{/rows}}{{^empty}}E{{/empty}}"
                   "{{#obj}}{{a.b}}{{top}}{{/obj}}{{#flag}}F{{/flag}}{{#zero}}Z{{/zero}}{{! c }}",
                   "{\"rows\":[{\"name\":\"x\",\"v\":1},{\"name\":\"<y>\",\"v\":2.5}],\"empty\":[],"
                   "\"obj\":{\"a\":{\"b\":\"deep\"}},\"top\":\"T\",\"flag\":true,\"zero\":0}",
                   NULL, NULL);
  cr_assert_str_eq(s, "[x=1][&lt;y&gt;=2.5]EdeepTF");
  free(s);
  s = render("{{#l}}{{.}},{{/l}}", "{\"l\":[\"a\",3,true,null]}", NULL, NULL);
  cr_assert_str_eq(s, "a,3,true,,");
  free(s);
}

static const char *loader(void *ctx, const char *name) {
  (void)ctx;
  if (!strcmp(name, "row")) return "<td>{{v}}</td>";
  if (!strcmp(name, "loop")) return "{{>loop}}";
  return NULL;
}

Test(tmpl, partials) {
  struct sc_tmpl_env env = {loader, NULL, NULL, 0};
  char *s = render("{{#r}}{{>row}}{{/r}}", "{\"r\":[{\"v\":\"<1>\"},{\"v\":2}]}", &env, NULL);
  cr_assert_str_eq(s, "<td>&lt;1&gt;</td><td>2</td>");
  free(s);
  int rc = 0;
  s = render("{{>loop}}", NULL, &env, &rc);
  cr_assert_neq(rc, 0);
  free(s);
}

Test(tmpl, syntax_errors_name_the_line) {
  static const char *bad[] = {"a\n{{#x}}never", "{{/x}}", "{{#a}}{{/b}}", "x\n\n{{oops", "{{}}",
                              "{{a b}}", "{{>nope}}"};
  static const int lines[] = {2, 1, 1, 3, 1, 1, 1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sc_buf b;
    sc_buf_init(&b, 4096);
    struct sc_error err;
    sc_error_init(&err);
    json_t *d = json_object();
    int rc = sc_tmpl_render(&b, "t", bad[i], d, NULL, &err);
    cr_assert_eq(rc, SC_EINVAL, "case %zu", i);
    char want[32];
    snprintf(want, sizeof want, "template t:%d:", lines[i]);
    cr_assert(strstr(err.msg, want), "case %zu: %s", i, err.msg);
    json_decref(d);
    sc_buf_release(&b);
  }
}

Test(tmpl, output_cap_is_enforced) {
  struct sc_buf b;
  sc_buf_init(&b, 16);
  struct sc_error err;
  sc_error_init(&err);
  json_t *d = json_pack("{s:s}", "v", "0123456789abcdefghij");
  cr_assert_eq(sc_tmpl_render(&b, "t", "{{v}}", d, NULL, &err), SC_ETOOBIG);
  json_decref(d);
  sc_buf_release(&b);
}

Test(tmpl, random_payloads_never_yield_unescaped_lt) {
  unsigned seed = 12345;
  for (int it = 0; it < 2000; it++) {
    char payload[64];
    size_t n = (size_t)(seed % 64);
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      payload[i] = (char)(seed >> 16);
      if ((seed >> 8) % 5 == 0) payload[i] = "<>\"'&"[(seed >> 3) % 5];
    }
    seed = seed * 1103515245u + 12345u;
    json_t *d = json_object();
    json_object_set_new(d, "v", json_stringn_nocheck(payload, n));
    struct sc_buf b;
    sc_buf_init(&b, 4096);
    struct sc_error err;
    cr_assert_eq(sc_tmpl_render(&b, "t", "X{{v}}Y", d, NULL, &err), 0);
    cr_assert_eq(b.p[0], 'X');
    cr_assert_eq(b.p[b.len - 1], 'Y');
    for (size_t i = 1; i + 1 < b.len; i++)
      cr_assert(b.p[i] != '<' && b.p[i] != '>' && b.p[i] != '"' && b.p[i] != '\'' && b.p[i] != '\0');
    json_decref(d);
    sc_buf_release(&b);
  }
}
