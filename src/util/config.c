/*
 * config.c - shadow.yaml -> struct sc_config, with libyaml's document API
 * (every node keeps its start mark, so every mistake is reported as
 * "FILE:LINE:COLUMN: message"). Stage: util. Reference:
 * schemas/shadow.schema.json, schemas/shadow.example.yaml, YAML 1.1 (libyaml).
 */
#include "util/config.h"
#include "util/buf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "util/limits.h"

/* ---- small owned-string helpers ---------------------------------------- */

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void free_criteria(struct sc_criterion *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(c[i].name);
    free(c[i].metric);
    free(c[i].target);
  }
  free(c);
}

static void free_tolerances(struct sc_tolerance *t, size_t n) {
  for (size_t i = 0; i < n; i++) free(t[i].path);
  free(t);
}

static int set_str(char **dst, const char *s) {
  char *d = strdup(s);
  if (!d) return SC_ENOMEM;
  free(*dst);
  *dst = d;
  return SC_OK;
}

static int strv_from(char ***dst, size_t *n, const char *const *src, size_t m) {
  char **v = calloc(m ? m : 1, sizeof *v);
  if (!v) return SC_ENOMEM;
  for (size_t i = 0; i < m; i++) {
    v[i] = strdup(src[i]);
    if (!v[i]) {
      free_strv(v, i);
      return SC_ENOMEM;
    }
  }
  free_strv(*dst, *n);
  *dst = v;
  *n = m;
  return SC_OK;
}

/* ---- comparisons ------------------------------------------------------- */

static const char *const cmp_names[] = {"<", "<=", ">", ">=", "=="};

const char *sc_cmp_str(enum sc_cmp c) {
  return (unsigned)c < sizeof cmp_names / sizeof cmp_names[0] ? cmp_names[c] : "?";
}

int sc_cmp_parse(const char *s) {
  for (size_t i = 0; i < sizeof cmp_names / sizeof cmp_names[0]; i++)
    if (!strcmp(s, cmp_names[i])) return (int)i;
  if (!strcmp(s, "lt")) return SC_CMP_LT;
  if (!strcmp(s, "le") || !strcmp(s, "max")) return SC_CMP_LE;
  if (!strcmp(s, "gt")) return SC_CMP_GT;
  if (!strcmp(s, "ge") || !strcmp(s, "min")) return SC_CMP_GE;
  if (!strcmp(s, "eq") || !strcmp(s, "=")) return SC_CMP_EQ;
  return -1;
}

int sc_cmp_eval(enum sc_cmp c, double v, double t) {
  switch (c) {
  case SC_CMP_LT: return v < t;
  case SC_CMP_LE: return v <= t;
  case SC_CMP_GT: return v > t;
  case SC_CMP_GE: return v >= t;
  case SC_CMP_EQ: return v == t;
  }
  return 0;
}

/* ---- defaults ---------------------------------------------------------- */

struct default_crit {
  const char *name, *metric, *target;
  enum sc_cmp cmp;
  double threshold;
  int use_abs;
  int64_t min_samples;
};

/* Default acceptance criteria (none needs labels, so a run without labels can
 * pass). Documented in schemas/shadow.example.yaml. */
static const struct default_crit default_criteria[] = {
  {"min_exchanges", "exchanges", "all", SC_CMP_GE, 100, 0, 0},
  {"latency_p99_ratio", "latency_p99_ratio", "candidate", SC_CMP_LE, 1.2, 0, 100},
  {"error_rate_delta", "error_rate_delta", "candidate", SC_CMP_LE, 0.01, 0, 100},
  {"decision_flip_rate", "decision_flip_rate", "candidate", SC_CMP_LE, 0.05, 0, 100},
  {"positive_rate_delta", "positive_rate_delta", "candidate", SC_CMP_LE, 0.05, 1, 100},
  {"regression_paths", "regression_paths", "candidate", SC_CMP_LE, 0, 0, 0},
  {"capture_loss", "capture_loss", "all", SC_CMP_LE, 0.01, 0, 0},
};

static const char *const default_positive[] = {"positive", "fraud", "block", "alert", "true", "1"};

