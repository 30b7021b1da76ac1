/*
 * redact.c - header and JSON-path redaction of exchanges at capture. Stage:
 * traffic. Reference: RFC 9110 section 5.1 (field names, case-insensitive),
 * RFC 9535 (JSONPath; the subset documented in redact.h), jansson.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "traffic/redact.h"
#include "util/buf.h"
#include "util/limits.h"

/* jansson refuses documents nested deeper than 2048, so every parsed body is
 * walked completely. */
#define REDACT_MAX_DEPTH 2100

enum step_kind { ST_MEMBER, ST_INDEX, ST_WILD, ST_DESCEND };

struct sc_redact_step {
  enum step_kind kind;
  char *name;   /* ST_MEMBER, ST_DESCEND */
  size_t index; /* ST_INDEX */
};

static const char *const default_headers[] = {"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
                                              "X-Api-Key"};

/* A 6-bit signature of a field name from its length and first letter
 * (|0x20 folds the letter's case): names that compare equal
 * case-insensitively have the same one, so a header line whose signature
 * bit is not in name_sig_mask needs no compare. */
static unsigned name_sig(const char *name, size_t len) {
  unsigned c = len ? ((unsigned char)name[0] | 0x20u) : 0;
  return (unsigned)((len * 5u + c) & 63u); /* 5: no common field name collides with the defaults */
}

static void update_sig_mask(struct sc_redact_cfg *cfg) {
  cfg->name_sig_mask = 0;
  for (size_t i = 0; i < cfg->n_headers; i++)
    cfg->name_sig_mask |= (uint64_t)1 << name_sig(cfg->headers[i], cfg->header_lens[i]);
}

static int is_tchar(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

int sc_redact_cfg_init(struct sc_redact_cfg *cfg, struct sc_error *err) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < sizeof default_headers / sizeof default_headers[0]; i++) {
    int rc = sc_redact_cfg_add_header(cfg, default_headers[i], err);
    if (rc) {
      sc_redact_cfg_release(cfg);
      return rc;
    }
  }
  return 0;
}

void sc_redact_cfg_keep_header(struct sc_redact_cfg *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_headers;) {
    if (!strcasecmp(cfg->headers[i], name)) {
      free(cfg->headers[i]);
      memmove(&cfg->headers[i], &cfg->headers[i + 1], (cfg->n_headers - i - 1) * sizeof *cfg->headers);
      memmove(&cfg->header_lens[i], &cfg->header_lens[i + 1], (cfg->n_headers - i - 1) * sizeof *cfg->header_lens);
      cfg->n_headers--;
      update_sig_mask(cfg);
    } else {
      i++;
    }
  }
}

int sc_redact_cfg_add_header(struct sc_redact_cfg *cfg, const char *name, struct sc_error *err) {
  if (!name || !*name) return sc_error_set(err, SC_EINVAL, "invalid header name ''");
  for (const char *p = name; *p; p++)
    if (!is_tchar((unsigned char)*p)) return sc_error_set(err, SC_EINVAL, "invalid header name '%s'", name);
  for (size_t i = 0; i < cfg->n_headers; i++)
    if (!strcasecmp(cfg->headers[i], name)) return 0;
  if (cfg->n_headers >= SC_REDACT_MAX_RULES) return sc_error_set(err, SC_ETOOBIG, "too many redacted headers");
  char **h = realloc(cfg->headers, (cfg->n_headers + 1) * sizeof *h);
  if (!h) return sc_error_set(err, SC_ENOMEM, "out of memory");
  cfg->headers = h;
  size_t *l = realloc(cfg->header_lens, (cfg->n_headers + 1) * sizeof *l);
  if (!l) return sc_error_set(err, SC_ENOMEM, "out of memory");
  cfg->header_lens = l;
  h[cfg->n_headers] = strdup(name);
  if (!h[cfg->n_headers]) return sc_error_set(err, SC_ENOMEM, "out of memory");
  l[cfg->n_headers] = strlen(name);
  cfg->n_headers++;
  update_sig_mask(cfg);
  return 0;
}

static void path_release(struct sc_redact_path *p) {
  for (size_t i = 0; i < p->n_steps; i++) free(p->steps[i].name);
  free(p->steps);
  free(p->text);
  memset(p, 0, sizeof *p);
}

static int push_step(struct sc_redact_path *p, enum step_kind k, const char *name, size_t n, size_t index) {
  struct sc_redact_step *s = realloc(p->steps, (p->n_steps + 1) * sizeof *s);
  if (!s) return -1;
  p->steps = s;
  s += p->n_steps;
  memset(s, 0, sizeof *s);
  s->kind = k;
  s->index = index;
  if (name) {
    s->name = sc_memdup0(name, n);
    if (!s->name) return -1;
  }
  p->n_steps++;
  return 0;
}

