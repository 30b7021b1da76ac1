/*
 * junit.c - JUnit XML for CI test tabs: one testsuite, one testcase per
 * criterion; a breach is a <failure>, an inconclusive criterion <skipped>.
 * Stage: report. Reference: the JUnit XML schema as read by Jenkins/GitLab
 * (testsuite/testcase/failure/skipped), XML 1.0 section 2.4 (escaping) and
 * 2.2 (allowed characters).
 */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/tmpl.h"

/* XML text/attribute escape of valid-UTF-8-cleaned s (tmpl's HTML escape
 * produces only XML-safe entities: &amp; &lt; &gt; &quot; &#39; &#96;). */
static int x(struct sc_buf *o, const char *s) { return sc_tmpl_escape_html(o, s, strlen(s)); }

int sc_report_junit(const struct sc_gate_result *g, const char *suite, struct sc_buf *o,
                    struct sc_error *err) {
  size_t fails = 0, skipped = 0;
  for (size_t i = 0; i < g->n; i++) {
    fails += g->items[i].status == SC_GATE_FAIL;
    skipped += g->items[i].status == SC_GATE_INCONCLUSIVE || g->items[i].status == SC_GATE_NA;
  }
  int rc = sc_buf_printf(o,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<testsuites name=\"shadowctl gate\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n"
                         "  <testsuite name=\"",
                         g->n, fails, skipped);
  if (!rc) rc = x(o, suite);
  if (!rc)
    rc = sc_buf_printf(o, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", g->n, fails,
                       skipped);
  if (!rc)
    rc = sc_buf_printf(o, "    <properties><property name=\"run_id\" value=\"%lld\"/>"
                          "<property name=\"verdict\" value=\"%s\"/></properties>\n",
                       (long long)g->run_id, sc_gate_status_str(g->verdict));
  for (size_t i = 0; i < g->n && !rc; i++) {
    const struct sc_gate_item *it = &g->items[i];
    char val[160];
    if (!it->has_value) snprintf(val, sizeof val, "not measured");
    else if (!isnan(it->ci_lo) && !isnan(it->ci_hi))
      snprintf(val, sizeof val, "%.6g [%.6g, %.6g]", it->value, it->ci_lo, it->ci_hi);
    else snprintf(val, sizeof val, "%.6g", it->value);
    rc = sc_buf_puts(o, "    <testcase classname=\"shadowctl.gate\" name=\"");
    if (!rc) rc = x(o, it->name);
    if (!rc) rc = sc_buf_puts(o, "\" time=\"0\">\n");
    if (!rc && it->status != SC_GATE_PASS) {
      rc = sc_buf_puts(o, it->status == SC_GATE_FAIL ? "      <failure type=\"breach\" message=\""
                          : it->status == SC_GATE_NA ? "      <skipped message=\""
                                                     : "      <skipped message=\"inconclusive: ");
      if (!rc) rc = x(o, it->reason);
      if (!rc) rc = sc_buf_puts(o, "\">");
      if (!rc) rc = x(o, it->metric);
      if (!rc) rc = sc_buf_putc(o, ' ');
      if (!rc) rc = x(o, it->op);
      if (!rc) rc = sc_buf_printf(o, " %.6g; measured %s; n=%lld", it->effective, val, (long long)it->n);
      if (!rc) rc = sc_buf_puts(o, it->status == SC_GATE_FAIL ? "</failure>\n" : "</skipped>\n");
    }
    if (!rc) rc = sc_buf_puts(o, "      <system-out>");
    if (!rc) rc = x(o, it->metric);
    if (!rc) rc = sc_buf_putc(o, ' ');
    if (!rc) rc = x(o, it->op);
    if (!rc) rc = sc_buf_printf(o, " %.6g: measured %s: ", it->effective, val);
    if (!rc) rc = x(o, it->reason);
    if (!rc) rc = sc_buf_puts(o, "</system-out>\n    </testcase>\n");
  }
  if (!rc) rc = sc_buf_puts(o, "  </testsuite>\n</testsuites>\n");
  if (rc) return sc_error_set(err, rc, "JUnit report larger than %zu bytes", o->max);
  return SC_OK;
}