int sc_config_init_defaults(struct sc_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->threshold = 0.5;
  cfg->max_json_depth = SC_MAX_JSON_DEPTH;
  cfg->max_json_bytes = SC_MAX_JSON_BYTES;
  cfg->store_diffs = 1;
  cfg->max_diff_rows_per_path = 20;
  cfg->noise_margin = 0.01;
  cfg->noise_alpha = 0.01;
  cfg->alpha = 0.05;
  cfg->power = 0.8;
  cfg->bootstrap_iters = 1000;
  cfg->seed = 1;
  int rc = set_str(&cfg->request_key, "default");
  if (!rc) rc = set_str(&cfg->score_path, "$.score");
  if (!rc) rc = set_str(&cfg->label_path, "$.decision");
  if (!rc) rc = set_str(&cfg->correction, "holm");
  if (!rc)
    rc = strv_from(&cfg->positive_labels, &cfg->n_positive_labels, default_positive,
                   sizeof default_positive / sizeof default_positive[0]);
  if (rc) goto out;
  cfg->n_sweep = 19;
  cfg->sweep = calloc(cfg->n_sweep, sizeof *cfg->sweep);
  if (!cfg->sweep) {
    rc = SC_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < cfg->n_sweep; i++) cfg->sweep[i] = 0.05 * (double)(i + 1);
  size_t nc = sizeof default_criteria / sizeof default_criteria[0];
  cfg->criteria = calloc(nc, sizeof *cfg->criteria);
  if (!cfg->criteria) {
    rc = SC_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < nc; i++) {
    const struct default_crit *d = &default_criteria[i];
    struct sc_criterion *c = &cfg->criteria[i];
    cfg->n_criteria = i + 1;
    c->cmp = d->cmp;
    c->threshold = d->threshold;
    c->use_abs = d->use_abs;
    c->min_samples = d->min_samples;
    rc = set_str(&c->name, d->name);
    if (!rc) rc = set_str(&c->metric, d->metric);
    if (!rc) rc = set_str(&c->target, d->target);
    if (rc) goto out;
  }
out:
  return rc;
}

void sc_config_release(struct sc_config *cfg) {
  if (!cfg) return;
  free(cfg->path);
  free(cfg->request_key);
  free(cfg->score_path);
  free(cfg->label_path);
  free(cfg->correction);
  free_strv(cfg->positive_labels, cfg->n_positive_labels);
  free_strv(cfg->ignore_paths, cfg->n_ignore_paths);
  free_strv(cfg->slices, cfg->n_slices);
  free_tolerances(cfg->tolerances, cfg->n_tolerances);
  free_criteria(cfg->criteria, cfg->n_criteria);
  free(cfg->sweep);
  memset(cfg, 0, sizeof *cfg);
}

/* ---- YAML walking ------------------------------------------------------ */

struct ld {
  struct sc_config *cfg;
  const char *name;
  yaml_document_t *doc;
  struct sc_error *err;
};

static int at(struct ld *l, const yaml_node_t *n, int code, const char *fmt, ...)
    SC_PRINTF(4, 5);
static int at(struct ld *l, const yaml_node_t *n, int code, const char *fmt, ...) {
  char msg[SC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sc_error_set(l->err, code, "%s:%lu:%lu: %s", l->name,
                      n ? (unsigned long)n->start_mark.line + 1 : 1ul,
                      n ? (unsigned long)n->start_mark.column + 1 : 1ul, msg);
}

static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct ld *l, const yaml_node_t *n, const char *key, const char **out) {
  const char *s = scalar(n);
  if (!s) return at(l, n, SC_ECONFIG, "'%s' must be a scalar value", key);
  *out = s;
  return SC_OK;
}

static int get_str(struct ld *l, const yaml_node_t *n, const char *key, char **dst) {
  const char *s = NULL;
  int rc = want_scalar(l, n, key, &s);
  if (rc) return rc;
  if (strlen(s) > SC_MAX_PATH_LEN) return at(l, n, SC_ECONFIG, "'%s' is too long", key);
  if (set_str(dst, s)) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  return SC_OK;
}

static int get_num(struct ld *l, const yaml_node_t *n, const char *key, double *out) {
  const char *s = NULL;
  int rc = want_scalar(l, n, key, &s);
  if (rc) return rc;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno == ERANGE || !isfinite(v))
    return at(l, n, SC_ECONFIG, "'%s' must be a number, got '%s'", key, s);
  *out = v;
  return SC_OK;
}

static int get_range(struct ld *l, const yaml_node_t *n, const char *key, double lo, double hi,
                     double *out) {
  double v;
  int rc = get_num(l, n, key, &v);
  if (rc) return rc;
  if (v < lo || v > hi) return at(l, n, SC_ECONFIG, "'%s' must be between %g and %g", key, lo, hi);
  *out = v;
  return SC_OK;
}

