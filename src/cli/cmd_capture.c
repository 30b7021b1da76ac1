/*
 * cmd_capture.c - `shadowctl capture`: records HTTP/1.1 exchanges from a
 * pcap/pcapng file or a live interface into a traffic file. Stage: cli (over
 * capture and traffic). Reference: schemas/traffic.md; ../shared/DESIGN.md
 * (safety rules: -Z privilege drop, 0600 files, default redactions).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/pcap_src.h"
#include "cli/cli.h"
#include "traffic/redact.h"
#include "traffic/traffic.h"
#include "util/clock.h"
#include "util/limits.h"
#include "util/log.h"

enum {
  OPT_READ = 1, OPT_IFACE, OPT_FILTER, OPT_PORT, OPT_DURATION, OPT_MAX_EX, OPT_SAMPLE, OPT_OUT,
  OPT_NO_COMPRESS, OPT_MAX_BODY, OPT_KEEP_HDR, OPT_REDACT_HDR, OPT_REDACT_JSON, OPT_USER,
  OPT_STATS_JSON, OPT_BUFSIZE, OPT_IDLE, OPT_STREAM_CAP, OPT_MEM_CAP,
};

static const struct sc_opt opts[] = {
  {OPT_READ, "read", 'r', SC_ARG_REQUIRED, "FILE",
   "Read packets from a pcap or pcapng file ('-' for standard input). Link types: Ethernet (with "
   "802.1Q/802.1ad/QinQ tags), Linux cooked SLL and SLL2, raw IP, BSD loopback (NULL/LOOP)."},
  {OPT_IFACE, "interface", 'i', SC_ARG_REQUIRED, "IFACE",
   "Capture live on IFACE (snaplen 262144, immediate mode). Needs root or CAP_NET_RAW."},
  {OPT_FILTER, "filter", 'f', SC_ARG_REQUIRED, "BPF", "Only packets matching the BPF expression (pcap-filter(7))."},
  {OPT_PORT, "port", 'p', SC_ARG_REQUIRED, "N",
   "Shorthand for the filter 'tcp port N' (combined with -f by 'and'); also tells which side is the server."},
  {OPT_DURATION, "duration", 'd', SC_ARG_REQUIRED, "TIME",
   "Stop after TIME (10s, 5m, 1h): wall time for -i, capture time for -r."},
  {OPT_MAX_EX, "max-exchanges", 'n', SC_ARG_REQUIRED, "N", "Stop after writing N exchanges."},
  {OPT_SAMPLE, "sample", 0, SC_ARG_REQUIRED, "P%",
   "Keep P% of the connections, chosen by a hash of the connection's addresses and ports (xxhash), so "
   "the same connection is always kept or always dropped."},
  {OPT_OUT, "output", 'o', SC_ARG_REQUIRED, "FILE",
   "Write the traffic file to FILE (mode 0600), or '-' for standard output. Required."},
  {OPT_NO_COMPRESS, "no-compress", 0, SC_ARG_NONE, NULL, "Write the traffic file without zstd compression."},
  {OPT_MAX_BODY, "max-body", 0, SC_ARG_REQUIRED, "SIZE",
   "Keep at most SIZE bytes of each body (default 1M, at most 256M); longer bodies are cut and flagged."},
  {OPT_KEEP_HDR, "keep-header", 0, SC_ARG_REQUIRED, "NAME",
   "Do not redact header NAME (default redacted: Authorization, Proxy-Authorization, Cookie, Set-Cookie, "
   "X-Api-Key). Repeatable."},
  {OPT_REDACT_HDR, "redact-header", 0, SC_ARG_REQUIRED, "NAME", "Also redact header NAME. Repeatable."},
  {OPT_REDACT_JSON, "redact-json", 0, SC_ARG_REQUIRED, "PATH",
   "Blank the JSON body field PATH (e.g. $.card.number, $..password) in requests and responses. Repeatable."},
  {OPT_USER, "user", 'Z', SC_ARG_REQUIRED, "USER",
   "Drop privileges to USER right after opening the interface (default 'nobody' when started as root "
   "with -i). The output file is opened before, so it may live in a directory USER cannot write."},
  {OPT_STATS_JSON, "stats-json", 0, SC_ARG_REQUIRED, "FILE", "Also write the final statistics as JSON to FILE."},
  {OPT_BUFSIZE, "buffer-size", 'B', SC_ARG_REQUIRED, "SIZE", "Kernel capture buffer size for -i (default 64M; libpcap's own 2M drops packets at a few thousand exchanges/s)."},
  {OPT_IDLE, "idle-timeout", 0, SC_ARG_REQUIRED, "TIME",
   "Evict connections idle for TIME (default 120s); their waiting requests are written as response-missing."},
  {OPT_STREAM_CAP, "stream-buffer", 0, SC_ARG_REQUIRED, "SIZE",
   "Out-of-order bytes kept per connection direction before giving up a hole (default 8M)."},
  {OPT_MEM_CAP, "reasm-memory", 0, SC_ARG_REQUIRED, "SIZE",
   "Out-of-order bytes kept in total (default 512M)."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_capture_desc = {
  .name = "capture",
  .synopsis = "(-r FILE | -i IFACE) [-f BPF] [--port N] [options] -o OUT",
  .summary = "record HTTP/1.1 request/response pairs from a pcap file or an interface",
  .description =
      "Reassembles every TCP connection (out-of-order segments, retransmissions, overlaps with first-seen-"
      "wins, connections picked up mid-stream), parses HTTP/1.1 in both directions (keep-alive, pipelining, "
      "chunked, Content-Length, close-delimited, HEAD, 1xx, 204/304, 100-continue) and pairs each response "
      "with its request. Each exchange is redacted and written to the traffic file. Non-HTTP connections are "
      "counted and skipped. SIGINT or SIGTERM stops reading, writes every complete exchange, closes the file "
      "validly and prints the statistics.",
  .opts = opts,
  .epilogue =
      "Exit status:\n"
      "  0  the capture completed\n"
      "  1  the job failed (write error, out of memory)\n"
      "  2  usage error, or bad input (missing, empty, non-pcap or truncated file, unsupported link type);\n"
      "     a truncated file still has every exchange before the cut written\n"
      "\n"
      "Examples:\n"
      "  shadowctl capture -r prod.pcap -o prod.shdw\n"
      "  sudo shadowctl capture -i eth0 --port 8080 --duration 10m -o prod.shdw\n"
      "  shadowctl capture -r x.pcap --redact-json '$.card.number' -o - | shadowctl inspect -\n",
};

static volatile sig_atomic_t g_stop;
static struct sc_capture *g_cap;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
  sc_capture_break(g_cap);
}

struct out_ctx {
  struct sc_tf_writer *w;
  const struct sc_redact_cfg *redact;
  uint64_t since_flush;
};

static int write_exchange(void *ud, struct sc_exchange *x, struct sc_error *err) {
  struct out_ctx *o = ud;
  int rc = sc_redact_exchange(o->redact, x, err);
  if (!rc) rc = sc_tf_writer_append(o->w, x, err);
  sc_exchange_release(x);
  if (!rc && ++o->since_flush >= 4096) {
    o->since_flush = 0;
    rc = sc_tf_writer_flush(o->w, err);
  }
  return rc;
}

struct progress_ctx {
  double t0;       /* monotonic start */
  double size;     /* -r regular file: its size in bytes, else 0 */
  double duration; /* --duration, 0 none */
};

