/*
 * policy.c - traffic policy pieces: target URL parsing, the request key and
 * its deterministic hash (xxHash XXH64 with --seed), and the split test.
 * Stage: replay. Reference: RFC 3986 (URI syntax, the http subset we accept),
 * https://github.com/Cyan4973/xxHash (XXH64), DESIGN.md (canary/shadow).
 *
 * Split rule: a request goes to (canary) or is mirrored to (shadow) the
 * candidate iff hash / 2^64 < fraction. The same key and seed always give
 * the same side, so a rerun reproduces the split.
 */
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "replay/replay.h"
#include "util/buf.h"
#include "util/limits.h"

int sc_replay_url_parse(const char *url, struct sc_replay_url *out, struct sc_error *err) {
  memset(out, 0, sizeof *out);
  if (!url || !*url) return sc_error_set(err, SC_EPARSE_URL, "empty URL");
  if (!strncasecmp(url, "https://", 8))
    return sc_error_set(err, SC_EUNSUPPORTED, "'%s': TLS is not supported yet (use an http:// URL)", url);
  if (strncasecmp(url, "http://", 7))
    return sc_error_set(err, SC_EPARSE_URL, "malformed URL '%s': expected http://HOST[:PORT][/PATH]", url);
  const char *p = url + 7;
  const char *host_end = p;
  if (*p == '[') { /* IPv6 literal */
    host_end = strchr(p, ']');
    if (!host_end) return sc_error_set(err, SC_EPARSE_URL, "malformed URL '%s': unterminated '['", url);
    size_t n = (size_t)(host_end - p - 1);
    if (n == 0 || n >= sizeof out->host) goto bad;
    memcpy(out->host, p + 1, n);
    host_end++;
  } else {
    while (*host_end && *host_end != ':' && *host_end != '/' && *host_end != '?' && *host_end != '#')
      host_end++;
    size_t n = (size_t)(host_end - p);
    if (n == 0 || n >= sizeof out->host) goto bad;
    memcpy(out->host, p, n);
    for (size_t i = 0; i < n; i++) {
      char c = out->host[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_'))
        goto bad;
      if (c == '@') goto bad; /* userinfo not accepted */
    }
  }
  unsigned long port = 80;
  const char *q = host_end;
  if (*q == ':') {
    q++;
    if (*q < '0' || *q > '9') goto bad;
    char *end = NULL;
    errno = 0;
    port = strtoul(q, &end, 10);
    if (errno || port == 0 || port > 65535) goto bad;
    q = end;
  }
  if (*q && *q != '/') goto bad;
  size_t plen = strlen(q);
  while (plen > 0 && q[plen - 1] == '/') plen--;
  if (plen >= sizeof out->path_prefix) goto bad;
  for (size_t i = 0; i < plen; i++)
    if (q[i] == '?' || q[i] == '#' || (unsigned char)q[i] <= 0x20 || (unsigned char)q[i] >= 0x7f) goto bad;
  memcpy(out->path_prefix, q, plen);
  out->port = (uint16_t)port;
  if (strchr(out->host, ':'))
    snprintf(out->hostport, sizeof out->hostport, port == 80 ? "[%s]" : "[%s]:%lu", out->host, port);
  else if (port == 80)
    snprintf(out->hostport, sizeof out->hostport, "%s", out->host);
  else
    snprintf(out->hostport, sizeof out->hostport, "%s:%lu", out->host, port);
  return SC_OK;
bad:
  memset(out, 0, sizeof *out);
  return sc_error_set(err, SC_EPARSE_URL, "malformed URL '%s': expected http://HOST[:PORT][/PATH]", url);
}

int sc_replay_hash_in(uint64_t hash, double fraction) {
  if (fraction <= 0.0) return 0;
  if (fraction >= 1.0) return 1;
  /* hash / 2^64 < fraction, computed without overflow */
  return ((double)hash / 18446744073709551616.0) < fraction;
}

int sc_replay_key_rule_check(const char *rule, struct sc_error *err) {
  if (!rule || !*rule || !strcmp(rule, "default")) return SC_OK;
  if (!strncmp(rule, "header:", 7)) {
    if (!rule[7]) return sc_error_set(err, SC_EUSAGE, "invalid key rule '%s': header name missing", rule);
    return SC_OK;
  }
  if (rule[0] == '$') {
    const char *p = rule + 1;
    if (!*p) return sc_error_set(err, SC_EUSAGE, "invalid key rule '%s': empty JSON path", rule);
    while (*p) {
      if (*p == '.') {
        p++;
        size_t n = strcspn(p, ".[");
        if (n == 0) return sc_error_set(err, SC_EUSAGE, "invalid key rule '%s': empty field name", rule);
        p += n;
      } else if (*p == '[') {
        p++;
        size_t n = strspn(p, "0123456789");
        if (n == 0 || p[n] != ']')
          return sc_error_set(err, SC_EUSAGE, "invalid key rule '%s': expected [INDEX]", rule);
        p += n + 1;
      } else {
        return sc_error_set(err, SC_EUSAGE, "invalid key rule '%s': expected .field or [index]", rule);
      }
    }
    return SC_OK;
  }
  return sc_error_set(err, SC_EUSAGE,
                      "invalid key rule '%s': expected 'default', '$.json.path' or 'header:Name'", rule);
}

/* Follows a checked "$.a.b[2]" path in v. Borrowed result or NULL. */
static json_t *json_follow(json_t *v, const char *path) {
  const char *p = path + 1;
  char name[SC_MAX_PATH_LEN];
  while (v && *p) {
    if (*p == '.') {
      p++;
      size_t n = strcspn(p, ".[");
      if (n >= sizeof name) return NULL;
      memcpy(name, p, n);
      name[n] = '\0';
      v = json_is_object(v) ? json_object_get(v, name) : NULL;
      p += n;
    } else if (*p == '[') {
      char *end = NULL;
      unsigned long i = strtoul(p + 1, &end, 10);
      v = json_is_array(v) ? json_array_get(v, i) : NULL;
      p = end + 1;
    } else {
      return NULL;
    }
  }
  return v;
}

static char *default_key_hex(uint64_t h) {
  char *s = malloc(17);
  if (s) sc_fmt_hex64(s, h);
  return s;
}

int sc_replay_key(const char *rule, const struct sc_exchange *x, uint64_t seed, char **key,
                  uint64_t *hash, struct sc_error *err) {
  *key = NULL;
  *hash = 0;
  const char *m = x->req.method ? x->req.method : "";
  const char *t = x->req.target ? x->req.target : "";
  if (rule && !strncmp(rule, "header:", 7)) {
    const struct sc_hdr *h = sc_http_msg_header(&x->req, rule + 7);
    if (h) {
      *key = sc_memdup0(h->value, h->value_len);
      if (!*key) return sc_error_set(err, SC_ENOMEM, "out of memory");
      *hash = XXH64(h->value, h->value_len, seed);
      return SC_OK;
    }
  } else if (rule && rule[0] == '$') {
    json_t *root = NULL;
    if (x->req.body && x->req.body_len > 0 && x->req.body_len <= SC_MAX_JSON_BYTES)
      root = json_loadb((const char *)x->req.body, x->req.body_len, JSON_DECODE_ANY, NULL);
    json_t *v = root ? json_follow(root, rule) : NULL;
    char *s = NULL;
    if (v && json_is_string(v)) s = sc_memdup0(json_string_value(v), json_string_length(v));
    else if (v && !json_is_null(v)) s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    if (v && !s) return sc_error_set(err, SC_ENOMEM, "out of memory");
    if (s) {
      *key = s;
      *hash = XXH64(s, strlen(s), seed);
      return SC_OK;
    }
  }
  /* default rule, and the fallback when the header/field is absent:
   * method SP target LF body */
  XXH64_state_t stb, *st = &stb; /* per request: no allocation */
  XXH64_reset(st, seed);
  XXH64_update(st, m, strlen(m));
  XXH64_update(st, " ", 1);
  XXH64_update(st, t, strlen(t));
  XXH64_update(st, "\n", 1);
  if (x->req.body && x->req.body_len) XXH64_update(st, x->req.body, x->req.body_len);
  *hash = XXH64_digest(st);
  *key = default_key_hex(*hash);
  if (!*key) return sc_error_set(err, SC_ENOMEM, "out of memory");
  return SC_OK;
}

const char *sc_replay_errkind_name(int kind) {
  static const char *names[SC_RE_COUNT] = {NULL,        "refused",   "reset",  "timeout", "connect",
                                           "malformed", "too_large", "closed", "other"};
  if (kind <= 0 || kind >= SC_RE_COUNT) return NULL;
  return names[kind];
}