/* Non-negative integer with an optional k/M/G suffix (sizes). */
static int get_u64(struct ld *l, const yaml_node_t *n, const char *key, uint64_t max,
                   uint64_t *out) {
  const char *s = NULL;
  int rc = want_scalar(l, n, key, &s);
  if (rc) return rc;
  char *end = NULL;
  errno = 0;
  if (*s == '-' || *s == '+') goto bad;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || errno) goto bad;
  unsigned long long mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024, end++;
  else if (*end == 'M') mul = 1024ull * 1024, end++;
  else if (*end == 'G') mul = 1024ull * 1024 * 1024, end++;
  if (*end) goto bad;
  if (v > max / mul) return at(l, n, SC_ECONFIG, "'%s' is too large (at most %llu)", key,
                               (unsigned long long)max);
  *out = v * mul;
  return SC_OK;
bad:
  return at(l, n, SC_ECONFIG, "'%s' must be a non-negative integer, got '%s'", key, s);
}

static int get_bool(struct ld *l, const yaml_node_t *n, const char *key, int *out) {
  const char *s = NULL;
  int rc = want_scalar(l, n, key, &s);
  if (rc) return rc;
  static const char *const t[] = {"true", "yes", "on", "1", "True", "TRUE", "Yes"};
  static const char *const f[] = {"false", "no", "off", "0", "False", "FALSE", "No"};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(s, t[i])) return *out = 1, SC_OK;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (!strcmp(s, f[i])) return *out = 0, SC_OK;
  return at(l, n, SC_ECONFIG, "'%s' must be true or false, got '%s'", key, s);
}

/* A JSON path rule: "$" followed by .name, [N], [*], .* or ..name; or
 * "header:Name" where allowed. */
static int check_path(struct ld *l, const yaml_node_t *n, const char *key, const char *p,
                      int allow_header) {
  if (allow_header && !strncmp(p, "header:", 7) && p[7]) return SC_OK;
  if (p[0] != '$') goto bad;
  for (size_t i = 1; p[i];) {
    if (p[i] == '.') {
      i++;
      if (p[i] == '.') i++;
      if (!p[i] || p[i] == '.' || p[i] == '[') goto bad;
      while (p[i] && p[i] != '.' && p[i] != '[') i++;
    } else if (p[i] == '[') {
      i++;
      if (p[i] == '*') i++;
      else if (p[i] == '"' || p[i] == '\'') {
        char q = p[i++];
        while (p[i] && p[i] != q) i++;
        if (!p[i]) goto bad;
        i++;
      } else {
        if (p[i] < '0' || p[i] > '9') goto bad;
        while (p[i] >= '0' && p[i] <= '9') i++;
      }
      if (p[i] != ']') goto bad;
      i++;
    } else {
      goto bad;
    }
  }
  return SC_OK;
bad:
  return at(l, n, SC_ECONFIG, "'%s': invalid path '%s' (expected e.g. $.a.b[3], $.meta.*, $..id%s)",
            key, p, allow_header ? " or header:Name" : "");
}

static yaml_node_t *node(struct ld *l, int id) { return yaml_document_get_node(l->doc, id); }

static int want_seq(struct ld *l, const yaml_node_t *n, const char *key) {
  if (!n || n->type != YAML_SEQUENCE_NODE) return at(l, n, SC_ECONFIG, "'%s' must be a list", key);
  return SC_OK;
}

static int want_map(struct ld *l, const yaml_node_t *n, const char *key) {
  if (!n || n->type != YAML_MAPPING_NODE)
    return at(l, n, SC_ECONFIG, "'%s' must be a mapping (key: value lines)", key);
  return SC_OK;
}

static size_t seq_len(const yaml_node_t *n) {
  return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* List of path strings. */
static int get_paths(struct ld *l, yaml_node_t *n, const char *key, int allow_header, char ***dst,
                     size_t *dn) {
  int rc = want_seq(l, n, key);
  if (rc) return rc;
  size_t m = seq_len(n);
  if (m > 4096) return at(l, n, SC_ECONFIG, "'%s': too many entries", key);
  char **v = calloc(m ? m : 1, sizeof *v);
  if (!v) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  size_t k = 0;
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *c = node(l, *it);
    const char *s = NULL;
    rc = want_scalar(l, c, key, &s);
    if (!rc && strlen(s) > SC_MAX_PATH_LEN) rc = at(l, c, SC_ECONFIG, "'%s': path too long", key);
    if (!rc && allow_header >= 0) rc = check_path(l, c, key, s, allow_header);
    if (rc) goto fail;
    v[k] = strdup(s);
    if (!v[k]) {
      rc = sc_error_set(l->err, SC_ENOMEM, "out of memory");
      goto fail;
    }
    k++;
  }
  free_strv(*dst, *dn);
  *dst = v;
  *dn = k;
  return SC_OK;
fail:
  free_strv(v, k);
  return rc;
}

