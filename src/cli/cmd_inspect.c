/*
 * cmd_inspect.c - `shadowctl inspect`: prints, filters, counts and validates
 * a traffic file (like `tcpdump -r`). Stage: cli (over traffic).
 * Reference: schemas/traffic.md.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "traffic/traffic.h"
#include "util/clock.h"

enum { OPT_JSON = 1, OPT_COUNT, OPT_VALIDATE, OPT_HEADER, OPT_METHOD, OPT_STATUS, OPT_GREP, OPT_LIMIT };

static const struct sc_opt opts[] = {
  {OPT_JSON, "json", 'j', SC_ARG_NONE, NULL,
   "Print one JSON object per exchange (JSON lines): id, time, connection, request and response with "
   "headers in recorded order, bodies as UTF-8 text when valid and otherwise base64 (see body_encoding), "
   "timestamps in ns, latency_ms and flag names. With --header, prints the header and trailer as one JSON object."},
  {OPT_COUNT, "count", 'c', SC_ARG_NONE, NULL,
   "Print only the number of exchanges (after filters) and exit."},
  {OPT_VALIDATE, "validate", 0, SC_ARG_NONE, NULL,
   "Read the whole file, checking every frame's length, checksum and fields and the trailer. "
   "Prints 'N exchanges read; FILE is valid' and exits 0, or prints the error line "
   "('N exchanges read; FILE corrupt at byte X: reason') and exits 1."},
  {OPT_HEADER, "header", 'H', SC_ARG_NONE, NULL,
   "Print the file header (format version, creation time, capture source and filter, host, "
   "redactions applied, compression, tool) and the trailer's capture statistics, then exit."},
  {OPT_METHOD, "method", 'm', SC_ARG_REQUIRED, "M", "Only exchanges whose request method is M (case-insensitive)."},
  {OPT_STATUS, "status", 's', SC_ARG_REQUIRED, "N", "Only exchanges whose response status is N (0 = response missing)."},
  {OPT_GREP, "grep", 'g', SC_ARG_REQUIRED, "STR", "Only exchanges whose request target contains STR."},
  {OPT_LIMIT, "limit", 'n', SC_ARG_REQUIRED, "N", "Stop after N matching exchanges (the rest of the file is not read)."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_inspect_desc = {
  .name = "inspect",
  .synopsis = "[options] FILE",
  .summary = "print, filter, count or validate a traffic file",
  .description =
      "Reads a traffic file (.shdw, plain or zstd; '-' reads standard input) as a stream and prints one "
      "line per exchange: request time (ISO-8601 UTC), client -> server, method, target, response status, "
      "request and response body sizes, recorded latency in ms, and flags. Filters combine (AND). "
      "A truncated or corrupt file is read up to its last good exchange, then the error is reported.",
  .opts = opts,
  .epilogue =
      "Exit status: 0 the file was read completely (with --validate: the file is valid); "
      "1 with --validate: the file is truncated or corrupt, and the error line says where; "
      "2 usage error, or the file cannot be opened or is not a traffic file, or (without --validate) "
      "it is truncated or corrupt, after every good exchange before the damage was printed.\n"
      "Examples:\n"
      "shadowctl inspect prod.shdw | head\n"
      "shadowctl inspect --status 500 --grep /v1/score prod.shdw\n"
      "shadowctl inspect --json --limit 10 prod.shdw | jq .req.target\n"
      "shadowctl inspect --count --method POST prod.shdw\n"
      "shadowctl inspect --validate prod.shdw && echo ok\n"
      "shadowctl capture -r x.pcap -o - | shadowctl inspect -",
};

static const char *const flag_names[] = {
  "resp-missing", "req-truncated", "resp-truncated", "stream-gap", "req-chunked", "resp-chunked",
  "resp-encoded", "interim-1xx", "midstream", "close-delimited", "redacted",
};

static void fmt_flags(uint32_t f, char *out, size_t n) {
  size_t k = 0;
  out[0] = '\0';
  for (unsigned i = 0; i < 32; i++) {
    if (!(f & (1u << i))) continue;
    char tmp[24];
    const char *name = i < sizeof flag_names / sizeof flag_names[0] ? flag_names[i] : tmp;
    if (name == tmp) snprintf(tmp, sizeof tmp, "bit%u", i);
    int w = snprintf(out + k, n - k, "%s%s", k ? "," : "", name);
    if (w < 0 || (size_t)w >= n - k) break;
    k += (size_t)w;
  }
  if (!k) snprintf(out, n, "-");
}

static void fmt_addr(const struct sc_conn_info *c, const uint8_t *a, char *out, size_t n) {
  if (!inet_ntop(c->family == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)n)) snprintf(out, n, "?");
}

/* JSON string from arbitrary bytes: invalid UTF-8 bytes become U+FFFD. */
static json_t *jstr(const char *p, size_t n) {
  if (!p) return json_null();
  json_t *s = json_stringn(p, n);
  if (s) return s;
  char *o = malloc(n * 3 + 1);
  if (!o) return json_null();
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7f) {
      o[k++] = (char)c;
    } else if (c < 0x80) {
      o[k++] = c ? (char)c : ' ';
    } else {
      o[k++] = (char)0xef;
      o[k++] = (char)0xbf;
      o[k++] = (char)0xbd;
    }
  }
  s = json_stringn(o, k);
  free(o);
  return s ? s : json_null();
}

