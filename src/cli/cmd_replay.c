/*
 * cmd_replay.c - `shadowctl replay`: options -> struct sc_replay_cfg, the
 * traffic file as the engine's source, the summary. Stage: cli.
 * Reference: replay/replay.h, schemas/results.sql.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "cli/cli.h"
#include "replay/replay.h"
#include "store/db.h"
#include "traffic/traffic.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"

enum {
  OPT_CURRENT = 1, OPT_CANDIDATE, OPT_SECONDARY, OPT_DB, OPT_CONFIG, OPT_SHADOW, OPT_CANARY, OPT_STEPS,
  OPT_STEP_DURATION, OPT_STEP_EXCHANGES, OPT_KEY, OPT_SEED, OPT_SPEED, OPT_RATE, OPT_MAX, OPT_CONCURRENCY,
  OPT_POOL, OPT_TIMEOUT, OPT_DURATION, OPT_LIMIT, OPT_LOOP, OPT_KEEP_HOST, OPT_HEADER, OPT_SHADOW_HEADER,
  OPT_NO_SHADOW_HEADER, OPT_METHODS, OPT_BODY_CAP, OPT_NO_PROGRESS, OPT_NO_ANALYZE, OPT_SET,
};

static const struct sc_opt opts[] = {
  {OPT_CURRENT, "current", 0, SC_ARG_REQUIRED, "URL", "Endpoint of the current version (http://HOST:PORT[/PREFIX]); required."},
  {OPT_CANDIDATE, "candidate", 0, SC_ARG_REQUIRED, "URL", "Endpoint of the candidate version. Without it the replay targets current only (baseline or load test)."},
  {OPT_SECONDARY, "secondary", 0, SC_ARG_REQUIRED, "URL", "A second copy of the current version, sent what current receives, so analysis can tell noise from regressions."},
  {OPT_DB, "db", 0, SC_ARG_REQUIRED, "FILE", "Results database (created mode 0600 if missing). Default: results.db."},
  {OPT_CONFIG, "config", 0, SC_ARG_REQUIRED, "FILE", "shadow.yaml: the request key and what the comparison means; command-line flags override it."},
  {OPT_SHADOW, "shadow", 0, SC_ARG_OPTIONAL, "P%", "Mirror mode: every request goes to current, and P% of them (default 100%) also to the candidate (--shadow 20% or --shadow=20%). The default when --candidate is given."},
  {OPT_CANARY, "canary", 0, SC_ARG_REQUIRED, "P%", "Split mode: each request goes to exactly one side, the candidate taking P%, chosen by the request key's hash."},
  {OPT_STEPS, "steps", 0, SC_ARG_REQUIRED, "LIST", "Progressive canary: candidate percentages per step (e.g. 1,5,25,50); each step lasts --step-duration or --step-exchanges and is evaluated against the acceptance criteria; the first breach stops the run (status aborted, exit 1)."},
  {OPT_STEP_DURATION, "step-duration", 0, SC_ARG_REQUIRED, "D", "Length of one progressive step (e.g. 30s)."},
  {OPT_STEP_EXCHANGES, "step-exchanges", 0, SC_ARG_REQUIRED, "N", "Length of one progressive step in exchanges."},
  {OPT_KEY, "key", 0, SC_ARG_REQUIRED, "RULE", "Request key: 'default' (method, target and body), '$.json.path' in the request body, or 'header:Name'. The split hash is XXH64(key, seed); a missing field falls back to the default key."},
  {OPT_SEED, "seed", 0, SC_ARG_REQUIRED, "N", "Seed of the split hash (default 0): same seed, same split."},
  {OPT_SPEED, "speed", 0, SC_ARG_REQUIRED, "F", "Recorded pacing (the default) scaled: 2x sends twice as fast."},
  {OPT_RATE, "rate", 0, SC_ARG_REQUIRED, "N/s", "Open-loop fixed rate; latency is measured from each request's intended send time (no coordinated omission)."},
  {OPT_MAX, "max", 0, SC_ARG_NONE, NULL, "As fast as possible, with at most --concurrency requests in flight."},
  {OPT_CONCURRENCY, "concurrency", 'c', SC_ARG_REQUIRED, "N", "In-flight budget per target (default 64). A request past a target's budget is shed and counted."},
  {OPT_POOL, "pool-size", 0, SC_ARG_REQUIRED, "N", "Maximum connections per target (default: the concurrency)."},
  {OPT_TIMEOUT, "timeout", 0, SC_ARG_REQUIRED, "D", "Per request: connect, write and complete response (default 10s). Also bounds the drain after a signal."},
  {OPT_DURATION, "duration", 0, SC_ARG_REQUIRED, "D", "Stop sending after D."},
  {OPT_LIMIT, "limit", 'n', SC_ARG_REQUIRED, "N", "Send at most N exchanges."},
  {OPT_LOOP, "loop", 0, SC_ARG_NONE, NULL, "Start the traffic file again at its end (until --duration, --limit or a signal)."},
  {OPT_KEEP_HOST, "keep-host", 0, SC_ARG_NONE, NULL, "Keep the recorded Host header instead of the target's."},
  {OPT_HEADER, "header", 'H', SC_ARG_REQUIRED, "'K: V'", "Add or override a request header (repeatable)."},
  {OPT_SHADOW_HEADER, "shadow-header", 0, SC_ARG_REQUIRED, "NAME", "Name of the header marking replayed requests (default X-Shadow-Request, value 1)."},
  {OPT_NO_SHADOW_HEADER, "no-shadow-header", 0, SC_ARG_NONE, NULL, "Do not mark replayed requests."},
  {OPT_METHODS, "methods", 0, SC_ARG_REQUIRED, "LIST", "Replay only these methods (e.g. POST,PUT)."},
  {OPT_BODY_CAP, "body-cap", 0, SC_ARG_REQUIRED, "SIZE", "Response bytes stored per answer (default 1M); longer bodies are hashed in full and flagged truncated. Responses over 64M are cut and recorded as too_large."},
  {OPT_SET, "set", 0, SC_ARG_REQUIRED, "KEY=VALUE", SC_CLI_SET_HELP},
  {OPT_NO_ANALYZE, "no-analyze", 0, SC_ARG_NONE, NULL, "Do not analyse the run when it ends (by default the analysis runs, as 'shadowctl analyze' would, so report and gate read it at once)."},
  {OPT_NO_PROGRESS, "no-progress", 0, SC_ARG_NONE, NULL, "No status line (a live line on a terminal, a plain line every 10 s otherwise)."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_replay_desc = {
  .name = "replay",
  .synopsis = "TRAFFIC --current URL [--candidate URL] [--secondary URL] [--db FILE] [--shadow [P%] | --canary P% | --steps LIST] [options]",
  .summary = "send recorded traffic to current and candidate; record every answer",
  .description =
      "Replays the exchanges of the traffic file TRAFFIC against --current and, by the traffic policy, "
      "--candidate (and --secondary), and records every answer (status, latency, time to first byte, "
      "error kind, body up to the cap and its hash) into the results database as one run. Requests go out "
      "as recorded (HTTP/1.1, keep-alive, chunked bodies re-sent with Content-Length) with Host rewritten "
      "to the target and the X-Shadow-Request: 1 header. Only the URLs given are ever contacted; redirects "
      "are never followed (a 3xx is recorded as is). Only http:// is supported (TLS is not supported yet). "
      "Error kinds: refused, reset, timeout, connect, malformed, too_large, closed, other.",
  .opts = opts,
  .epilogue =
      "Exit status: 0 the run completed, even if targets answered with errors or were unreachable "
      "(those are recorded; the gate judges them); 1 the run was interrupted by SIGINT/SIGTERM (in-flight "
      "requests are waited for up to --timeout, everything is committed and the run is marked "
      "interrupted; a second signal cancels what is in flight), a canary step breached the criteria "
      "(run aborted), the traffic file is corrupt or truncated (every good exchange before the damage is "
      "replayed and the run records where the file stopped), or the job failed (e.g. disk full: the "
      "database stays valid); 2 usage or input error (bad flag, malformed or https URL, missing traffic "
      "file, unwritable database).\n"
      "A replay killed with SIGKILL leaves its run 'running'; the next replay or 'shadowctl runs' shows it "
      "as interrupted, with every committed exchange (batches commit every 100 ms).",
};

/* ---- traffic file as the engine's source ---- */