#define FOR_PAIRS(l, map, kname, kn, vn)                                                      \
  for (yaml_node_pair_t *p_ = (map)->data.mapping.pairs.start;                                \
       p_ < (map)->data.mapping.pairs.top; p_++)                                              \
    for (yaml_node_t *kn = node(l, p_->key), *vn = node(l, p_->value); kn; kn = NULL)         \
      for (const char *kname = scalar(kn) ? scalar(kn) : ""; kname; kname = NULL)

static int load_decision(struct ld *l, yaml_node_t *m) {
  int rc = want_map(l, m, "decision");
  if (rc) return rc;
  FOR_PAIRS(l, m, k, kn, v) {
    if (!strcmp(k, "score_path")) {
      rc = get_str(l, v, k, &l->cfg->score_path);
      if (!rc && l->cfg->score_path[0]) rc = check_path(l, v, k, l->cfg->score_path, 0);
    } else if (!strcmp(k, "threshold")) {
      rc = get_num(l, v, k, &l->cfg->threshold);
    } else if (!strcmp(k, "label_path")) {
      rc = get_str(l, v, k, &l->cfg->label_path);
      if (!rc && l->cfg->label_path[0]) rc = check_path(l, v, k, l->cfg->label_path, 0);
    } else if (!strcmp(k, "positive") || !strcmp(k, "positive_labels")) {
      if (scalar(v)) {
        const char *s = scalar(v);
        rc = strv_from(&l->cfg->positive_labels, &l->cfg->n_positive_labels, &s, 1);
        if (rc) rc = sc_error_set(l->err, SC_ENOMEM, "out of memory");
      } else {
        rc = get_paths(l, v, k, -1, &l->cfg->positive_labels, &l->cfg->n_positive_labels);
      }
    } else {
      rc = at(l, kn, SC_ECONFIG,
              "unknown key '%s' in decision (expected score_path, threshold, label_path, positive)", k);
    }
    if (rc) return rc;
  }
  return SC_OK;
}

static int load_tolerances(struct ld *l, yaml_node_t *n) {
  int rc = want_seq(l, n, "tolerances");
  if (rc) return rc;
  size_t m = seq_len(n);
  if (m > 4096) return at(l, n, SC_ECONFIG, "'tolerances': too many entries");
  struct sc_tolerance *t = calloc(m ? m : 1, sizeof *t);
  if (!t) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  size_t k = 0;
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *e = node(l, *it);
    rc = want_map(l, e, "tolerances entry");
    if (rc) goto fail;
    struct sc_tolerance *x = &t[k++];
    FOR_PAIRS(l, e, key, kn, v) {
      if (!strcmp(key, "path")) {
        rc = get_str(l, v, key, &x->path);
        if (!rc) rc = check_path(l, v, key, x->path, 0);
      } else if (!strcmp(key, "abs")) {
        rc = get_range(l, v, key, 0, INFINITY, &x->abs);
      } else if (!strcmp(key, "rel")) {
        rc = get_range(l, v, key, 0, INFINITY, &x->rel);
      } else {
        rc = at(l, kn, SC_ECONFIG, "unknown key '%s' in a tolerance (expected path, abs, rel)", key);
      }
      if (rc) goto fail;
    }
    if (!x->path) {
      rc = at(l, e, SC_ECONFIG, "a tolerance needs a 'path'");
      goto fail;
    }
  }
  free_tolerances(l->cfg->tolerances, l->cfg->n_tolerances);
  l->cfg->tolerances = t;
  l->cfg->n_tolerances = k;
  return SC_OK;
fail:
  free_tolerances(t, k);
  return rc;
}

static int load_diff(struct ld *l, yaml_node_t *m) {
  int rc = want_map(l, m, "diff");
  if (rc) return rc;
  FOR_PAIRS(l, m, k, kn, v) {
    uint64_t u = 0;
    if (!strcmp(k, "ignore")) {
      rc = get_paths(l, v, k, 0, &l->cfg->ignore_paths, &l->cfg->n_ignore_paths);
    } else if (!strcmp(k, "tolerances") || !strcmp(k, "tolerance")) {
      rc = load_tolerances(l, v);
    } else if (!strcmp(k, "max_depth")) {
      rc = get_u64(l, v, k, 100000, &u);
      if (!rc && u == 0) rc = at(l, v, SC_ECONFIG, "'max_depth' must be at least 1");
      if (!rc) l->cfg->max_json_depth = (size_t)u;
    } else if (!strcmp(k, "max_bytes")) {
      rc = get_u64(l, v, k, 1ull << 30, &u);
      if (!rc) l->cfg->max_json_bytes = (size_t)u;
    } else if (!strcmp(k, "store_diffs")) {
      rc = get_bool(l, v, k, &l->cfg->store_diffs);
    } else if (!strcmp(k, "max_examples")) {
      rc = get_u64(l, v, k, 1u << 30, &u);
      if (!rc) l->cfg->max_diff_rows_per_path = (size_t)u;
    } else {
      rc = at(l, kn, SC_ECONFIG,
              "unknown key '%s' in diff (expected ignore, tolerances, max_depth, max_bytes, "
              "store_diffs, max_examples)", k);
    }
    if (rc) return rc;
  }
  return SC_OK;
}

