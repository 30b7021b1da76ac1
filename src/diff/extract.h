/*
 * extract.h - reading values out of answers and requests by rule: the
 * decision and score of a response (shadow.yaml decision rule), and request
 * fields for slices and keys ("$.country", "header:X-Region"). Stage: diff.
 * Reference: schemas/shadow.example.yaml (decision), RFC 8259.
 */
#ifndef SC_DIFF_EXTRACT_H
#define SC_DIFF_EXTRACT_H

#include <jansson.h>
#include <stddef.h>

#include "util/config.h"

/* Looks up a simple path ($, .name, ["name"], [N], and $..name = first
 * match in document order, depth-first) in root. Wildcards "*" return the
 * first match. Returns a borrowed node or NULL. */
const json_t *sc_extract_path(const json_t *root, const char *path);

struct sc_decision {
  int decision;        /* 1 positive, 0 negative, -1 unknown */
  int has_score;
  double score;
  int has_label;
  char label[128];     /* value at label_path as text (strings verbatim, cut) */
};

/* Applies cfg's decision rule to a parsed response body (root may be NULL:
 * unknown). The score decides when present and numeric (score >= threshold);
 * else the label (one of cfg->positive_labels). */
void sc_extract_decision(const struct sc_config *cfg, const json_t *root, struct sc_decision *out);

/* Reads a request field by rule into out (NUL-terminated, cut at n-1):
 *   "header:Name"  from headers_json (a JSON array of [name, value] pairs,
 *                  as stored in exchanges.req_headers), name case-insensitive
 *   "$.path"       from the JSON request body (strings verbatim, other values
 *                  as compact JSON)
 * Returns 1 when found, 0 when absent or unreadable. */
int sc_extract_request_field(const char *rule, const char *headers_json, size_t headers_len,
                             const void *body, size_t body_len, char *out, size_t n);

/* Same with an already parsed request body (NULL when not JSON). */
int sc_extract_request_field_parsed(const char *rule, const char *headers_json, size_t headers_len,
                                    const json_t *body, char *out, size_t n);

/* Finds header `name` (case-insensitive) in a headers JSON array; copies its
 * value into out. Returns 1 when found. */
int sc_extract_header(const char *headers_json, size_t len, const char *name, char *out, size_t n);

#endif