struct tf_src {
  const char *path;
  struct sc_tf_reader *r;
};

static int tf_next(void *ctx, struct sc_exchange *x, struct sc_error *err) {
  struct tf_src *s = ctx;
  return sc_tf_reader_next(s->r, x, err);
}

/* Opens (or reopens, for --loop) the file. Replay sends requests: of the
 * recorded answer the status is enough, its payload is not decoded. */
static int tf_open(struct tf_src *s, struct sc_error *err) {
  int rc = sc_tf_reader_open(&s->r, s->path, err);
  if (!rc) sc_tf_reader_skip_response_payload(s->r, 1);
  return rc;
}

static int tf_rewind(void *ctx, struct sc_error *err) {
  struct tf_src *s = ctx;
  sc_tf_reader_close(s->r);
  s->r = NULL;
  return tf_open(s, err);
}

static double tf_progress(void *ctx) {
  struct tf_src *s = ctx;
  return s->r ? sc_tf_reader_progress(s->r) : -1;
}

static int tf_stats(void *ctx, int64_t out[7]) {
  struct tf_src *s = ctx;
  const struct sc_tf_stats *st = s->r ? sc_tf_reader_stats(s->r) : NULL;
  if (!st) return 0;
  out[0] = (int64_t)st->exchanges;
  out[1] = (int64_t)st->kernel_drops;
  out[2] = (int64_t)st->stream_gaps;
  out[3] = (int64_t)st->truncated_bodies;
  out[4] = (int64_t)(st->unpaired_requests + st->unpaired_responses);
  out[5] = (int64_t)st->first_ts_ns;
  out[6] = (int64_t)st->last_ts_ns;
  return 1;
}