static int load_noise(struct ld *l, yaml_node_t *m) {
  int rc = want_map(l, m, "noise");
  if (rc) return rc;
  FOR_PAIRS(l, m, k, kn, v) {
    if (!strcmp(k, "margin")) rc = get_range(l, v, k, 0, 1, &l->cfg->noise_margin);
    else if (!strcmp(k, "alpha")) rc = get_range(l, v, k, 1e-12, 0.5, &l->cfg->noise_alpha);
    else rc = at(l, kn, SC_ECONFIG, "unknown key '%s' in noise (expected margin, alpha)", k);
    if (rc) return rc;
  }
  return SC_OK;
}

static int load_stats(struct ld *l, yaml_node_t *m) {
  int rc = want_map(l, m, "statistics");
  if (rc) return rc;
  FOR_PAIRS(l, m, k, kn, v) {
    uint64_t u = 0;
    if (!strcmp(k, "alpha")) {
      rc = get_range(l, v, k, 1e-9, 0.5, &l->cfg->alpha);
    } else if (!strcmp(k, "power")) {
      rc = get_range(l, v, k, 0.5, 0.9999, &l->cfg->power);
    } else if (!strcmp(k, "bootstrap")) {
      rc = get_u64(l, v, k, 100000, &u);
      if (!rc) l->cfg->bootstrap_iters = (unsigned)u;
    } else if (!strcmp(k, "seed")) {
      rc = get_u64(l, v, k, UINT64_MAX, &u);
      if (!rc) l->cfg->seed = u;
    } else if (!strcmp(k, "correction")) {
      const char *s = NULL;
      rc = want_scalar(l, v, k, &s);
      if (!rc && strcmp(s, "holm") && strcmp(s, "bh"))
        rc = at(l, v, SC_ECONFIG, "'correction' must be holm or bh, got '%s'", s);
      if (!rc && set_str(&l->cfg->correction, s)) rc = sc_error_set(l->err, SC_ENOMEM, "out of memory");
    } else if (!strcmp(k, "sweep")) {
      rc = want_seq(l, v, k);
      if (rc) return rc;
      size_t n = seq_len(v);
      if (n > 1000) return at(l, v, SC_ECONFIG, "'sweep': too many thresholds");
      double *d = calloc(n ? n : 1, sizeof *d);
      if (!d) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
      size_t i = 0;
      for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        if ((rc = get_num(l, node(l, *it), "sweep", &d[i++]))) break;
      if (rc) {
        free(d);
        return rc;
      }
      free(l->cfg->sweep);
      l->cfg->sweep = d;
      l->cfg->n_sweep = n;
    } else {
      rc = at(l, kn, SC_ECONFIG,
              "unknown key '%s' in statistics (expected alpha, power, bootstrap, seed, correction, sweep)", k);
    }
    if (rc) return rc;
  }
  return SC_OK;
}