static char *b64(const uint8_t *p, size_t n) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *o = malloc((n + 2) / 3 * 4 + 1);
  if (!o) return NULL;
  size_t k = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    o[k++] = t[v >> 18];
    o[k++] = t[(v >> 12) & 63];
    o[k++] = t[(v >> 6) & 63];
    o[k++] = t[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    o[k++] = t[v >> 18];
    o[k++] = t[(v >> 12) & 63];
    o[k++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
    o[k++] = '=';
  }
  o[k] = '\0';
  return o;
}

static json_t *json_msg(const struct sc_http_msg *m, int is_req) {
  json_t *o = json_object();
  if (is_req) {
    json_object_set_new(o, "method", jstr(m->method, m->method ? strlen(m->method) : 0));
    json_object_set_new(o, "target", jstr(m->target, m->target ? strlen(m->target) : 0));
  } else {
    json_object_set_new(o, "status", json_integer(m->status));
    json_object_set_new(o, "reason", jstr(m->reason, m->reason ? strlen(m->reason) : 0));
  }
  char ver[16];
  snprintf(ver, sizeof ver, "%u.%u", m->version_major, m->version_minor);
  json_object_set_new(o, "version", json_string(ver));
  json_t *hs = json_array();
  for (size_t i = 0; i < m->n_headers; i++) {
    json_t *h = json_array();
    json_array_append_new(h, jstr(m->headers[i].name, m->headers[i].name_len));
    json_array_append_new(h, jstr(m->headers[i].value, m->headers[i].value_len));
    json_array_append_new(hs, h);
  }
  json_object_set_new(o, "headers", hs);
  json_t *b = m->body_len ? json_stringn((const char *)m->body, m->body_len) : json_string("");
  if (b) {
    json_object_set_new(o, "body", b);
    json_object_set_new(o, "body_encoding", json_string("utf8"));
  } else {
    char *e = b64(m->body, m->body_len);
    json_object_set_new(o, "body", e ? json_string(e) : json_null());
    json_object_set_new(o, "body_encoding", json_string("base64"));
    free(e);
  }
  json_object_set_new(o, "body_len", json_integer((json_int_t)m->body_len));
  json_object_set_new(o, "body_wire_len", json_integer((json_int_t)m->body_wire_len));
  return o;
}