/* The live line: counts, exchanges/s so far, and for a file or a --duration
 * how far along it is with an ETA. A file's position is estimated from the
 * bytes of the packets read plus their 16-byte record headers (pcap; pcapng
 * blocks are a little larger, so the estimate runs slightly behind). */
static void progress(void *ud, const struct sc_capture_stats *st) {
  const struct progress_ctx *pc = ud;
  double el = sc_clock_mono_s() - pc->t0;
  double rate = el > 0 ? (double)st->tf.exchanges / el : 0;
  double frac = -1;
  if (pc->size > 0) frac = ((double)st->tf.bytes + 16.0 * (double)st->tf.packets) / pc->size;
  else if (pc->duration > 0) frac = el / pc->duration;
  char eta[48] = "";
  if (frac > 0.001) {
    if (frac > 0.999) frac = 0.999;
    char d[24];
    sc_fmt_duration(el / frac - el, d, sizeof d);
    snprintf(eta, sizeof eta, " | %.0f%% ETA %s", frac * 100, d);
  }
  sc_status_line("capture: %llu packets, %llu connections, %llu exchanges (%.0f/s), %llu drops%s",
                 (unsigned long long)st->tf.packets, (unsigned long long)st->tf.connections,
                 (unsigned long long)st->tf.exchanges, rate, (unsigned long long)st->tf.kernel_drops, eta);
}