static int load_criterion(struct ld *l, yaml_node_t *e, struct sc_criterion *c) {
  int rc = want_map(l, e, "criteria entry");
  if (rc) return rc;
  int have_threshold = 0;
  FOR_PAIRS(l, e, k, kn, v) {
    uint64_t u = 0;
    if (!strcmp(k, "name")) {
      rc = get_str(l, v, k, &c->name);
    } else if (!strcmp(k, "metric")) {
      rc = get_str(l, v, k, &c->metric);
      for (const char *q = c->metric; !rc && *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_'))
          rc = at(l, v, SC_ECONFIG, "'metric' must be a metric name like latency_p99_ratio, got '%s'",
                  c->metric);
    } else if (!strcmp(k, "op")) {
      const char *s = NULL;
      rc = want_scalar(l, v, k, &s);
      int cmp = rc ? 0 : sc_cmp_parse(s);
      if (!rc && cmp < 0) rc = at(l, v, SC_ECONFIG, "'op' must be one of <, <=, >, >=, ==, got '%s'", s);
      if (!rc) c->cmp = (enum sc_cmp)cmp;
    } else if (!strcmp(k, "threshold")) {
      rc = get_num(l, v, k, &c->threshold);
      have_threshold = 1;
    } else if (!strcmp(k, "max")) {
      rc = get_num(l, v, k, &c->threshold);
      c->cmp = SC_CMP_LE;
      have_threshold = 1;
    } else if (!strcmp(k, "min")) {
      rc = get_num(l, v, k, &c->threshold);
      c->cmp = SC_CMP_GE;
      have_threshold = 1;
    } else if (!strcmp(k, "target")) {
      rc = get_str(l, v, k, &c->target);
      if (!rc && strcmp(c->target, "candidate") && strcmp(c->target, "current") &&
          strcmp(c->target, "secondary") && strcmp(c->target, "all"))
        rc = at(l, v, SC_ECONFIG, "'target' must be candidate, current, secondary or all, got '%s'",
                c->target);
    } else if (!strcmp(k, "abs")) {
      rc = get_bool(l, v, k, &c->use_abs);
    } else if (!strcmp(k, "relative")) {
      rc = get_bool(l, v, k, &c->relative);
    } else if (!strcmp(k, "use_interval")) {
      rc = get_bool(l, v, k, &c->use_interval);
    } else if (!strcmp(k, "needs_labels")) {
      rc = get_bool(l, v, k, &c->needs_labels);
    } else if (!strcmp(k, "min_samples")) {
      rc = get_u64(l, v, k, INT64_MAX, &u);
      if (!rc) c->min_samples = (int64_t)u;
    } else {
      rc = at(l, kn, SC_ECONFIG,
              "unknown key '%s' in a criterion (expected name, metric, op, threshold, max, min, "
              "target, abs, relative, use_interval, min_samples, needs_labels)", k);
    }
    if (rc) return rc;
  }
  if (!c->metric) return at(l, e, SC_ECONFIG, "a criterion needs a 'metric'");
  if (!have_threshold) return at(l, e, SC_ECONFIG, "criterion '%s' needs 'threshold' (or max/min)", c->metric);
  if (!c->name && set_str(&c->name, c->metric)) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  if (!c->target && set_str(&c->target, "candidate")) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  /* Metrics that only exist with labels. */
  static const char *const labelled[] = {"fpr", "tpr", "precision", "recall", "fpr_delta",
                                         "tpr_delta", "fpr_rel_change", "label_coverage"};
  for (size_t i = 0; i < sizeof labelled / sizeof labelled[0]; i++)
    if (!strcmp(c->metric, labelled[i]) && strcmp(c->metric, "label_coverage")) c->needs_labels = 1;
  return SC_OK;
}

static int load_criteria(struct ld *l, yaml_node_t *n) {
  int rc = want_seq(l, n, "criteria");
  if (rc) return rc;
  size_t m = seq_len(n);
  if (m > 1024) return at(l, n, SC_ECONFIG, "'criteria': too many entries");
  struct sc_criterion *c = calloc(m ? m : 1, sizeof *c);
  if (!c) return sc_error_set(l->err, SC_ENOMEM, "out of memory");
  size_t k = 0;
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    c[k].cmp = SC_CMP_LE;
    rc = load_criterion(l, node(l, *it), &c[k]);
    k++;
    if (rc) goto fail;
  }
  free_criteria(l->cfg->criteria, l->cfg->n_criteria);
  l->cfg->criteria = c;
  l->cfg->n_criteria = k;
  return SC_OK;
fail:
  free_criteria(c, k);
  return rc;
}

static int load_root(struct ld *l, yaml_node_t *root) {
  if (!root) return SC_OK; /* empty file: defaults */
  if (root->type == YAML_SCALAR_NODE && !root->data.scalar.length) return SC_OK;
  int rc = want_map(l, root, "shadow.yaml top level");
  if (rc) return rc;
  FOR_PAIRS(l, root, k, kn, v) {
    if (!strcmp(k, "version")) {
      double ver = 0;
      rc = get_num(l, v, k, &ver);
      if (!rc && ver != 1) rc = at(l, v, SC_ECONFIG, "unsupported version %g (this shadowctl reads version 1)", ver);
    } else if (!strcmp(k, "request_key")) {
      rc = get_str(l, v, k, &l->cfg->request_key);
      if (!rc && strcmp(l->cfg->request_key, "default") && strcmp(l->cfg->request_key, "method+target+body"))
        rc = check_path(l, v, k, l->cfg->request_key, 1);
    } else if (!strcmp(k, "decision")) {
      rc = load_decision(l, v);
    } else if (!strcmp(k, "diff")) {
      rc = load_diff(l, v);
    } else if (!strcmp(k, "noise")) {
      rc = load_noise(l, v);
    } else if (!strcmp(k, "statistics")) {
      rc = load_stats(l, v);
    } else if (!strcmp(k, "slices")) {
      rc = get_paths(l, v, k, 1, &l->cfg->slices, &l->cfg->n_slices);
    } else if (!strcmp(k, "criteria")) {
      rc = load_criteria(l, v);
    } else if (!strcmp(k, "replay") || !strcmp(k, "capture") || !strcmp(k, "report")) {
      rc = want_map(l, v, k); /* sections read by other stages; accepted here */
    } else {
      rc = at(l, kn, SC_ECONFIG,
              "unknown key '%s' (expected version, request_key, decision, diff, noise, statistics, "
              "slices, criteria)", k);
    }
    if (rc) return rc;
  }
  return SC_OK;
}

