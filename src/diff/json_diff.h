/*
 * json_diff.h - field-level comparison of two response bodies (issue 4).
 * Stage: diff. Reference: RFC 8259 (JSON), RFC 1950/1951/1952 (zlib, deflate,
 * gzip), RFC 9110 section 8.4 (Content-Encoding).
 *
 * Paths are written $.a.b[3] (member names that are not plain identifiers are
 * written ["na\"me"]); the "normalised" path replaces every index with [*]
 * ($.items[*].score) so per-path statistics group array elements.
 *
 * Rules (compiled from struct sc_config):
 *   ignore     patterns with "*" (one member or index: $.meta.*, $.a[*].b) and
 *              ".." (any depth: $..request_id); a matching node and everything
 *              below it is not compared
 *   tolerance  numbers at a matching path are equal when |a-b| <= abs or
 *              |a-b| <= rel*max(|a|,|b|); without one, integers compare exactly
 *              (int64) and reals by value; integers beyond int64 are read as
 *              doubles (about 16 significant digits)
 *   arrays     by index (extra elements are added/removed)
 *   limits     bodies deeper than max_depth are classified too_deep, larger
 *              than max_bytes (after decoding) too_large, never a crash
 */
#ifndef SC_DIFF_JSON_DIFF_H
#define SC_DIFF_JSON_DIFF_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/config.h"
#include "util/err.h"

enum sc_diff_kind {
  SC_DIFF_ADDED = 0,     /* only in the other body */
  SC_DIFF_REMOVED,       /* only in current */
  SC_DIFF_CHANGED,       /* same type, different value */
  SC_DIFF_TYPE_CHANGED,  /* different JSON types (int vs real counts as number) */
};
const char *sc_diff_kind_str(enum sc_diff_kind k); /* "added", ... (schemas/analysis.sql) */

/* Classified outcome of one body comparison (pair_diffs.class). */
enum sc_diff_class {
  SC_DC_EQUAL = 0,        /* JSON, no (non-ignored) difference */
  SC_DC_DIFFER,           /* JSON, at least one difference (entries) */
  SC_DC_ERROR,            /* a side has no answer (transport error) - set by the caller */
  SC_DC_NON_JSON_EQUAL,   /* not JSON: same content type and same bytes */
  SC_DC_NON_JSON_DIFFER,  /* not JSON: content type or bytes differ */
  SC_DC_INVALID_JSON,     /* claims JSON (or looks like it) but does not parse */
  SC_DC_TOO_DEEP,
  SC_DC_TOO_LARGE,
  SC_DC_DECODE_ERROR,     /* gzip/deflate stream corrupt, or unknown encoding */
  SC_DC_EMPTY,            /* both bodies empty */
};
const char *sc_diff_class_str(enum sc_diff_class c); /* "equal", ... (schemas/analysis.sql) */

/* Compiled ignore/tolerance rules. Init from a config; release frees. */
struct sc_diff_rules {
  struct pat *ignore;     /* opaque compiled patterns */
  size_t n_ignore;
  struct pat *tol;
  const struct sc_tolerance *tol_vals;
  size_t n_tol;
  size_t max_depth;
  size_t max_bytes;
  size_t max_entries;
};
int sc_diff_rules_init(struct sc_diff_rules *r, const struct sc_config *cfg,
                       struct sc_error *err) SC_MUST_CHECK;
void sc_diff_rules_release(struct sc_diff_rules *r);

/* Matches a concrete path string against one pattern string (both as written
 * above). Exposed for tests; the engine matches compiled patterns. */
int sc_diff_path_match(const char *pattern, const char *path);

/* One difference. Paths live in the result's string pool: read them with
 * sc_diff_path()/sc_diff_npath(). Values are borrowed from the two documents
 * (NULL for the missing side) and live as long as those documents. */
struct sc_diff_entry {
  size_t path_off, npath_off;
  enum sc_diff_kind kind;
  const json_t *a, *b;
};

struct sc_diff_result {
  enum sc_diff_class cls;
  struct sc_diff_entry *v;
  size_t n, cap;
  int truncated;          /* more than max_entries differences; the rest not listed */
  struct sc_buf pool;     /* NUL-separated path strings */
  /* traversal scratch, kept between comparisons (private) */
  void *stack;
  size_t stack_cap;
  struct sc_buf wpath, wnpath;
};
void sc_diff_result_init(struct sc_diff_result *r);
void sc_diff_result_reset(struct sc_diff_result *r);   /* keeps memory for reuse */
void sc_diff_result_release(struct sc_diff_result *r);
static inline const char *sc_diff_path(const struct sc_diff_result *r, const struct sc_diff_entry *e) {
  return r->pool.p + e->path_off;
}
static inline const char *sc_diff_npath(const struct sc_diff_result *r, const struct sc_diff_entry *e) {
  return r->pool.p + e->npath_off;
}

/* A response body as stored (responses.body/content_type/headers). */
struct sc_body {
  const void *p;
  size_t n;
  const char *content_type;     /* may be NULL */
  const char *content_encoding; /* "gzip", "deflate", "identity" or NULL */
};

/* A body made ready for comparison: decoded, and parsed when it is JSON. */
struct sc_parsed {
  enum sc_diff_class cls;  /* SC_DC_EQUAL when JSON parsed fine (json set);
                              SC_DC_NON_JSON_EQUAL when not JSON (bytes kept);
                              SC_DC_EMPTY, or an error class */
  json_t *json;            /* owned; NULL unless parsed */
  struct sc_buf bytes;     /* decoded bytes (only kept for non-JSON bodies) */
  char ctype[128];         /* media type, lower-case, without parameters */
};
void sc_parsed_init(struct sc_parsed *p);
void sc_parsed_release(struct sc_parsed *p);

/* Decodes (gzip/deflate, capped at rules->max_bytes) and parses body into p
 * (released first). Never fails on bad input: p->cls says what it was.
 * Returns SC_ENOMEM only. */
int sc_diff_parse(const struct sc_diff_rules *rules, const struct sc_body *body,
                  struct sc_parsed *p) SC_MUST_CHECK;

/* Compares two prepared bodies (a = current, b = other) into res (reset
 * first). Returns SC_ENOMEM only; res->cls classifies. */
int sc_diff_parsed(const struct sc_diff_rules *rules, const struct sc_parsed *a,
                   const struct sc_parsed *b, struct sc_diff_result *res) SC_MUST_CHECK;

/* Compares two JSON documents (never NULL) into res (reset first). */
int sc_diff_json(const struct sc_diff_rules *rules, const json_t *a, const json_t *b,
                 struct sc_diff_result *res) SC_MUST_CHECK;

/* Convenience: parse both bodies and compare. */
int sc_diff_bodies(const struct sc_diff_rules *rules, const struct sc_body *a,
                   const struct sc_body *b, struct sc_diff_result *res) SC_MUST_CHECK;

/* Decodes a Content-Encoding (gzip, x-gzip, deflate (zlib or raw)) into out
 * (capped at max). identity/NULL copies. Errors: SC_ETOOBIG (past max),
 * SC_ECORRUPT (bad stream), SC_EUNSUPPORTED (other encodings), SC_ENOMEM. */
int sc_diff_decode(const char *encoding, const void *p, size_t n, size_t max,
                   struct sc_buf *out) SC_MUST_CHECK;

/* Writes node as compact JSON, truncated to at most n-1 bytes ("..." marks a
 * cut), into out. NULL node writes "". */
void sc_diff_value_text(const json_t *node, char *out, size_t n);

#endif
