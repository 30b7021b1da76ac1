/*
 * md.c - the Markdown report, for a pull-request comment: verdict, criteria
 * table, latency table, errors, step list. Stage: report. Reference:
 * CommonMark 0.31 / GitHub Flavored Markdown tables. Untrusted text is made
 * valid UTF-8 and stripped of what could break out of a table cell or inject
 * markup (| ` < > and newlines are replaced).
 */
#include "report/report.h"

#include <string.h>

#include "report/tmpl.h"

/* Appends s as inline text safe inside a table cell. */
static int cell(struct sc_buf *o, const char *s) {
  struct sc_buf c;
  sc_buf_init(&c, strlen(s) * 3 + 8);
  int rc = sc_tmpl_utf8_clean(&c, s, strlen(s));
  for (size_t i = 0; i < c.len && !rc; i++) {
    char ch = c.p[i];
    switch (ch) {
    case '|': rc = sc_buf_puts(o, "\\|"); break;
    case '<': rc = sc_buf_puts(o, "&lt;"); break;
    case '>': rc = sc_buf_puts(o, "&gt;"); break;
    case '&': rc = sc_buf_puts(o, "&amp;"); break;
    case '`': rc = sc_buf_puts(o, "'"); break;
    case '*': case '_': case '[': case ']': case '\\':
      rc = sc_buf_putc(o, '\\');
      if (!rc) rc = sc_buf_putc(o, ch);
      break;
    case '\n': case '\r': case '\t': rc = sc_buf_putc(o, ' '); break;
    default: rc = sc_buf_putc(o, ch);
    }
  }
  sc_buf_release(&c);
  return rc;
}

static const char *js(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static int jval(struct sc_buf *o, json_t *obj, const char *k) {
  json_t *v = json_object_get(obj, k);
  if (json_is_integer(v)) return sc_buf_printf(o, "%lld", (long long)json_integer_value(v));
  if (json_is_real(v)) return sc_buf_printf(o, "%.4g", json_real_value(v));
  if (json_is_string(v)) return cell(o, json_string_value(v));
  return sc_buf_puts(o, "–");
}

int sc_report_markdown(const struct sc_report *r, struct sc_buf *o, struct sc_error *err) {
  json_t *m = r->model, *run = json_object_get(m, "run"), *v = json_object_get(m, "verdict");
  const char *verdict = js(v, "verdict");
  const char *icon = !strcmp(verdict, "pass") ? "✅" : !strcmp(verdict, "fail") ? "❌" : "⚠️";
  int rc = sc_buf_printf(o, "## %s shadowctl verdict: **%s** (run ", icon, verdict);
  if (!rc) rc = jval(o, run, "id");
  if (!rc) rc = sc_buf_puts(o, ")\n\n");
  json_t *br = json_object_get(v, "breached");
  if (!rc && json_array_size(br)) {
    rc = sc_buf_puts(o, "Breached: ");
    size_t i;
    json_t *b;
    json_array_foreach(br, i, b) {
      if (!rc && i) rc = sc_buf_puts(o, ", ");
      if (!rc) rc = cell(o, json_string_value(b));
    }
    if (!rc) rc = sc_buf_puts(o, "\n\n");
  }
  if (!rc) rc = sc_buf_puts(o, "| Criterion | Threshold | Measured [interval] | n | Result | Reason |\n|---|---|---|---:|---|---|\n");
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(v, "criteria"), i, c) {
    if (rc) break;
    rc = sc_buf_puts(o, "| ");
    if (!rc) rc = cell(o, js(c, "name"));
    if (!rc) rc = sc_buf_puts(o, " | ");
    if (!rc) rc = cell(o, js(c, "threshold_text"));
    if (!rc) rc = sc_buf_puts(o, " | ");
    if (!rc) rc = cell(o, js(c, "value_text"));
    if (!rc) rc = sc_buf_puts(o, " | ");
    if (!rc) rc = jval(o, c, "n");
    if (!rc) rc = sc_buf_printf(o, " | **%s** | ", js(c, "result"));
    if (!rc) rc = cell(o, js(c, "reason"));
    if (!rc) rc = sc_buf_puts(o, " |\n");
  }
  if (!rc) rc = sc_buf_puts(o, "\n**Run:** ");
  if (!rc) rc = cell(o, js(run, "traffic_file"));
  if (!rc) rc = sc_buf_puts(o, ", mode ");
  if (!rc) rc = cell(o, js(run, "mode"));
  if (!rc) rc = sc_buf_puts(o, ", ");
  if (!rc) rc = jval(o, run, "requests");
  if (!rc) rc = sc_buf_puts(o, " exchanges, status ");
  if (!rc) rc = cell(o, js(run, "status"));
  if (!rc) rc = sc_buf_puts(o, "\n\n");
  json_t *lat = json_object_get(m, "latency");
  if (!rc && json_array_size(lat)) {
    rc = sc_buf_puts(o, "| Target | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n");
    json_t *l;
    json_array_foreach(lat, i, l) {
      if (rc) break;
      rc = sc_buf_puts(o, "| ");
      if (!rc) rc = cell(o, js(l, "target"));
      static const char *const keys[] = {"n", "p50_text", "p95_text", "p99_text", "max_text"};
      for (size_t k = 0; k < 5 && !rc; k++) {
        rc = sc_buf_puts(o, " | ");
        if (!rc) rc = jval(o, l, keys[k]);
      }
      if (!rc) rc = sc_buf_puts(o, " |\n");
    }
    if (!rc) rc = sc_buf_puts(o, "\n");
  }
  json_t *errs = json_object_get(m, "errors");
  if (!rc && json_array_size(errs)) {
    rc = sc_buf_puts(o, "**Errors:** ");
    json_t *e;
    json_array_foreach(errs, i, e) {
      if (rc) break;
      if (i) rc = sc_buf_puts(o, ", ");
      if (!rc) rc = cell(o, js(e, "target"));
      if (!rc) rc = sc_buf_puts(o, " ");
      if (!rc) rc = cell(o, js(e, "kind"));
      if (!rc) rc = sc_buf_puts(o, " ×");
      if (!rc) rc = jval(o, e, "count");
    }
    if (!rc) rc = sc_buf_puts(o, "\n\n");
  }
  json_t *steps = json_object_get(m, "steps");
  if (!rc && json_array_size(steps)) {
    rc = sc_buf_puts(o, "| Step | Fraction | Exchanges | Verdict | Breached |\n|---:|---:|---:|---|---|\n");
    json_t *s;
    json_array_foreach(steps, i, s) {
      if (rc) break;
      rc = sc_buf_printf(o, "| %zu | ", i + 1);
      if (!rc) rc = jval(o, s, "fraction_text");
      if (!rc) rc = sc_buf_puts(o, " | ");
      if (!rc) rc = jval(o, s, "exchanges");
      if (!rc) rc = sc_buf_puts(o, " | ");
      if (!rc) rc = jval(o, s, "verdict");
      if (!rc) rc = sc_buf_puts(o, " | ");
      if (!rc) rc = jval(o, s, "breached");
      if (!rc) rc = sc_buf_puts(o, " |\n");
    }
  }
  if (rc) return sc_error_set(err, rc, "Markdown report larger than %zu bytes", o->max);
  return SC_OK;
}