int sc_config_load_buffer(struct sc_config *cfg, const char *name, const char *data, size_t n,
                          struct sc_error *err) {
  int rc = SC_OK;
  yaml_parser_t parser;
  yaml_document_t doc;
  int have_doc = 0;
  if (n > SC_MAX_CONFIG_BYTES)
    return sc_error_set(err, SC_ETOOBIG, "%s: configuration larger than %u bytes", name,
                        (unsigned)SC_MAX_CONFIG_BYTES);
  if (!yaml_parser_initialize(&parser)) return sc_error_set(err, SC_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, n);
  if (!yaml_parser_load(&parser, &doc)) {
    const yaml_mark_t *mk = parser.problem ? &parser.problem_mark : &parser.context_mark;
    rc = sc_error_set(err, SC_EPARSE_YAML, "%s:%lu:%lu: %s%s%s", name,
                      (unsigned long)mk->line + 1, (unsigned long)mk->column + 1,
                      parser.problem ? parser.problem : "invalid YAML",
                      parser.context ? " " : "", parser.context ? parser.context : "");
    goto out;
  }
  have_doc = 1;
  /* Aliases are resolved into the node graph by libyaml; a recursive alias
   * cannot be built by the loader, so walking is bounded by the node count. */
  struct ld l = {cfg, name, &doc, err};
  rc = load_root(&l, yaml_document_get_root_node(&doc));
out:
  if (have_doc) yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

void sc_config_analysis_id(const struct sc_config *cfg, char out[17]) {
  /* FNV-1a 64 of the configuration as canonical JSON, without its file path
   * and its acceptance criteria (they do not change what analysis stores) */
  uint64_t h = 1469598103934665603ull;
  char *js = cfg ? sc_config_to_json(cfg) : NULL;
  json_t *j = js ? json_loads(js, 0, NULL) : NULL;
  free(js);
  js = NULL;
  if (j) {
    json_object_del(j, "path");
    json_object_del(j, "criteria");
    js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(j);
  }
  for (const char *p = js ? js : ""; *p; p++) {
    h ^= (unsigned char)*p;
    h *= 1099511628211ull;
  }
  free(js);
  sc_fmt_hex64(out, h);
}

int sc_config_apply_set(struct sc_config *cfg, const char *assignment, struct sc_error *err) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment || !eq[1])
    return sc_error_set(err, SC_ECONFIG, "--set '%s': expected KEY=VALUE, e.g. decision.threshold=0.7", assignment);
  size_t klen = (size_t)(eq - assignment);
  int depth = 1;
  for (size_t i = 0; i < klen; i++) {
    char ch = assignment[i];
    if (ch == '.') {
      if (i == 0 || i + 1 == klen || assignment[i - 1] == '.')
        return sc_error_set(err, SC_ECONFIG, "--set '%s': empty part in key '%.*s'", assignment, (int)klen,
                            assignment);
      depth++;
    } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
      return sc_error_set(err, SC_ECONFIG, "--set '%s': key '%.*s' may hold only a-z, 0-9, '_' and '.'",
                          assignment, (int)klen, assignment);
    }
  }
  if (strpbrk(eq + 1, "\r\n"))
    return sc_error_set(err, SC_ECONFIG, "--set '%s': the value must be one line", assignment);
  /* KEY a.b.c and VALUE v become the one-line YAML document {a: {b: {c: v}}},
   * overlaid like a file (so the same checks and messages apply). */
  struct sc_buf y;
  sc_buf_init(&y, SC_MAX_CONFIG_BYTES);
  int rc = SC_OK;
  const char *k = assignment;
  for (int d = 0; d < depth && !rc; d++) {
    const char *dot = memchr(k, '.', (size_t)(eq - k));
    size_t n = dot ? (size_t)(dot - k) : (size_t)(eq - k);
    rc = sc_buf_printf(&y, "{%.*s: ", (int)n, k);
    k += n + 1;
  }
  if (!rc) rc = sc_buf_puts(&y, eq + 1);
  for (int d = 0; d < depth && !rc; d++) rc = sc_buf_puts(&y, "}");
  if (rc) {
    sc_buf_release(&y);
    return sc_error_set(err, rc, "--set '%s': value too long", assignment);
  }
  char name[256];
  snprintf(name, sizeof name, "--set '%s' (as YAML '%s')", assignment, y.p);
  rc = sc_config_load_buffer(cfg, name, y.p, y.len, err);
  sc_buf_release(&y);
  return rc;
}

