/*
 * report.h - the review-board report of one run: a data model read from
 * results.db (a jansson tree, which is also the JSON format) and the HTML,
 * JSON, JUnit XML and Markdown writers over it. Stage: report. Reference:
 * issue 5, schemas/results.sql, schemas/analysis.sql, gate/gate.h.
 *
 * Every string in the model that came from the database (URLs, bodies,
 * paths, reasons) is untrusted: writers escape it for their format
 * (HTML via report/tmpl.h, XML entities for JUnit, Markdown code spans).
 */
#ifndef SC_REPORT_REPORT_H
#define SC_REPORT_REPORT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "gate/gate.h"
#include "util/buf.h"
#include "util/err.h"

/* Largest report we write (HTML with examples and charts). */
#define SC_REPORT_MAX_BYTES (64u << 20)
/* Example bodies are cut to this many bytes in the report. */
#define SC_REPORT_EXAMPLE_BYTES 600

enum sc_report_format {
  SC_REPORT_HTML = 0,
  SC_REPORT_JSON,
  SC_REPORT_JUNIT,
  SC_REPORT_MARKDOWN,
};

/* "html", "json", "junit", "markdown"/"md" -> format; -1 when unknown. */
int sc_report_format_parse(const char *s);

/* Report contents of one run, with what the HTML charts need beside the tree. */
struct sc_report {
  json_t *model;             /* owned; the JSON report */
  /* latency samples in ms per target (current, candidate, secondary) */
  double *lat[3];
  size_t nlat[3];
  double *score_delta;       /* candidate - current scores (shadow pairs) */
  size_t nscore_delta;
  /* HTML templates: NULL = the copies compiled into the binary; else a
   * directory holding report.html.tmpl, style.css, criteria.html.tmpl and
   * examples.html.tmpl (a file missing there falls back to the compiled
   * copy). Set after sc_report_load. */
  const char *template_dir;
};

void sc_report_init(struct sc_report *r);
void sc_report_release(struct sc_report *r);

/* Reads run_id from db into r (initialised here; release it even on error).
 * gate: the evaluated criteria of the run (borrowed; may be NULL, then the
 * verdict section says "not evaluated"). Analysis tables that are empty
 * leave their sections out. Errors: SC_ENOTFOUND, SC_EDB, SC_ENOMEM. */
int sc_report_load(struct sc_report *r, sqlite3 *db, int64_t run_id,
                   const struct sc_gate_result *gate, struct sc_error *err) SC_MUST_CHECK;

/* The verdict part as a JSON object (also what `gate --verdict` writes):
 * {"verdict","exit_status","run_id","step","breached":[...],"criteria":[...]}.
 * New reference; NULL on allocation failure. */
json_t *sc_report_verdict_json(const struct sc_gate_result *gate);

/* Writers: append the whole document to out (capped). */
int sc_report_html(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) SC_MUST_CHECK;
int sc_report_json(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) SC_MUST_CHECK;
int sc_report_markdown(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) SC_MUST_CHECK;
/* JUnit XML: one testsuite, one testcase per criterion (failure for a
 * breach, skipped for inconclusive). Needs only the gate result. */
int sc_report_junit(const struct sc_gate_result *gate, const char *suite, struct sc_buf *out,
                    struct sc_error *err) SC_MUST_CHECK;

/* Writes data[0..n) to path atomically (temp file + rename), mode 0644.
 * "-" writes to stdout. Errors: SC_EIO/SC_ENOSPC naming path. */
int sc_report_write_file(const char *path, const char *data, size_t n, struct sc_error *err) SC_MUST_CHECK;

#endif
