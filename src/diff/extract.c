/*
 * extract.c - decision, score and request fields by rule (shadow.yaml).
 * Stage: diff. Reference: schemas/shadow.example.yaml, RFC 8259, RFC 9110
 * section 5.1 (field names are case-insensitive).
 */
#include "diff/extract.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/limits.h"

/* Depth-first search for member `name` anywhere below j. */
static const json_t *find_desc(const json_t *j, const char *name, size_t len, int depth) {
  if (depth > SC_MAX_JSON_DEPTH * 16) return NULL;
  if (json_is_object(j)) {
    const json_t *v = json_object_getn(j, name, len);
    if (v) return v;
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)j, k, c) {
      const json_t *r = find_desc(c, name, len, depth + 1);
      if (r) return r;
    }
  } else if (json_is_array(j)) {
    for (size_t i = 0; i < json_array_size(j); i++) {
      const json_t *r = find_desc(json_array_get(j, i), name, len, depth + 1);
      if (r) return r;
    }
  }
  return NULL;
}

const json_t *sc_extract_path(const json_t *root, const char *p) {
  if (!root || !p || p[0] != '$') return NULL;
  const json_t *cur = root;
  size_t i = 1;
  char name[SC_MAX_PATH_LEN + 1];
  while (p[i] && cur) {
    int desc = 0;
    size_t nl = 0;
    int is_idx = 0, any = 0;
    size_t idx = 0;
    if (p[i] == '.') {
      i++;
      if (p[i] == '.') desc = 1, i++;
      size_t st = i;
      while (p[i] && p[i] != '.' && p[i] != '[') i++;
      nl = i - st;
      if (!nl || nl > SC_MAX_PATH_LEN) return NULL;
      memcpy(name, p + st, nl);
      name[nl] = '\0';
      if (nl == 1 && name[0] == '*') any = 1;
    } else if (p[i] == '[') {
      i++;
      if (p[i] == '*') {
        any = 1;
        i++;
      } else if (p[i] == '"' || p[i] == '\'') {
        char q = p[i++];
        while (p[i] && p[i] != q) {
          if (p[i] == '\\' && p[i + 1]) i++;
          if (nl >= SC_MAX_PATH_LEN) return NULL;
          name[nl++] = p[i++];
        }
        if (!p[i]) return NULL;
        i++;
        name[nl] = '\0';
      } else if (p[i] >= '0' && p[i] <= '9') {
        is_idx = 1;
        while (p[i] >= '0' && p[i] <= '9') {
          if (idx > 100000000) return NULL;
          idx = idx * 10 + (size_t)(p[i++] - '0');
        }
      } else {
        return NULL;
      }
      if (p[i] != ']') return NULL;
      i++;
    } else {
      return NULL;
    }
    if (desc && !any) cur = find_desc(cur, name, nl, 0);
    else if (any) {
      if (json_is_array(cur)) cur = json_array_get(cur, 0);
      else if (json_is_object(cur)) cur = json_object_iter_value(json_object_iter((json_t *)cur));
      else cur = NULL;
    } else if (is_idx) cur = json_is_array(cur) ? json_array_get(cur, idx) : NULL;
    else cur = json_is_object(cur) ? json_object_getn(cur, name, nl) : NULL;
  }
  return cur;
}

static void value_text(const json_t *v, char *out, size_t n) {
  if (!n) return;
  out[0] = '\0';
  if (json_is_string(v)) {
    size_t l = json_string_length(v);
    if (l >= n) l = n - 1;
    memcpy(out, json_string_value(v), l);
    out[l] = '\0';
    return;
  }
  if (json_is_integer(v)) {
    snprintf(out, n, "%lld", (long long)json_integer_value(v));
    return;
  }
  if (json_is_true(v)) {
    snprintf(out, n, "true");
    return;
  }
  if (json_is_false(v)) {
    snprintf(out, n, "false");
    return;
  }
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  if (!s) return;
  snprintf(out, n, "%s", s);
  free(s);
}

void sc_extract_decision(const struct sc_config *cfg, const json_t *root, struct sc_decision *out) {
  memset(out, 0, sizeof *out);
  out->decision = -1;
  if (!root) return;
  if (cfg->score_path && cfg->score_path[0]) {
    const json_t *s = sc_extract_path(root, cfg->score_path);
    if (s && json_is_number(s) && isfinite(json_number_value(s))) {
      out->has_score = 1;
      out->score = json_number_value(s);
    }
  }
  if (cfg->label_path && cfg->label_path[0]) {
    const json_t *l = sc_extract_path(root, cfg->label_path);
    if (l && !json_is_null(l) && !json_is_object(l) && !json_is_array(l)) {
      out->has_label = 1;
      value_text(l, out->label, sizeof out->label);
    }
  }
  if (out->has_score) {
    out->decision = out->score >= cfg->threshold;
  } else if (out->has_label) {
    out->decision = 0;
    for (size_t i = 0; i < cfg->n_positive_labels; i++)
      if (!strcmp(out->label, cfg->positive_labels[i])) out->decision = 1;
  }
}

int sc_extract_header(const char *headers_json, size_t len, const char *name, char *out, size_t n) {
  if (!headers_json || !len || !n) return 0;
  json_error_t je;
  json_t *h = json_loadb(headers_json, len, 0, &je);
  int found = 0;
  if (json_is_array(h)) {
    for (size_t i = 0; i < json_array_size(h) && !found; i++) {
      json_t *pair = json_array_get(h, i);
      const char *k = json_string_value(json_array_get(pair, 0));
      json_t *v = json_array_get(pair, 1);
      if (k && json_is_string(v) && !strcasecmp(k, name)) {
        value_text(v, out, n);
        found = 1;
      }
    }
  }
  json_decref(h);
  return found;
}

int sc_extract_request_field_parsed(const char *rule, const char *headers_json, size_t headers_len,
                                    const json_t *body, char *out, size_t n) {
  if (n) out[0] = '\0';
  if (!rule || !n) return 0;
  if (!strncmp(rule, "header:", 7)) return sc_extract_header(headers_json, headers_len, rule + 7, out, n);
  const json_t *v = sc_extract_path(body, rule);
  if (!v) return 0;
  value_text(v, out, n);
  return 1;
}

int sc_extract_request_field(const char *rule, const char *headers_json, size_t headers_len,
                             const void *body, size_t body_len, char *out, size_t n) {
  if (n) out[0] = '\0';
  if (!rule || !n) return 0;
  if (!strncmp(rule, "header:", 7)) return sc_extract_header(headers_json, headers_len, rule + 7, out, n);
  if (!body || !body_len || body_len > SC_MAX_JSON_BYTES) return 0;
  json_error_t je;
  json_t *j = json_loadb(body, body_len, JSON_DECODE_ANY, &je);
  if (!j) return 0;
  int r = sc_extract_request_field_parsed(rule, NULL, 0, j, out, n);
  json_decref(j);
  return r;
}