static int print_json(const struct sc_exchange *x) {
  char t[40], ca[INET6_ADDRSTRLEN], sa[INET6_ADDRSTRLEN];
  sc_fmt_time_iso(x->t_req_first, t, sizeof t);
  fmt_addr(&x->conn, x->conn.client_addr, ca, sizeof ca);
  fmt_addr(&x->conn, x->conn.server_addr, sa, sizeof sa);
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer((json_int_t)x->id));
  json_object_set_new(o, "time", json_string(t));
  json_t *c = json_object();
  json_object_set_new(c, "family", json_integer(x->conn.family));
  json_object_set_new(c, "client", json_string(ca));
  json_object_set_new(c, "client_port", json_integer(x->conn.client_port));
  json_object_set_new(c, "server", json_string(sa));
  json_object_set_new(c, "server_port", json_integer(x->conn.server_port));
  json_object_set_new(c, "conn_id", json_integer((json_int_t)x->conn.conn_id));
  json_object_set_new(o, "conn", c);
  json_object_set_new(o, "req", json_msg(&x->req, 1));
  json_object_set_new(o, "resp", json_msg(&x->resp, 0));
  json_t *ts = json_object();
  json_object_set_new(ts, "req_first", json_integer((json_int_t)x->t_req_first));
  json_object_set_new(ts, "req_last", json_integer((json_int_t)x->t_req_last));
  json_object_set_new(ts, "resp_first", json_integer((json_int_t)x->t_resp_first));
  json_object_set_new(ts, "resp_last", json_integer((json_int_t)x->t_resp_last));
  json_object_set_new(o, "ts_ns", ts);
  json_object_set_new(o, "latency_ms", json_real((double)sc_exchange_latency_ns(x) / 1e6));
  json_t *fl = json_array();
  for (unsigned i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
    if (x->flags & (1u << i)) json_array_append_new(fl, json_string(flag_names[i]));
  json_object_set_new(o, "flags", fl);
  json_object_set_new(o, "flags_raw", json_integer(x->flags));
  int rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
  json_decref(o);
  if (!rc) fputc('\n', stdout);
  return rc;
}

