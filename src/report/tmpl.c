/*
 * tmpl.c - logic-less templates over a jansson tree, HTML-escaping every
 * value by default. Stage: report. Reference: the Mustache manual (subset:
 * variables, sections, inverted sections, partials, comments), HTML Living
 * Standard 13.1.2.6 (escaping text and attribute values), RFC 3629 (UTF-8
 * well-formedness). See tmpl.h for the tags and invariants.
 */
#include "report/tmpl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTIAL_DEPTH 8
#define MAX_NAME 128

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 table 3-7),
 * or 0 when it is not well-formed. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0;  /* surrogates */
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] > 0x8F) return 0;
    return 4;
  }
  return 0;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static int clean(struct sc_buf *out, const char *s, size_t n, int html) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0; /* run: start of pending bytes copied verbatim */
  int rc = SC_OK;
  while (i < n) {
    unsigned c = u[i];
    const char *rep = NULL;
    size_t adv = 1;
    if (c >= 0x80) {
      adv = utf8_len(u + i, n - i);
      if (!adv) { rep = REPLACEMENT; adv = 1; }
    } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      rep = REPLACEMENT;
    } else if (html) {
      switch (c) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      case '`': rep = "&#96;"; break;
      default: break;
      }
    }
    if (rep) {
      rc = sc_buf_append(out, s + run, i - run);
      if (rc) return rc;
      rc = sc_buf_puts(out, rep);
      if (rc) return rc;
      run = i + adv;
    }
    i += adv;
  }
  return sc_buf_append(out, s + run, n - run);
}

int sc_tmpl_escape_html(struct sc_buf *out, const char *s, size_t n) {
  return clean(out, s, n, 1);
}

int sc_tmpl_utf8_clean(struct sc_buf *out, const char *s, size_t n) {
  return clean(out, s, n, 0);
}

struct render {
  struct sc_buf *out;
  const struct sc_tmpl_env *env;
  struct sc_error *err;
  json_t *stack[SC_TMPL_MAX_DEPTH];
  int depth;         /* entries in stack */
  int partials;      /* current partial nesting */
};

static int line_of(const char *base, const char *p) {
  int line = 1;
  for (const char *q = base; q < p; q++)
    if (*q == '\n') line++;
  return line;
}

static int syntax(struct render *r, const char *name, const char *base, const char *at,
                  const char *what) {
  return sc_error_set(r->err, SC_EINVAL, "template %s:%d: %s", name, line_of(base, at), what);
}

/* A parsed tag: kind ('v' value, '#', '^', '/', '>', '&', '!') and trimmed key. */
struct tag {
  char kind;
  const char *key;
  size_t keylen;
  const char *start;  /* "{{" */
  const char *after;  /* just past "}}" */
};

/* Finds the next tag at or after p; returns 1 found, 0 none, <0 error. */
static int next_tag(struct render *r, const char *name, const char *base, const char *p,
                    const char *end, struct tag *t) {
  const char *o = NULL;
  for (const char *q = p; q + 1 < end; q++)
    if (q[0] == '{' && q[1] == '{') { o = q; break; }
  if (!o) return 0;
  const char *c = NULL;
  for (const char *q = o + 2; q + 1 < end; q++)
    if (q[0] == '}' && q[1] == '}') { c = q; break; }
  if (!c) return syntax(r, name, base, o, "unclosed tag '{{'");
  const char *k = o + 2;
  t->start = o;
  t->after = c + 2;
  t->kind = 'v';
  if (k < c && strchr("#^/>&!", *k)) t->kind = *k++;
  if (t->kind == '!') { t->key = k; t->keylen = 0; return 1; }
  while (k < c && (*k == ' ' || *k == '\t')) k++;
  const char *ke = c;
  while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
  if (ke == k) return syntax(r, name, base, o, "empty tag name");
  if ((size_t)(ke - k) >= MAX_NAME) return syntax(r, name, base, o, "tag name too long");
  for (const char *q = k; q < ke; q++) {
    unsigned char ch = (unsigned char)*q;
    if (!(ch == '_' || ch == '.' || ch == '-' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
          (ch >= 'A' && ch <= 'Z')))
      return syntax(r, name, base, o, "invalid character in tag name");
  }
  t->key = k;
  t->keylen = (size_t)(ke - k);
  return 1;
}

static json_t *lookup(struct render *r, const char *key, size_t n) {
  if (n == 1 && key[0] == '.') return r->depth ? r->stack[r->depth - 1] : NULL;
  char seg[MAX_NAME];
  const char *dot = memchr(key, '.', n);
  size_t first = dot ? (size_t)(dot - key) : n;
  memcpy(seg, key, first);
  seg[first] = '\0';
  json_t *v = NULL;
  for (int i = r->depth - 1; i >= 0 && !v; i--)
    if (json_is_object(r->stack[i])) v = json_object_get(r->stack[i], seg);
  const char *p = dot ? dot + 1 : key + n;
  while (v && p < key + n) {
    const char *d = memchr(p, '.', (size_t)(key + n - p));
    size_t len = d ? (size_t)(d - p) : (size_t)(key + n - p);
    memcpy(seg, p, len);
    seg[len] = '\0';
    if (json_is_object(v)) {
      v = json_object_get(v, seg);
    } else if (json_is_array(v) && len > 0 && len < 10 && strspn(seg, "0123456789") == len) {
      v = json_array_get(v, (size_t)strtoul(seg, NULL, 10));
    } else {
      v = NULL;
    }
    p = d ? d + 1 : key + n;
  }
  return v;
}

