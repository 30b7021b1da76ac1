/*
 * redact.h - redaction of captured exchanges before they are written: header
 * values and JSON body fields replaced by "[REDACTED]". Capture calls
 * sc_redact_exchange() on each exchange; the writer's header lists what was
 * applied (sc_redact_cfg_describe). Reference: schemas/traffic.md.
 *
 * JSON paths: "$" followed by steps
 *   .name  or  ['name']   object member
 *   [N]                   array element N (from 0)
 *   [*]  or  .*           every element / member
 *   ..name                member "name" at any depth below
 * e.g. "$.card.number", "$.items[0].pan", "$.items[*].pan", "$..password".
 */
#ifndef SC_TRAFFIC_REDACT_H
#define SC_TRAFFIC_REDACT_H

#include <stddef.h>

#include "traffic/exchange.h"
#include "util/err.h"

#define SC_REDACTED_MARKER "[REDACTED]"
#define SC_REDACT_MAX_RULES 256

struct sc_redact_step;

struct sc_redact_path {
  char *text;                  /* as given, e.g. "$.card.number" */
  struct sc_redact_step *steps;
  size_t n_steps;
};

struct sc_redact_cfg {
  char **headers;              /* header names redacted (case-insensitive) */
  size_t *header_lens;         /* strlen of each (compared first) */
  size_t n_headers;
  uint64_t name_sig_mask;      /* bit name_sig() of each header name (redact.c) */
  struct sc_redact_path *paths;
  size_t n_paths;
};

/* Sets up cfg with the default headers: Authorization, Proxy-Authorization,
 * Cookie, Set-Cookie, X-Api-Key. Release with sc_redact_cfg_release(). */
int sc_redact_cfg_init(struct sc_redact_cfg *cfg, struct sc_error *err) SC_MUST_CHECK;
/* Stops redacting header `name` (no error if it was not redacted). */
void sc_redact_cfg_keep_header(struct sc_redact_cfg *cfg, const char *name);
/* Adds header `name` (a valid field name: RFC 9110 token). */
int sc_redact_cfg_add_header(struct sc_redact_cfg *cfg, const char *name, struct sc_error *err) SC_MUST_CHECK;
/* Adds a JSON path; SC_EINVAL with "invalid JSON path '...': reason at
 * character N" when the syntax is wrong. */
int sc_redact_cfg_add_json_path(struct sc_redact_cfg *cfg, const char *path, struct sc_error *err) SC_MUST_CHECK;
void sc_redact_cfg_release(struct sc_redact_cfg *cfg);

/* Lists the rules as "header:NAME" and "json:PATH" strings for the traffic
 * file header. *out is a heap array of heap strings (free each and the
 * array); *n gets the count. */
int sc_redact_cfg_describe(const struct sc_redact_cfg *cfg, char ***out, uint32_t *n, struct sc_error *err) SC_MUST_CHECK;

/* Redacts x in place: values of configured headers (request and response)
 * become "[REDACTED]"; in request and response bodies that parse as JSON and
 * carry no Content-Encoding, every value matched by a configured path becomes
 * "[REDACTED]" and the body is re-serialised compactly (Content-Length updated
 * when the body was not truncated). Bodies that are not JSON, encoded or cut
 * at --max-body are left untouched. Sets SC_XF_REDACTED when anything changed.
 * Returns 0 or SC_ENOMEM. */
int sc_redact_exchange(const struct sc_redact_cfg *cfg, struct sc_exchange *x, struct sc_error *err) SC_MUST_CHECK;

#endif