static void print_line(const struct sc_exchange *x) {
  char t[40], ca[INET6_ADDRSTRLEN], sa[INET6_ADDRSTRLEN], fl[256];
  sc_fmt_time_iso(x->t_req_first, t, sizeof t);
  fmt_addr(&x->conn, x->conn.client_addr, ca, sizeof ca);
  fmt_addr(&x->conn, x->conn.server_addr, sa, sizeof sa);
  fmt_flags(x->flags, fl, sizeof fl);
  const char *lb = x->conn.family == 6 ? "[" : "", *rb = x->conn.family == 6 ? "]" : "";
  /* Captured text is untrusted: print it without control bytes. */
  char meth[32], tgt[512];
  const char *src[2] = {x->req.method ? x->req.method : "-", x->req.target ? x->req.target : "-"};
  char *dst[2] = {meth, tgt};
  size_t cap[2] = {sizeof meth, sizeof tgt};
  for (int k = 0; k < 2; k++) {
    size_t j = 0;
    for (const char *p = src[k]; *p && j + 1 < cap[k]; p++) dst[k][j++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    dst[k][j] = '\0';
  }
  printf("%s %s%s%s:%u -> %s%s%s:%u %s %s %d req=%zuB resp=%zuB %.3fms %s\n", t, lb, ca, rb, x->conn.client_port, lb,
         sa, rb, x->conn.server_port, meth, tgt, x->resp.status, x->req.body_len, x->resp.body_len,
         (double)sc_exchange_latency_ns(x) / 1e6, fl);
}

static void print_header(const struct sc_tf_reader *r, const char *path, int json, uint64_t n, int complete) {
  const struct sc_tf_header *h = sc_tf_reader_header(r);
  const struct sc_tf_stats *s = sc_tf_reader_stats(r);
  char t[40];
  sc_fmt_time_iso(h->created_ns, t, sizeof t);
  if (json) {
    json_t *o = json_object(), *ho = json_object();
    json_object_set_new(ho, "version", json_integer(h->version));
    json_object_set_new(ho, "created", json_string(t));
    json_object_set_new(ho, "created_ns", json_integer((json_int_t)h->created_ns));
    json_object_set_new(ho, "source_kind", jstr(h->source_kind, h->source_kind ? strlen(h->source_kind) : 0));
    json_object_set_new(ho, "source", jstr(h->source, h->source ? strlen(h->source) : 0));
    json_object_set_new(ho, "filter", jstr(h->filter, h->filter ? strlen(h->filter) : 0));
    json_object_set_new(ho, "host", jstr(h->host, h->host ? strlen(h->host) : 0));
    json_object_set_new(ho, "tool", jstr(h->tool, h->tool ? strlen(h->tool) : 0));
    json_object_set_new(ho, "compression", json_string(sc_tf_reader_compressed(r) ? "zstd" : "none"));
    json_t *ra = json_array();
    for (uint32_t i = 0; i < h->n_redactions; i++)
      json_array_append_new(ra, jstr(h->redactions[i], strlen(h->redactions[i])));
    json_object_set_new(ho, "redactions", ra);
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "header", ho);
    json_object_set_new(o, "exchanges", json_integer((json_int_t)n));
    json_object_set_new(o, "complete", json_boolean(complete));
    if (s) {
      json_t *so = json_object();
#define S(k) json_object_set_new(so, #k, json_integer((json_int_t)s->k))
      S(packets); S(bytes); S(connections); S(exchanges); S(unpaired_requests); S(unpaired_responses);
      S(kernel_drops); S(iface_drops); S(stream_gaps); S(truncated_bodies); S(parse_errors);
      S(non_http_flows); S(ip_fragments); S(mem_evictions); S(idle_evictions); S(first_ts_ns); S(last_ts_ns);
#undef S
      json_object_set_new(o, "stats", so);
    } else {
      json_object_set_new(o, "stats", json_null());
    }
    if (!json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))) fputc('\n', stdout);
    json_decref(o);
    return;
  }
  printf("file:         %s\n", path);
  printf("version:      %u\n", h->version);
  printf("created:      %s\n", t);
  printf("source:       %s %s\n", h->source_kind ? h->source_kind : "-", h->source ? h->source : "-");
  printf("filter:       %s\n", h->filter ? h->filter : "-");
  printf("host:         %s\n", h->host ? h->host : "-");
  printf("tool:         %s\n", h->tool ? h->tool : "-");
  printf("compression:  %s\n", sc_tf_reader_compressed(r) ? "zstd" : "none");
  printf("redactions:  ");
  for (uint32_t i = 0; i < h->n_redactions; i++) printf(" %s", h->redactions[i]);
  printf("%s\n", h->n_redactions ? "" : " none");
  printf("exchanges:    %llu%s\n", (unsigned long long)n, complete ? "" : " (file incomplete)");
  if (!s) {
    printf("trailer:      none\n");
    return;
  }
  char a[40], b[40];
  sc_fmt_time_iso(s->first_ts_ns, a, sizeof a);
  sc_fmt_time_iso(s->last_ts_ns, b, sizeof b);
  printf("window:       %s .. %s\n", a, b);
#define S(k) printf("%-13s %llu\n", #k ":", (unsigned long long)s->k)
  S(packets); S(bytes); S(connections); S(exchanges); S(unpaired_requests); S(unpaired_responses);
  S(kernel_drops); S(iface_drops); S(stream_gaps); S(truncated_bodies); S(parse_errors);
  S(non_http_flows); S(ip_fragments); S(mem_evictions); S(idle_evictions);
#undef S
}