static int truthy(json_t *v) {
  if (!v) return 0;
  switch (json_typeof(v)) {
  case JSON_ARRAY: return json_array_size(v) > 0;
  case JSON_OBJECT: return 1;
  case JSON_STRING: return json_string_length(v) > 0;
  case JSON_INTEGER: return json_integer_value(v) != 0;
  case JSON_REAL: return json_real_value(v) != 0.0;
  case JSON_TRUE: return 1;
  default: return 0;
  }
}

static int emit_value(struct render *r, json_t *v) {
  char num[64];
  if (!v) return SC_OK;
  switch (json_typeof(v)) {
  case JSON_STRING: return sc_tmpl_escape_html(r->out, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    return sc_buf_puts(r->out, num);
  case JSON_REAL:
    snprintf(num, sizeof num, "%.6g", json_real_value(v));
    return sc_buf_puts(r->out, num);
  case JSON_TRUE: return sc_buf_puts(r->out, "true");
  case JSON_FALSE: return sc_buf_puts(r->out, "false");
  default: return SC_OK;
  }
}

static int render_range(struct render *r, const char *name, const char *base, const char *p,
                        const char *end);

static int push(struct render *r, json_t *v) {
  if (r->depth >= SC_TMPL_MAX_DEPTH)
    return sc_error_set(r->err, SC_ETOOBIG, "template nesting deeper than %d", SC_TMPL_MAX_DEPTH);
  r->stack[r->depth++] = v;
  return SC_OK;
}

/* Finds the close tag of section t; *body_end gets its "{{", *after its end. */
static int find_close(struct render *r, const char *name, const char *base, const struct tag *t,
                      const char *end, const char **body_end, const char **after) {
  int level = 1;
  const char *p = t->after;
  struct tag u;
  for (;;) {
    int rc = next_tag(r, name, base, p, end, &u);
    if (rc < 0) return rc;
    if (rc == 0) return syntax(r, name, base, t->start, "section is never closed");
    p = u.after;
    if (u.kind == '#' || u.kind == '^') level++;
    else if (u.kind == '/' && --level == 0) {
      if (u.keylen != t->keylen || memcmp(u.key, t->key, t->keylen))
        return syntax(r, name, base, u.start, "closing tag does not match the open section");
      *body_end = u.start;
      *after = u.after;
      return SC_OK;
    }
  }
}

static int render_section(struct render *r, const char *name, const char *base, const struct tag *t,
                          const char *b, const char *be) {
  json_t *v = lookup(r, t->key, t->keylen);
  int on = truthy(v);
  int rc = SC_OK;
  if (t->kind == '^') return on ? SC_OK : render_range(r, name, base, b, be);
  if (!on) return SC_OK;
  if (json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
      rc = push(r, e);
      if (rc) return rc;
      rc = render_range(r, name, base, b, be);
      r->depth--;
      if (rc) return rc;
    }
    return SC_OK;
  }
  if (json_is_object(v)) {
    rc = push(r, v);
    if (rc) return rc;
    rc = render_range(r, name, base, b, be);
    r->depth--;
    return rc;
  }
  return render_range(r, name, base, b, be);
}

static int render_partial(struct render *r, const char *name, const char *base, const struct tag *t) {
  char pname[MAX_NAME];
  memcpy(pname, t->key, t->keylen);
  pname[t->keylen] = '\0';
  const char *text = r->env && r->env->loader ? r->env->loader(r->env->loader_ctx, pname) : NULL;
  if (!text) return syntax(r, name, base, t->start, "unknown partial");
  if (r->partials >= MAX_PARTIAL_DEPTH)
    return syntax(r, name, base, t->start, "partials nested too deep");
  r->partials++;
  int rc = render_range(r, pname, text, text, text + strlen(text));
  r->partials--;
  return rc;
}

static int render_raw(struct render *r, const struct tag *t) {
  if (!r->env) return SC_OK;
  for (size_t i = 0; i < r->env->nraw; i++) {
    const char *n = r->env->raw[i].name;
    if (strlen(n) == t->keylen && !memcmp(n, t->key, t->keylen))
      return r->env->raw[i].text ? sc_buf_puts(r->out, r->env->raw[i].text) : SC_OK;
  }
  return SC_OK;
}

static int render_range(struct render *r, const char *name, const char *base, const char *p,
                        const char *end) {
  int rc = SC_OK;
  struct tag t;
  while (p < end) {
    int found = next_tag(r, name, base, p, end, &t);
    if (found < 0) return found;
    const char *lit_end = found ? t.start : end;
    rc = sc_buf_append(r->out, p, (size_t)(lit_end - p));
    if (rc) goto toobig;
    if (!found) break;
    p = t.after;
    switch (t.kind) {
    case '!': break;
    case 'v': rc = emit_value(r, lookup(r, t.key, t.keylen)); if (rc) goto toobig; break;
    case '&': rc = render_raw(r, &t); if (rc) goto toobig; break;
    case '>': rc = render_partial(r, name, base, &t); if (rc) return rc; break;
    case '/': return syntax(r, name, base, t.start, "closing tag without an open section");
    default: {
      const char *be = NULL, *after = NULL;
      rc = find_close(r, name, base, &t, end, &be, &after);
      if (rc) return rc;
      rc = render_section(r, name, base, &t, t.after, be);
      if (rc) return rc;
      p = after;
    }
    }
  }
  return SC_OK;
toobig:
  return sc_error_set(r->err, rc, "report output larger than %zu bytes", r->out->max);
}

int sc_tmpl_render(struct sc_buf *out, const char *name, const char *tmpl, json_t *data,
                   const struct sc_tmpl_env *env, struct sc_error *err) {
  struct render r;
  memset(&r, 0, sizeof r);
  r.out = out;
  r.env = env;
  r.err = err;
  if (data) r.stack[r.depth++] = data;
  return render_range(&r, name, tmpl, tmpl, tmpl + strlen(tmpl));
}
