/*
 * tmpl.h - a small logic-less template engine (a Mustache subset) that
 * escapes by default. Stage: report.
 *
 * Data is a jansson tree (the same tree the JSON report writes), so every
 * value that reaches a template came through the report model. Tags:
 *
 *   {{name}} {{a.b}} {{.}}   value, HTML-escaped (strings, numbers, booleans);
 *                            {{list.0}} is element 0 of an array
 *   {{#name}}..{{/name}}     array: once per element (element is the context);
 *                            object: once with it as context; true, non-zero,
 *                            non-empty string: once; else skipped
 *   {{^name}}..{{/name}}     inverted: once when #name would render nothing
 *   {{>partial}}             includes another template (via the loader)
 *   {{&name}}                trusted raw text: looked up ONLY in the raw table
 *                            the caller passes (SVG our code generated), never
 *                            in the data tree; unknown names render nothing
 *   {{! comment }}
 *
 * Invariants:
 *   1. No byte of the data tree is copied to the output unescaped: strings go
 *      through sc_tmpl_escape_html (which also turns NUL, control characters
 *      and invalid UTF-8 into U+FFFD), numbers are formatted by printf.
 *   2. Rendering is bounded: nesting depth <= SC_TMPL_MAX_DEPTH, output
 *      <= the buffer's cap (SC_ETOOBIG), partial inclusion depth <= 8.
 */
#ifndef SC_REPORT_TMPL_H
#define SC_REPORT_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define SC_TMPL_MAX_DEPTH 32

/* A trusted raw block (generated SVG). name and text are borrowed for the
 * duration of the render. */
struct sc_tmpl_raw {
  const char *name;
  const char *text;
};

/* Returns the text of template `name` (NUL-terminated, borrowed, must live
 * for the render) or NULL when there is none. */
typedef const char *(*sc_tmpl_loader_fn)(void *ctx, const char *name);

struct sc_tmpl_env {
  sc_tmpl_loader_fn loader;   /* may be NULL: partials are then errors */
  void *loader_ctx;
  const struct sc_tmpl_raw *raw;  /* may be NULL */
  size_t nraw;
};

/* Appends the HTML-escaped form of s[0..n) to out: & < > " ' become entities;
 * NUL, C0 controls other than \t \n \r, DEL and invalid UTF-8 sequences
 * become U+FFFD. Returns SC_OK or SC_ETOOBIG (out unchanged past its cap). */
int sc_tmpl_escape_html(struct sc_buf *out, const char *s, size_t n) SC_MUST_CHECK;

/* Copies s[0..n) to out as valid UTF-8 (invalid sequences, NUL and C0
 * controls other than \t \n \r become U+FFFD). For XML/Markdown writers. */
int sc_tmpl_utf8_clean(struct sc_buf *out, const char *s, size_t n) SC_MUST_CHECK;

/* Renders template text `tmpl` (named `name` in errors) with data `data`
 * (an object; borrowed) into out. Errors: SC_EINVAL "template NAME:LINE:
 * ..." for syntax errors, SC_ETOOBIG for output past out's cap or nesting
 * too deep. On error out holds a partial rendering. */
int sc_tmpl_render(struct sc_buf *out, const char *name, const char *tmpl, json_t *data,
                   const struct sc_tmpl_env *env, struct sc_error *err) SC_MUST_CHECK;

#endif