#define STATS_FIELDS(X)                                                                         \
  X(packets, tf.packets) X(bytes, tf.bytes) X(connections, tf.connections)                      \
  X(exchanges, tf.exchanges) X(unpaired_requests, tf.unpaired_requests)                         \
  X(unpaired_responses, tf.unpaired_responses) X(kernel_drops, tf.kernel_drops)                 \
  X(iface_drops, tf.iface_drops) X(stream_gaps, tf.stream_gaps) X(gap_bytes, gap_bytes)         \
  X(truncated_bodies, tf.truncated_bodies) X(parse_errors, tf.parse_errors)                     \
  X(non_http_flows, tf.non_http_flows) X(ip_fragments, tf.ip_fragments)                         \
  X(mem_evictions, tf.mem_evictions) X(idle_evictions, tf.idle_evictions)                       \
  X(not_ip, not_ip) X(not_tcp, not_tcp) X(truncated_packets, truncated_packets)                 \
  X(invalid_packets, invalid_packets) X(retransmits, retransmits) X(overlaps, overlaps)         \
  X(out_of_order_segments, ooo_segments) X(midstream_connections, midstream) X(resets, rst)     \
  X(interim_responses, interim) X(dropped_messages, dropped_messages) X(resyncs, resyncs)       \
  X(upgraded, upgraded) X(sampled_out_connections, sampled_out)                                 \
  X(reasm_bytes_peak, ooo_bytes_peak) X(first_ts_ns, tf.first_ts_ns) X(last_ts_ns, tf.last_ts_ns)