/* "1,5,25,50" -> fractions. */
static int parse_steps(const char *s, double **out, int *n) {
  *out = NULL;
  *n = 0;
  double *v = NULL;
  int cnt = 0;
  const char *p = s;
  while (*p) {
    char *end = NULL;
    double d = strtod(p, &end);
    if (end == p || !(d > 0 && d <= 100)) goto bad;
    p = end;
    if (*p == '%') p++;
    if (*p == ',') p++;
    else if (*p) goto bad;
    double *nv = realloc(v, (size_t)(cnt + 1) * sizeof *v);
    if (!nv) goto bad;
    v = nv;
    v[cnt++] = d / 100.0;
    if (cnt > 64) goto bad;
  }
  if (!cnt) goto bad;
  *out = v;
  *n = cnt;
  return 0;
bad:
  free(v);
  return -1;
}

static char *join_argv(int argc, char **argv) {
  struct sc_buf b;
  sc_buf_init(&b, 1u << 16);
  for (int i = 0; i < argc; i++)
    if (sc_buf_printf(&b, "%s%s", i ? " " : "shadowctl ", argv[i])) break;
  size_t n;
  return sc_buf_take(&b, &n);
}

static void print_summary(const struct sc_replay_cfg *cfg, const struct sc_replay_summary *s) {
  if (sc_log_get_level() < SC_LOG_INFO) return;
  static const char *names[SC_T_COUNT] = {"current", "candidate", "secondary"};
  fprintf(stderr, "run %lld %s: %llu exchanges in %.2fs (%llu read, %llu filtered)\n", (long long)s->run_id,
          s->status, (unsigned long long)s->exchanges, s->elapsed_s, (unsigned long long)s->read,
          (unsigned long long)s->filtered);
  for (int i = 0; i < SC_T_COUNT; i++) {
    const struct sc_replay_target_summary *t = &s->t[i];
    if (!t->used) continue;
    fprintf(stderr, "  %-9s sent %llu ok %llu errors %llu", names[i], (unsigned long long)t->sent,
            (unsigned long long)t->ok, (unsigned long long)t->errors_total);
    if (t->errors_total) {
      fputs(" (", stderr);
      int first = 1;
      for (int k = 1; k < SC_RE_COUNT; k++)
        if (t->errors[k]) {
          fprintf(stderr, "%s%s %llu", first ? "" : ", ", sc_replay_errkind_name(k), (unsigned long long)t->errors[k]);
          first = 0;
        }
      fputc(')', stderr);
    }
    fprintf(stderr, " shed %llu p50 %.2fms p99 %.2fms conns %llu", (unsigned long long)t->shed, t->p50_us / 1e3,
            t->p99_us / 1e3, (unsigned long long)t->conns);
    if (i != SC_T_CURRENT && cfg->mode == SC_MODE_SHADOW) fprintf(stderr, " max-skew %.2fms", t->max_skew_us / 1e3);
    fputc('\n', stderr);
  }
  if (s->aborted_step >= 0) fprintf(stderr, "  aborted at step %d\n", s->aborted_step + 1);
}