int cmd_inspect(int argc, char **argv) {
  int json = 0, count_only = 0, validate = 0, header = 0, rc = 0, ex = SC_EXIT_OK;
  const char *method = NULL, *grep = NULL;
  unsigned long long status = 0, limit = 0;
  int have_status = 0, have_limit = 0;
  struct sc_optparser op;
  sc_opts_begin(&op, &cmd_inspect_desc, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP: sc_opts_print_help(stdout, &cmd_inspect_desc); sc_opts_end(&op); return SC_EXIT_OK;
    case SC_OPT_ERROR: sc_opts_end(&op); return SC_EXIT_USAGE;
    case OPT_JSON: json = 1; break;
    case OPT_COUNT: count_only = 1; break;
    case OPT_VALIDATE: validate = 1; break;
    case OPT_HEADER: header = 1; break;
    case OPT_METHOD: method = arg; break;
    case OPT_GREP: grep = arg; break;
    case OPT_STATUS:
      if (sc_parse_u64(&cmd_inspect_desc, "status", arg, &status)) { sc_opts_end(&op); return SC_EXIT_USAGE; }
      if (status > 999) {
        sc_opts_usage_error(&cmd_inspect_desc, "invalid value '%s' for --status: expected an HTTP status 0..999", arg);
        sc_opts_end(&op);
        return SC_EXIT_USAGE;
      }
      have_status = 1;
      break;
    case OPT_LIMIT:
      if (sc_parse_u64(&cmd_inspect_desc, "limit", arg, &limit)) { sc_opts_end(&op); return SC_EXIT_USAGE; }
      have_limit = 1;
      break;
    }
  }
  int first = op.optind;
  sc_opts_end(&op);
  if (argc - first != 1) {
    sc_opts_usage_error(&cmd_inspect_desc, "%s", argc - first < 1 ? "missing traffic FILE" : "expected one traffic FILE");
    return SC_EXIT_USAGE;
  }
  if (validate + count_only + header > 1) {
    sc_opts_usage_error(&cmd_inspect_desc, "--validate, --count and --header are mutually exclusive");
    return SC_EXIT_USAGE;
  }
  const char *path = argv[first];
  struct sc_error err;
  sc_error_init(&err);
  struct sc_tf_reader *r = NULL;
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  rc = sc_tf_reader_open(&r, path, &err);
  if (rc) {
    sc_cli_error("inspect", &err);
    if (validate && (rc == SC_ETRUNC || rc == SC_ECORRUPT)) return SC_EXIT_FAIL;
    return rc == SC_ENOMEM ? SC_EXIT_FAIL : SC_EXIT_USAGE; /* unreadable input is an input error */
  }
  uint64_t matched = 0;
  int filtering = !validate && !header;
  while ((rc = sc_tf_reader_next(r, &x, &err)) == 1) {
    if (!filtering) continue;
    if (method && (!x.req.method || strcasecmp(x.req.method, method))) continue;
    if (have_status && (uint64_t)x.resp.status != status) continue;
    if (grep && (!x.req.target || !strstr(x.req.target, grep))) continue;
    matched++;
    if (!count_only) {
      if (json) {
        if (print_json(&x)) {
          sc_error_set(&err, SC_EIO, "cannot write to standard output");
          rc = SC_EIO;
          break;
        }
      } else {
        print_line(&x);
      }
    }
    if (have_limit && matched >= limit) {
      rc = 0;
      break;
    }
  }
  sc_exchange_release(&x);
  if (count_only && rc >= 0) printf("%llu\n", (unsigned long long)matched);
  if (header) print_header(r, path, json, sc_tf_reader_count(r), rc == 0);
  if (validate && rc == 0)
    printf("%llu exchanges read; %s is valid\n", (unsigned long long)sc_tf_reader_count(r), path);
  if (fflush(stdout) != 0 && rc >= 0) {
    sc_error_set(&err, SC_EIO, "cannot write to standard output");
    rc = SC_EIO;
  }
  if (rc < 0) {
    if (count_only) printf("%llu\n", (unsigned long long)matched);
    fflush(stdout);
    sc_cli_error("inspect", &err);
    if (validate) ex = rc == SC_ETRUNC || rc == SC_ECORRUPT ? SC_EXIT_FAIL : sc_cli_exit_for(rc);
    else ex = sc_cli_exit_for(rc);
  }
  sc_tf_reader_close(r);
  return ex;
}