int sc_config_load(struct sc_config *cfg, const char *path, struct sc_error *err) {
  int rc = SC_OK;
  char *data = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return sc_error_set(err, errno == ENOENT ? SC_ENOENT : errno == EACCES ? SC_EACCES : SC_EIO,
                        "cannot open configuration '%s': %s", path, strerror(errno));
  data = malloc(SC_MAX_CONFIG_BYTES + 1);
  if (!data) {
    rc = sc_error_set(err, SC_ENOMEM, "out of memory");
    goto out;
  }
  size_t n = fread(data, 1, SC_MAX_CONFIG_BYTES + 1, f);
  if (ferror(f)) {
    rc = sc_error_set(err, SC_EIO, "cannot read configuration '%s'", path);
    goto out;
  }
  rc = sc_config_load_buffer(cfg, path, data, n, err);
  if (!rc && set_str(&cfg->path, path)) rc = sc_error_set(err, SC_ENOMEM, "out of memory");
out:
  free(data);
  fclose(f);
  return rc;
}

/* ---- effective configuration as JSON ----------------------------------- */

static json_t *strv_json(char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

char *sc_config_to_json(const struct sc_config *cfg) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "path", cfg->path ? json_string(cfg->path) : json_null());
  json_object_set_new(o, "request_key", json_string(cfg->request_key ? cfg->request_key : ""));
  json_t *d = json_object();
  json_object_set_new(d, "score_path", json_string(cfg->score_path ? cfg->score_path : ""));
  json_object_set_new(d, "threshold", json_real(cfg->threshold));
  json_object_set_new(d, "label_path", json_string(cfg->label_path ? cfg->label_path : ""));
  json_object_set_new(d, "positive", strv_json(cfg->positive_labels, cfg->n_positive_labels));
  json_object_set_new(o, "decision", d);
  json_t *df = json_object();
  json_object_set_new(df, "ignore", strv_json(cfg->ignore_paths, cfg->n_ignore_paths));
  json_t *tl = json_array();
  for (size_t i = 0; i < cfg->n_tolerances; i++)
    json_array_append_new(tl, json_pack("{s:s,s:f,s:f}", "path", cfg->tolerances[i].path, "abs",
                                        cfg->tolerances[i].abs, "rel", cfg->tolerances[i].rel));
  json_object_set_new(df, "tolerances", tl);
  json_object_set_new(df, "max_depth", json_integer((json_int_t)cfg->max_json_depth));
  json_object_set_new(df, "max_bytes", json_integer((json_int_t)cfg->max_json_bytes));
  json_object_set_new(o, "diff", df);
  json_object_set_new(o, "noise", json_pack("{s:f,s:f}", "margin", cfg->noise_margin, "alpha", cfg->noise_alpha));
  json_object_set_new(o, "statistics",
                      json_pack("{s:f,s:f,s:I,s:I,s:s}", "alpha", cfg->alpha, "power", cfg->power,
                                "bootstrap", (json_int_t)cfg->bootstrap_iters, "seed",
                                (json_int_t)cfg->seed, "correction",
                                cfg->correction ? cfg->correction : "holm"));
  json_object_set_new(o, "slices", strv_json(cfg->slices, cfg->n_slices));
  json_t *cr = json_array();
  for (size_t i = 0; i < cfg->n_criteria; i++) {
    const struct sc_criterion *c = &cfg->criteria[i];
    json_array_append_new(cr, json_pack("{s:s,s:s,s:s,s:f,s:s,s:b,s:b,s:b,s:I,s:b}", "name", c->name,
                                        "metric", c->metric, "op", sc_cmp_str(c->cmp), "threshold",
                                        c->threshold, "target", c->target ? c->target : "candidate",
                                        "abs", c->use_abs, "relative", c->relative, "use_interval",
                                        c->use_interval, "min_samples", (json_int_t)c->min_samples,
                                        "needs_labels", c->needs_labels));
  }
  json_object_set_new(o, "criteria", cr);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}