/* Progressive canary hook: the gate evaluates one step. */
#include "gate/gate.h"
struct step_ctx {
  const struct sc_config *conf;
};

/* Evaluates the acceptance criteria of the config (shadow.yaml, or the
 * defaults) on the exchanges of one step: 0 pass, 1 breach, 3 inconclusive
 * (the ramp goes on), negative on error (the engine treats it as
 * inconclusive). Breached criteria are logged. */
static int step_hook(void *ctx, sqlite3 *db, int64_t run_id, int step) {
  struct step_ctx *sc = ctx;
  struct sc_gate_result r;
  struct sc_error e;
  sc_error_init(&e);
  int rc = sc_gate_eval(db, run_id, step, sc->conf, &r, &e);
  if (rc) {
    sc_log_warn("step %d: cannot evaluate the criteria: %s", step + 1, e.msg);
    sc_gate_result_release(&r);
    return rc;
  }
  int v = sc_gate_exit_status(r.verdict);
  if (v == 1) {
    char names[512];
    sc_gate_breached_names(&r, names, sizeof names);
    sc_log_warn("step %d breached: %s", step + 1, names);
  }
  sc_gate_result_release(&r);
  return v;
}

int cmd_replay(int argc, char **argv) {
  const struct sc_cmd_desc *d = &cmd_replay_desc;
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  struct sc_config conf;
  int conf_init = 0;
  const char *db_path = "results.db", *config_path = NULL, *key = NULL;
  struct sc_cli_sets sets = {{0}, 0};
  const char **headers = NULL;
  size_t n_headers = 0;
  double *steps = NULL;
  int n_steps = 0;
  int shadow = 0, canary = 0, pace_set = 0, progress = 1, analyze = 1;
  char *argv_s = NULL, *config_json = NULL;
  sqlite3 *db = NULL;
  struct tf_src src = {0};
  struct sc_error err;
  sc_error_init(&err);
  int ret = SC_EXIT_USAGE;
  unsigned long long u;
  double dv;

  struct sc_optparser op;
  sc_opts_begin(&op, d, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP:
      sc_opts_print_help(stdout, d);
      ret = SC_EXIT_OK;
      goto out;
    case SC_OPT_ERROR: goto out;
    case OPT_CURRENT: cfg.url[SC_T_CURRENT] = arg; break;
    case OPT_CANDIDATE: cfg.url[SC_T_CANDIDATE] = arg; break;
    case OPT_SECONDARY: cfg.url[SC_T_SECONDARY] = arg; break;
    case OPT_DB: db_path = arg; break;
    case OPT_CONFIG: config_path = arg; break;
    case OPT_SET:
      if (sc_cli_sets_add(&sets, d, arg)) goto out;
      break;
    case OPT_SHADOW:
      shadow = 1;
      cfg.fraction = 1.0;
      /* "--shadow 20%" as well as "--shadow=20%": a following word ending in
       * '%' is the optional argument (getopt only sees the '=' form). */
      if (!arg && optind < argc && argv[optind][0] != '-' && strlen(argv[optind]) > 1 &&
          argv[optind][strlen(argv[optind]) - 1] == '%') {
        arg = argv[optind];
        optind++;
      }
      if (arg) {
        if (sc_parse_percent(d, "shadow", arg, &dv)) goto out;
        cfg.fraction = dv / 100.0;
      }
      break;
    case OPT_CANARY:
      canary = 1;
      if (sc_parse_percent(d, "canary", arg, &dv)) goto out;
      cfg.fraction = dv / 100.0;
      break;
    case OPT_STEPS:
      free(steps);
      if (parse_steps(arg, &steps, &n_steps)) {
        sc_opts_usage_error(d, "invalid value '%s' for --steps: expected percentages like 1,5,25,50", arg);
        goto out;
      }
      break;
    case OPT_STEP_DURATION:
      if (sc_parse_duration(d, "step-duration", arg, &cfg.step_duration_s)) goto out;
      break;
    case OPT_STEP_EXCHANGES:
      if (sc_parse_u64(d, "step-exchanges", arg, &u)) goto out;
      cfg.step_exchanges = u;
      break;
    case OPT_KEY: key = arg; break;
    case OPT_SEED:
      if (sc_parse_u64(d, "seed", arg, &u)) goto out;
      cfg.seed = u;
      break;
    case OPT_SPEED: {
      char *end = NULL;
      dv = strtod(arg, &end);
      if (end == arg || !(dv > 0) || isinf(dv) || (*end && strcmp(end, "x"))) {
        sc_opts_usage_error(d, "invalid value '%s' for --speed: expected a positive factor like 2x", arg);
        goto out;
      }
      cfg.speed = dv;
      cfg.pacing = SC_PACE_RECORDED;
      pace_set++;
      break;
    }
    case OPT_RATE: {
      char *end = NULL;
      dv = strtod(arg, &end);
      if (end == arg || !(dv > 0) || isinf(dv) || (*end && strcmp(end, "/s"))) {
        sc_opts_usage_error(d, "invalid value '%s' for --rate: expected requests per second like 2000/s", arg);
        goto out;
      }
      cfg.rate = dv;
      cfg.pacing = SC_PACE_RATE;
      pace_set++;
      break;
    }
    case OPT_MAX:
      cfg.pacing = SC_PACE_MAX;
      pace_set++;
      break;
    case OPT_CONCURRENCY:
      if (sc_parse_u64(d, "concurrency", arg, &u)) goto out;
      if (u < 1 || u > 65536) {
        sc_opts_usage_error(d, "invalid value '%s' for --concurrency: expected 1 to 65536", arg);
        goto out;
      }
      cfg.concurrency = (unsigned)u;
      break;
    case OPT_POOL:
      if (sc_parse_u64(d, "pool-size", arg, &u)) goto out;
      if (u < 1 || u > 65536) {
        sc_opts_usage_error(d, "invalid value '%s' for --pool-size: expected 1 to 65536", arg);
        goto out;
      }
      cfg.pool_size = (unsigned)u;
      break;
    case OPT_TIMEOUT:
      if (sc_parse_duration(d, "timeout", arg, &cfg.timeout_s)) goto out;
      if (!(cfg.timeout_s > 0)) {
        sc_opts_usage_error(d, "--timeout must be positive");
        goto out;
      }
      break;
    case OPT_DURATION:
      if (sc_parse_duration(d, "duration", arg, &cfg.duration_s)) goto out;
      break;
    case OPT_LIMIT:
      if (sc_parse_u64(d, "limit", arg, &u)) goto out;
      cfg.limit = u;
      break;
    case OPT_LOOP: cfg.loop = 1; break;
    case OPT_KEEP_HOST: cfg.keep_host = 1; break;
    case OPT_HEADER: {
      const char *colon = strchr(arg, ':');
      if (!colon || colon == arg || strpbrk(arg, "\r\n")) {
        sc_opts_usage_error(d, "invalid value '%s' for --header: expected 'Name: value'", arg);
        goto out;
      }
      const char **nh = realloc(headers, (n_headers + 2) * sizeof *nh);
      if (!nh) goto out;
      headers = nh;
      headers[n_headers++] = arg;
      headers[n_headers] = NULL;
      break;
    }
    case OPT_SHADOW_HEADER: cfg.shadow_header = arg; break;
    case OPT_NO_SHADOW_HEADER: cfg.shadow_header = NULL; break;
    case OPT_METHODS: cfg.methods = arg; break;
    case OPT_BODY_CAP:
      if (sc_parse_size(d, "body-cap", arg, &u)) goto out;
      cfg.body_cap = u;
      break;
    case OPT_NO_PROGRESS: progress = 0; break;
    case OPT_NO_ANALYZE: analyze = 0; break;
    }
  }
  if (op.optind != argc - 1) {
    sc_opts_usage_error(d, op.optind >= argc ? "missing traffic file" : "too many arguments");
    goto out;
  }
  cfg.traffic_path = argv[op.optind];
  if (!cfg.url[SC_T_CURRENT]) {
    sc_opts_usage_error(d, "--current URL is required");
    goto out;
  }
  if (shadow + canary + (n_steps > 0) > 1) {
    sc_opts_usage_error(d, "--shadow, --canary and --steps are exclusive");
    goto out;
  }
  if (pace_set > 1) {
    sc_opts_usage_error(d, "--speed, --rate and --max are exclusive");
    goto out;
  }
  if (n_steps > 0 && !cfg.step_duration_s && !cfg.step_exchanges) {
    sc_opts_usage_error(d, "--steps needs --step-duration or --step-exchanges");
    goto out;
  }
  if ((shadow || canary || n_steps) && !cfg.url[SC_T_CANDIDATE]) {
    sc_opts_usage_error(d, "--%s needs --candidate", shadow ? "shadow" : canary ? "canary" : "steps");
    goto out;
  }
  cfg.mode = shadow ? SC_MODE_SHADOW : (canary || n_steps) ? SC_MODE_CANARY
             : cfg.url[SC_T_CANDIDATE] ? SC_MODE_SHADOW : SC_MODE_SINGLE;
  if (cfg.mode == SC_MODE_SHADOW && !shadow) cfg.fraction = 1.0; /* a candidate with no policy: full shadow */
  cfg.steps = steps;
  cfg.n_steps = n_steps;
  /* URLs are checked before anything is created */
  for (int i = 0; i < SC_T_COUNT; i++) {
    struct sc_replay_url pu;
    if (cfg.url[i] && sc_replay_url_parse(cfg.url[i], &pu, &err)) {
      ret = sc_cli_error("replay", &err);
      goto out;
    }
  }
  if (sc_config_init_defaults(&conf)) goto out;
  conf_init = 1;
  if (sc_cli_load_config(&conf, config_path, &sets, &err)) {
    ret = sc_cli_error("replay", &err);
    goto out;
  }
  cfg.key_rule = key ? key : conf.request_key;
  if (sc_replay_key_rule_check(cfg.key_rule, &err)) {
    sc_opts_usage_error(d, "%s", err.msg);
    goto out;
  }
  config_json = sc_config_to_json(&conf);
  cfg.config_json = config_json;
  cfg.headers = headers;
  argv_s = join_argv(argc, argv);
  cfg.argv = argv_s;
  cfg.status_line = progress && sc_log_get_level() >= SC_LOG_INFO;
  struct step_ctx sctx = {&conf};
  if (n_steps > 0) {
    cfg.on_step_end = step_hook;
    cfg.step_ctx = &sctx;
  }

  src.path = cfg.traffic_path;
  if (tf_open(&src, &err)) {
    ret = sc_cli_error("replay", &err);
    goto out;
  }
  if (sc_db_open(&db, db_path, SC_DB_CREATE, &err)) {
    if (err.code == SC_EIO || err.code == SC_EDB) err.code = SC_EACCES; /* cannot write it: input error */
    ret = sc_cli_error("replay", &err);
    goto out;
  }
  struct sc_replay_source rs = {tf_next, tf_rewind, &src, tf_stats, tf_progress};
  struct sc_replay_summary sum;
  int rc = sc_replay_run(&cfg, &rs, db, &sum, &err);
  if (sum.run_id > 0) print_summary(&cfg, &sum);
  if (rc == SC_OK && sum.traffic_error) {
    fprintf(stderr, "shadowctl replay: %s\n", sum.traffic_msg);
    ret = SC_EXIT_FAIL;
  } else if (rc == SC_OK) {
    ret = SC_EXIT_OK;
  } else if (rc == SC_EINTR || rc == SC_ESTATE) {
    sc_status_clear();
    fprintf(stderr, "shadowctl replay: %s\n", err.msg);
    ret = SC_EXIT_FAIL;
  } else {
    if (sum.run_id > 0) { /* the job failed mid-run (e.g. disk full): the run is recorded */
      if (err.code == SC_EDB || err.code == SC_ENOSPC || err.code == SC_EIO)
        sc_error_prefix(&err, "results database '%s'", db_path);
      sc_cli_error("replay", &err);
      ret = SC_EXIT_FAIL;
    } else {
      ret = sc_cli_error("replay", &err);
    }
  }
  /* The recorded answers are analysed at once (also those of an interrupted
   * or cut run: what was recorded is evidence); a failed job is not. */
  if (analyze && sum.run_id > 0 && (rc == SC_OK || rc == SC_EINTR || rc == SC_ESTATE)) {
    struct sc_error ae;
    sc_error_init(&ae);
    sc_log_info("analysing run %lld", (long long)sum.run_id);
    if (sc_analyze_run(db, sum.run_id, -1, &conf, &ae)) {
      sc_error_prefix(&ae, "analysis of run %lld in '%s' (rerun: shadowctl analyze --db %s --run %lld)",
                      (long long)sum.run_id, db_path, db_path, (long long)sum.run_id);
      sc_cli_error("replay", &ae);
      ret = SC_EXIT_FAIL;
    }
  }
out:
  if (src.r) sc_tf_reader_close(src.r);
  sc_db_close(db);
  if (conf_init) sc_config_release(&conf);
  free(config_json);
  free(argv_s);
  free(headers);
  free(steps);
  sc_opts_end(&op);
  return ret;
}