/* f was opened before privileges were dropped; closed here. */
static int write_stats_json(FILE *f, const char *path, const struct sc_capture_stats *st,
                            struct sc_error *err) {
  fputs("{", f);
  const char *sep = "";
#define X(name, field)                                                       \
  fprintf(f, "%s\"" #name "\": %llu", sep, (unsigned long long)st->field); \
  sep = ", ";
  STATS_FIELDS(X)
#undef X
  fputs("}\n", f);
  if (fclose(f) != 0) return sc_error_set(err, SC_EIO, "cannot write stats file '%s'", path);
  return 0;
}

static void print_summary(const struct sc_capture_stats *st, const char *out) {
  if (sc_log_get_level() < SC_LOG_INFO) return;
  sc_status_clear();
  fprintf(stderr,
          "capture: %llu packets, %llu connections, %llu exchanges written to %s\n"
          "  unpaired: %llu requests (response missing), %llu responses; drops: %llu kernel, %llu interface\n"
          "  parse errors %llu, stream gaps %llu, truncated bodies %llu, non-HTTP flows %llu, "
          "IP fragments %llu, evictions %llu idle / %llu memory\n",
          (unsigned long long)st->tf.packets, (unsigned long long)st->tf.connections,
          (unsigned long long)st->tf.exchanges, out,
          (unsigned long long)st->tf.unpaired_requests, (unsigned long long)st->tf.unpaired_responses,
          (unsigned long long)st->tf.kernel_drops, (unsigned long long)st->tf.iface_drops,
          (unsigned long long)st->tf.parse_errors, (unsigned long long)st->tf.stream_gaps,
          (unsigned long long)st->tf.truncated_bodies, (unsigned long long)st->tf.non_http_flows,
          (unsigned long long)st->tf.ip_fragments, (unsigned long long)st->tf.idle_evictions,
          (unsigned long long)st->tf.mem_evictions);
}

int cmd_capture(int argc, char **argv) {
  struct sc_capture_cfg cfg = {.sample_pct = 100, .max_body = SC_DEFAULT_MAX_BODY, .buffer_size = SC_DEFAULT_CAPTURE_BUFFER};
  const char *out = NULL, *user = NULL, *stats_json = NULL;
  int compress = 1, rc = 0, exit_code = SC_EXIT_OK, redact_init = 0;
  struct sc_error err;
  struct sc_redact_cfg redact;
  struct sc_tf_writer *w = NULL;
  struct sc_capture *cap = NULL;
  char **descr = NULL;
  uint32_t n_descr = 0;
  char host[256] = "";
  FILE *stats_f = NULL;
  sc_error_init(&err);
  memset(&redact, 0, sizeof redact);

  rc = sc_redact_cfg_init(&redact, &err);
  if (rc) return sc_cli_error("capture", &err);
  redact_init = 1;

  struct sc_optparser op;
  sc_opts_begin(&op, &cmd_capture_desc, argc, argv);
  int id;
  const char *arg;
  unsigned long long u;
  double d;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP:
      sc_opts_end(&op);
      sc_redact_cfg_release(&redact);
      sc_opts_print_help(stdout, &cmd_capture_desc);
      return SC_EXIT_OK;
    case SC_OPT_ERROR: exit_code = SC_EXIT_USAGE; goto out;
    case OPT_READ: cfg.file = arg; break;
    case OPT_IFACE: cfg.iface = arg; break;
    case OPT_FILTER: cfg.filter = arg; break;
    case OPT_PORT:
      if (sc_parse_u64(&cmd_capture_desc, "--port", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      if (u == 0 || u > 65535) {
        sc_opts_usage_error(&cmd_capture_desc, "--port: '%s' is not a TCP port (1-65535)", arg);
        exit_code = SC_EXIT_USAGE;
        goto out;
      }
      cfg.port = (uint16_t)u;
      break;
    case OPT_DURATION:
      if (sc_parse_duration(&cmd_capture_desc, "--duration", arg, &cfg.duration_s)) { exit_code = SC_EXIT_USAGE; goto out; }
      break;
    case OPT_MAX_EX:
      if (sc_parse_u64(&cmd_capture_desc, "--max-exchanges", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      cfg.max_exchanges = u;
      break;
    case OPT_SAMPLE:
      if (sc_parse_percent(&cmd_capture_desc, "--sample", arg, &cfg.sample_pct)) { exit_code = SC_EXIT_USAGE; goto out; }
      break;
    case OPT_OUT: out = arg; break;
    case OPT_NO_COMPRESS: compress = 0; break;
    case OPT_MAX_BODY:
      if (sc_parse_size(&cmd_capture_desc, "--max-body", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      if (u == 0 || u > SC_MAX_BODY_LIMIT) {
        sc_opts_usage_error(&cmd_capture_desc, "--max-body: '%s' must be between 1 and 256M", arg);
        exit_code = SC_EXIT_USAGE;
        goto out;
      }
      cfg.max_body = (size_t)u;
      break;
    case OPT_KEEP_HDR: sc_redact_cfg_keep_header(&redact, arg); break;
    case OPT_REDACT_HDR:
      rc = sc_redact_cfg_add_header(&redact, arg, &err);
      if (rc) goto fail;
      break;
    case OPT_REDACT_JSON:
      rc = sc_redact_cfg_add_json_path(&redact, arg, &err);
      if (rc) goto fail;
      break;
    case OPT_USER: user = arg; break;
    case OPT_STATS_JSON: stats_json = arg; break;
    case OPT_BUFSIZE:
      if (sc_parse_size(&cmd_capture_desc, "--buffer-size", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      if (u > (1ull << 31)) u = 1ull << 31;
      cfg.buffer_size = (int)u;
      break;
    case OPT_IDLE:
      if (sc_parse_duration(&cmd_capture_desc, "--idle-timeout", arg, &d)) { exit_code = SC_EXIT_USAGE; goto out; }
      cfg.idle_timeout_s = d > 0 ? d : -1;
      break;
    case OPT_STREAM_CAP:
      if (sc_parse_size(&cmd_capture_desc, "--stream-buffer", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      cfg.stream_cap = (size_t)u;
      break;
    case OPT_MEM_CAP:
      if (sc_parse_size(&cmd_capture_desc, "--reasm-memory", arg, &u)) { exit_code = SC_EXIT_USAGE; goto out; }
      cfg.mem_cap = u;
      break;
    }
  }
  if (op.optind < argc) {
    sc_opts_usage_error(&cmd_capture_desc, "unexpected argument '%s'", argv[op.optind]);
    exit_code = SC_EXIT_USAGE;
    goto out;
  }
  if (!cfg.file == !cfg.iface) {
    sc_opts_usage_error(&cmd_capture_desc, "exactly one of -r FILE or -i IFACE is required");
    exit_code = SC_EXIT_USAGE;
    goto out;
  }
  if (!out) {
    sc_opts_usage_error(&cmd_capture_desc, "-o FILE (or -o -) is required");
    exit_code = SC_EXIT_USAGE;
    goto out;
  }
  if (cfg.iface && !user && geteuid() == 0) user = "nobody";

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  cfg.stop = &g_stop;
  struct progress_ctx pctx = {sc_clock_mono_s(), 0, cfg.duration_s};
  struct stat fst;
  if (cfg.file && strcmp(cfg.file, "-") && !stat(cfg.file, &fst) && S_ISREG(fst.st_mode)) pctx.size = (double)fst.st_size;
  if (sc_status_is_tty() || cfg.iface) {
    cfg.progress = progress;
    cfg.progress_ud = &pctx;
    sc_status_set_plain_interval(cfg.iface ? 10 : 0);
  }

  struct out_ctx octx = {NULL, &redact, 0};
  struct sc_capture_sink sink = {write_exchange, &octx};
  rc = sc_capture_open(&cap, &cfg, &sink, &err);
  if (rc) goto fail;
  g_cap = cap;

  rc = sc_redact_cfg_describe(&redact, &descr, &n_descr, &err);
  if (rc) goto fail;
  gethostname(host, sizeof host - 1);
  char tool[64];
  snprintf(tool, sizeof tool, "shadowctl %s", SHADOWCTL_VERSION);
  struct sc_tf_header h = {
    .version = SC_TF_VERSION,
    .created_ns = sc_clock_real_ns(),
    .source_kind = cfg.file ? "file" : "iface",
    .source = (char *)(cfg.file ? cfg.file : cfg.iface),
    .filter = sc_capture_filter(cap)[0] ? (char *)sc_capture_filter(cap) : NULL,
    .host = host,
    .redactions = descr,
    .n_redactions = n_descr,
    .tool = tool,
  };
  /* The output is opened before privileges are dropped. */
  rc = sc_tf_writer_open(&w, out, &h, compress, &err);
  if (rc) goto fail;
  octx.w = w;
  if (stats_json) {
    stats_f = fopen(stats_json, "w");
    if (!stats_f) {
      rc = sc_error_set(&err, SC_EIO, "cannot write stats file '%s': %s", stats_json, strerror(errno));
      goto fail;
    }
  }
  if (user) {
    rc = sc_capture_drop_privileges(user, &err);
    if (rc) goto fail;
  }

  int lrc = sc_capture_loop(cap, &err);
  struct sc_capture_stats st;
  sc_capture_get_stats(cap, &st);
  struct sc_error cerr;
  sc_error_init(&cerr);
  int crc = sc_tf_writer_close(w, &st.tf, &cerr);
  w = NULL;
  print_summary(&st, strcmp(out, "-") ? out : "standard output");
  if (stats_json) {
    struct sc_error serr;
    sc_error_init(&serr);
    int src = write_stats_json(stats_f, stats_json, &st, &serr);
    stats_f = NULL;
    if (src) {
      if (!lrc && !crc) {
        err = serr;
        rc = serr.code;
        goto fail;
      }
    }
  }
  if (lrc) {
    rc = lrc;
    goto fail;
  }
  if (crc) {
    err = cerr;
    rc = crc;
    goto fail;
  }
  goto out;
fail:
  exit_code = sc_cli_error("capture", &err);
out:
  g_cap = NULL;
  sc_opts_end(&op);
  if (stats_f) fclose(stats_f);
  if (w) {
    struct sc_error e2;
    if (sc_tf_writer_close(w, NULL, &e2)) { /* already failing: keep the first error */ }
  }
  sc_capture_close(cap);
  if (descr) {
    for (uint32_t i = 0; i < n_descr; i++) free(descr[i]);
    free(descr);
  }
  if (redact_init) sc_redact_cfg_release(&redact);
  return exit_code;
}