static int is_name_char(int c) { return c && c != '.' && c != '[' && c != ']' && c != '\'' && c != '"' && c != ' '; }

/* Parses text into p. Returns 0, or fills err (SC_EINVAL / SC_ENOMEM). */
static int parse_path(const char *text, struct sc_redact_path *p, struct sc_error *err) {
  const char *s = text, *why = NULL;
  size_t i = 0, len = strlen(text);
  memset(p, 0, sizeof *p);
  if (len > SC_MAX_PATH_LEN) {
    why = "too long";
    goto bad;
  }
  if (s[0] != '$') {
    why = "must start with '$'";
    goto bad;
  }
  i = 1;
  while (s[i]) {
    int rc = 0;
    if (s[i] == '.' && s[i + 1] == '.') {
      i += 2;
      size_t st = i;
      while (is_name_char((unsigned char)s[i])) i++;
      if (i == st) {
        why = "expected a member name after '..'";
        goto bad;
      }
      rc = push_step(p, ST_DESCEND, s + st, i - st, 0);
    } else if (s[i] == '.') {
      i++;
      if (s[i] == '*') {
        i++;
        rc = push_step(p, ST_WILD, NULL, 0, 0);
      } else {
        size_t st = i;
        while (is_name_char((unsigned char)s[i])) i++;
        if (i == st) {
          why = "expected a member name after '.'";
          goto bad;
        }
        rc = push_step(p, ST_MEMBER, s + st, i - st, 0);
      }
    } else if (s[i] == '[') {
      i++;
      if (s[i] == '*' && s[i + 1] == ']') {
        i += 2;
        rc = push_step(p, ST_WILD, NULL, 0, 0);
      } else if (s[i] == '\'' || s[i] == '"') {
        char q = s[i++];
        size_t st = i;
        while (s[i] && s[i] != q) i++;
        if (!s[i] || s[i + 1] != ']' || i == st) {
          why = "unterminated quoted member name";
          goto bad;
        }
        rc = push_step(p, ST_MEMBER, s + st, i - st, 0);
        i += 2;
      } else if (s[i] >= '0' && s[i] <= '9') {
        size_t v = 0;
        while (s[i] >= '0' && s[i] <= '9') {
          if (v > 100000000) {
            why = "array index too large";
            goto bad;
          }
          v = v * 10 + (size_t)(s[i++] - '0');
        }
        if (s[i] != ']') {
          why = "expected ']' after the array index";
          goto bad;
        }
        i++;
        rc = push_step(p, ST_INDEX, NULL, 0, v);
      } else {
        why = "expected an index, '*' or a quoted name after '['";
        goto bad;
      }
    } else {
      why = "expected '.' or '['";
      goto bad;
    }
    if (rc) {
      path_release(p);
      return sc_error_set(err, SC_ENOMEM, "out of memory");
    }
  }
  if (!p->n_steps) {
    why = "selects the whole body; name at least one member";
    goto bad;
  }
  p->text = strdup(text);
  if (!p->text) {
    path_release(p);
    return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  return 0;
bad:
  path_release(p);
  return sc_error_set(err, SC_EINVAL, "invalid JSON path '%s': %s at character %zu", text, why, i + 1);
}

int sc_redact_cfg_add_json_path(struct sc_redact_cfg *cfg, const char *path, struct sc_error *err) {
  if (!path) return sc_error_set(err, SC_EINVAL, "invalid JSON path ''");
  if (cfg->n_paths >= SC_REDACT_MAX_RULES) return sc_error_set(err, SC_ETOOBIG, "too many JSON redaction paths");
  struct sc_redact_path p;
  int rc = parse_path(path, &p, err);
  if (rc) return rc;
  struct sc_redact_path *np = realloc(cfg->paths, (cfg->n_paths + 1) * sizeof *np);
  if (!np) {
    path_release(&p);
    return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  cfg->paths = np;
  np[cfg->n_paths++] = p;
  return 0;
}

void sc_redact_cfg_release(struct sc_redact_cfg *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n_headers; i++) free(cfg->headers[i]);
  free(cfg->headers);
  free(cfg->header_lens);
  for (size_t i = 0; i < cfg->n_paths; i++) path_release(&cfg->paths[i]);
  free(cfg->paths);
  memset(cfg, 0, sizeof *cfg);
}

int sc_redact_cfg_describe(const struct sc_redact_cfg *cfg, char ***out, uint32_t *n, struct sc_error *err) {
  size_t total = cfg->n_headers + cfg->n_paths;
  *out = NULL;
  *n = 0;
  char **v = calloc(total + 1, sizeof *v);
  if (!v) return sc_error_set(err, SC_ENOMEM, "out of memory");
  size_t k = 0;
  struct sc_buf b;
  sc_buf_init(&b, SC_MAX_PATH_LEN + 64);
  for (size_t i = 0; i < total; i++) {
    sc_buf_reset(&b);
    int rc = i < cfg->n_headers ? sc_buf_printf(&b, "header:%s", cfg->headers[i])
                                : sc_buf_printf(&b, "json:%s", cfg->paths[i - cfg->n_headers].text);
    v[k] = rc ? NULL : sc_memdup0(b.p, b.len);
    if (!v[k]) {
      for (size_t j = 0; j < k; j++) free(v[j]);
      free(v);
      sc_buf_release(&b);
      return sc_error_set(err, SC_ENOMEM, "out of memory");
    }
    k++;
  }
  sc_buf_release(&b);
  *out = v;
  *n = (uint32_t)k;
  return 0;
}

/* ---- applying --------------------------------------------------------- */

static int set_marker(json_t *parent, const char *key, size_t index) {
  json_t *m = json_string(SC_REDACTED_MARKER);
  if (!m) return -1;
  if (key) return json_object_set_new(parent, key, m) ? -1 : 1;
  return json_array_set_new(parent, index, m) ? -1 : 1;
}

/* Applies steps[i..] at node v (whose slot in its parent is (parent, key |
 * index)). Returns the number of values replaced, or -1 on allocation failure. */
static int apply(json_t *parent, const char *key, size_t index, json_t *v, const struct sc_redact_step *steps,
                 size_t n, size_t i, int depth) {
  if (depth > REDACT_MAX_DEPTH) return 0;
  if (i == n) return parent ? set_marker(parent, key, index) : 0;
  const struct sc_redact_step *s = &steps[i];
  int total = 0, r;
  switch (s->kind) {
  case ST_MEMBER: {
    json_t *c = json_is_object(v) ? json_object_get(v, s->name) : NULL;
    return c ? apply(v, s->name, 0, c, steps, n, i + 1, depth + 1) : 0;
  }
  case ST_INDEX: {
    json_t *c = json_is_array(v) ? json_array_get(v, s->index) : NULL;
    return c ? apply(v, NULL, s->index, c, steps, n, i + 1, depth + 1) : 0;
  }
  case ST_WILD:
    if (json_is_array(v)) {
      for (size_t k = 0; k < json_array_size(v); k++) {
        r = apply(v, NULL, k, json_array_get(v, k), steps, n, i + 1, depth + 1);
        if (r < 0) return r;
        total += r;
      }
    } else if (json_is_object(v)) {
      const char *k;
      json_t *c;
      void *tmp;
      json_object_foreach_safe(v, tmp, k, c) {
        r = apply(v, k, 0, c, steps, n, i + 1, depth + 1);
        if (r < 0) return r;
        total += r;
      }
    }
    return total;
  case ST_DESCEND:
    /* Member s->name at any depth below v, then the remaining steps. */
    if (json_is_object(v)) {
      const char *k;
      json_t *c;
      void *tmp;
      json_object_foreach_safe(v, tmp, k, c) {
        if (!strcmp(k, s->name)) {
          r = apply(v, k, 0, c, steps, n, i + 1, depth + 1);
          if (r < 0) return r;
          total += r;
          /* a replaced value has no children left to search */
          c = json_object_get(v, k);
        }
        if (json_is_object(c) || json_is_array(c)) {
          r = apply(v, k, 0, c, steps, n, i, depth + 1);
          if (r < 0) return r;
          total += r;
        }
      }
    } else if (json_is_array(v)) {
      for (size_t k = 0; k < json_array_size(v); k++) {
        r = apply(v, NULL, k, json_array_get(v, k), steps, n, i, depth + 1);
        if (r < 0) return r;
        total += r;
      }
    }
    return total;
  }
  return 0;
}

static int is_encoded(const struct sc_http_msg *m) {
  const struct sc_hdr *h = sc_http_msg_header(m, "Content-Encoding");
  return h && !(h->value_len == 8 && !strncasecmp(h->value, "identity", 8));
}

/* Returns 1 when the body changed, 0 when not, SC_ENOMEM. */
static int redact_body(const struct sc_redact_cfg *cfg, struct sc_http_msg *m, int truncated, int encoded) {
  if (!cfg->n_paths || !m->body || !m->body_len || truncated || encoded || is_encoded(m)) return 0;
  if (m->body_len > SC_MAX_JSON_BYTES) return 0;
  size_t i = 0;
  while (i < m->body_len && strchr(" \t\r\n", m->body[i])) i++;
  if (i == m->body_len || (m->body[i] != '{' && m->body[i] != '[')) return 0;
  json_error_t je;
  json_t *root = json_loadb((const char *)m->body, m->body_len, 0, &je);
  if (!root) return 0;
  int changed = 0;
  for (size_t p = 0; p < cfg->n_paths; p++) {
    int r = apply(NULL, NULL, 0, root, cfg->paths[p].steps, cfg->paths[p].n_steps, 0, 0);
    if (r < 0) {
      json_decref(root);
      return SC_ENOMEM;
    }
    changed += r;
  }
  if (!changed) {
    json_decref(root);
    return 0;
  }
  char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  json_decref(root);
  if (!s) return SC_ENOMEM;
  size_t n = strlen(s);
  uint64_t old_len = m->body_len;
  sc_http_msg_set_body(m, (uint8_t *)s, n);
  if (m->body_wire_len == old_len) m->body_wire_len = n;
  /* Keep Content-Length consistent with the body a replay will send. */
  if (sc_http_msg_unshare(m)) return SC_ENOMEM;
  for (size_t k = 0; k < m->n_headers; k++) {
    struct sc_hdr *h = &m->headers[k];
    if (h->name_len == 14 && !strncasecmp(h->name, "Content-Length", 14)) {
      char num[32];
      int w = snprintf(num, sizeof num, "%zu", n);
      char *nv = sc_memdup0(num, (size_t)w);
      if (!nv) return SC_ENOMEM;
      free(h->value);
      h->value = nv;
      h->value_len = (size_t)w;
    }
  }
  return 1;
}

static int redact_headers(const struct sc_redact_cfg *cfg, struct sc_http_msg *m) {
  int changed = 0;
  for (size_t i = 0; i < m->n_headers; i++) {
    struct sc_hdr *h = &m->headers[i];
    if (!h->name) continue;
    /* Capture calls this for every message: most lines are skipped by their
     * signature, and most of the rest by the length and first letter. */
    if (!((cfg->name_sig_mask >> name_sig(h->name, h->name_len)) & 1)) continue;
    for (size_t j = 0; j < cfg->n_headers; j++) {
      size_t n = cfg->header_lens[j];
      /* |0x20 folds letters' case; other bytes may collide, never differ
       * when equal, so this only skips true mismatches. */
      if (h->name_len == n && ((h->name[0] | 0x20) == (cfg->headers[j][0] | 0x20)) &&
          !strncasecmp(h->name, cfg->headers[j], n)) {
        if (h->value && h->value_len == sizeof SC_REDACTED_MARKER - 1 &&
            !memcmp(h->value, SC_REDACTED_MARKER, h->value_len))
          break;
        if (sc_http_msg_unshare(m)) return SC_ENOMEM;
        h = &m->headers[i];
        char *v = sc_memdup0(SC_REDACTED_MARKER, sizeof SC_REDACTED_MARKER - 1);
        if (!v) return SC_ENOMEM;
        if (h->value) memset(h->value, 0, h->value_len); /* do not leave the secret in freed memory */
        free(h->value);
        h->value = v;
        h->value_len = sizeof SC_REDACTED_MARKER - 1;
        changed = 1;
        break;
      }
    }
  }
  return changed;
}

int sc_redact_exchange(const struct sc_redact_cfg *cfg, struct sc_exchange *x, struct sc_error *err) {
  /* Each step runs only when the ones before it did not run out of memory;
   * a step with nothing configured is skipped (capture calls this for every
   * exchange, most often with the default header list only). */
  int r = 0, changed = 0;
  if (cfg->n_headers) {
    r = redact_headers(cfg, &x->req);
    if (r >= 0) {
      changed |= r;
      r = redact_headers(cfg, &x->resp);
    }
  }
  if (r >= 0 && cfg->n_paths) {
    changed |= r;
    r = redact_body(cfg, &x->req, !!(x->flags & SC_XF_REQ_TRUNCATED), 0);
    if (r >= 0) {
      changed |= r;
      r = redact_body(cfg, &x->resp, !!(x->flags & SC_XF_RESP_TRUNCATED), !!(x->flags & SC_XF_RESP_ENCODED));
    }
  }
  if (r < 0) return sc_error_set(err, SC_ENOMEM, "out of memory while redacting");
  changed |= r;
  if (changed) x->flags |= SC_XF_REDACTED;
  return 0;
}
