/*
 * capture.c - orchestration of the capture stage: packet source -> decode
 * -> reassembly -> HTTP pairing -> sink, with limits, sampling and stats.
 * Stage: capture. References: see decode.c, reasm.c, http1.c, pair.c;
 * the output record is schemas/traffic.md (struct sc_exchange).
 */
#include "capture/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/pair.h"
#include "capture/pcap_src.h"
#include "capture/reasm.h"
#include "util/clock.h"
#include "util/limits.h"

struct sc_capture_engine {
  struct sc_capture_engine_cfg cfg;
  struct sc_capture_sink sink;
  struct sc_reasm *reasm;
  struct sc_pair_ctx pair;
  struct sc_decode_stats dec;
  uint64_t packets, bytes, first_ts, last_ts, next_id, sampled_out;
  uint64_t sample_keep; /* keep a connection when hash % 1000000 < sample_keep */
};

static int engine_emit(void *ud, struct sc_exchange *x, struct sc_error *err) {
  struct sc_capture_engine *e = ud;
  x->id = ++e->next_id;
  if (!e->sink.on_exchange) {
    sc_pair_exchange_release(x);
    return 0;
  }
  return e->sink.on_exchange(e->sink.ud, x, err);
}

static void r_open(void *ud, struct sc_reasm_conn *c) {
  struct sc_capture_engine *e = ud;
  if (e->sample_keep < 1000000 && c->hash % 1000000 >= e->sample_keep) {
    c->ignore = 1;
    e->sampled_out++;
    return;
  }
  c->user = sc_pair_new(&e->pair, c);
  if (!c->user) {
    c->ignore = 1;
    if (!e->pair.rc) e->pair.rc = sc_error_set(&e->pair.err, SC_ENOMEM, "out of memory");
  }
}

static void r_data(void *ud, struct sc_reasm_conn *c, int dir, const uint8_t *p, size_t n,
                   uint64_t ts) {
  struct sc_capture_engine *e = ud;
  if (!c->user) return;
  int rc = sc_pair_data(c->user, dir, p, n, ts);
  if (rc && !e->pair.rc) e->pair.rc = sc_error_set(&e->pair.err, rc, "%s", sc_strerror(rc));
}

static void r_gap(void *ud, struct sc_reasm_conn *c, int dir, uint64_t n) {
  struct sc_capture_engine *e = ud;
  if (!c->user) return;
  int rc = sc_pair_gap(c->user, dir, n);
  if (rc && !e->pair.rc) e->pair.rc = sc_error_set(&e->pair.err, rc, "%s", sc_strerror(rc));
}

static void r_fin(void *ud, struct sc_reasm_conn *c, int dir, uint64_t ts) {
  struct sc_capture_engine *e = ud;
  if (!c->user) return;
  int rc = sc_pair_fin(c->user, dir, ts);
  if (rc && !e->pair.rc) e->pair.rc = sc_error_set(&e->pair.err, rc, "%s", sc_strerror(rc));
}

static void r_close(void *ud, struct sc_reasm_conn *c, int reason) {
  struct sc_capture_engine *e = ud;
  (void)reason;
  if (!c->user) return;
  int rc = sc_pair_close(c->user, c->last_ts);
  c->user = NULL;
  if (rc && !e->pair.rc) e->pair.rc = sc_error_set(&e->pair.err, rc, "%s", sc_strerror(rc));
}

int sc_capture_engine_new(struct sc_capture_engine **out, const struct sc_capture_engine_cfg *cfg,
                          const struct sc_capture_sink *sink, struct sc_error *err) {
  struct sc_capture_engine *e = calloc(1, sizeof *e);
  if (!e) return sc_error_set(err, SC_ENOMEM, "out of memory");
  e->cfg = *cfg;
  if (!e->cfg.max_body) e->cfg.max_body = SC_DEFAULT_MAX_BODY;
  if (sink) e->sink = *sink;
  double s = e->cfg.sample_pct;
  e->sample_keep = (s <= 0 || s >= 100) ? 1000000 : (uint64_t)(s * 10000.0 + 0.5);
  e->pair.max_body = e->cfg.max_body;
  e->pair.emit = engine_emit;
  e->pair.ud = e;
  double idle = e->cfg.idle_timeout_s == 0 ? SC_DEFAULT_IDLE_TIMEOUT_S : e->cfg.idle_timeout_s;
  struct sc_reasm_cfg rc = {
    .stream_cap = e->cfg.stream_cap ? e->cfg.stream_cap : SC_MAX_STREAM_BUFFER,
    .mem_cap = e->cfg.mem_cap ? e->cfg.mem_cap : SC_DEFAULT_REASM_MEMORY,
    .idle_ns = idle < 0 ? 0 : (uint64_t)(idle * 1e9),
    .server_port = e->cfg.port,
  };
  struct sc_reasm_cbs cbs = {e, r_open, r_data, r_gap, r_fin, r_close};
  int r = sc_reasm_new(&e->reasm, &rc, &cbs, err);
  if (r) {
    free(e);
    return r;
  }
  *out = e;
  return 0;
}

int sc_capture_engine_packet(struct sc_capture_engine *e, const uint8_t *p, uint32_t caplen,
                             uint32_t wirelen, uint64_t ts_ns, struct sc_error *err) {
  struct sc_segment seg;
  e->packets++;
  e->bytes += wirelen;
  if (!e->first_ts || ts_ns < e->first_ts) e->first_ts = ts_ns;
  if (ts_ns > e->last_ts) e->last_ts = ts_ns;
  if (e->pair.rc) goto failed;
  if (sc_decode_packet(e->cfg.dlt, p, caplen, ts_ns, &seg, &e->dec) != 1) return 0;
  int rc = sc_reasm_segment(e->reasm, &seg, err);
  if (rc) return rc;
  if (e->pair.rc) goto failed;
  return 0;
failed:
  if (err) *err = e->pair.err;
  return e->pair.rc;
}

int sc_capture_engine_finish(struct sc_capture_engine *e, struct sc_error *err) {
  sc_reasm_flush(e->reasm);
  if (e->pair.rc) {
    if (err) *err = e->pair.err;
    return e->pair.rc;
  }
  return 0;
}

void sc_capture_engine_stats(const struct sc_capture_engine *e, struct sc_capture_stats *st) {
  const struct sc_reasm_stats *r = sc_reasm_stats(e->reasm);
  const struct sc_pair_stats *p = &e->pair.st;
  memset(st, 0, sizeof *st);
  st->tf.packets = e->packets;
  st->tf.bytes = e->bytes;
  st->tf.connections = r->connections;
  st->tf.exchanges = p->exchanges;
  st->tf.unpaired_requests = p->unpaired_requests;
  st->tf.unpaired_responses = p->unpaired_responses;
  st->tf.stream_gaps = r->gaps;
  st->tf.truncated_bodies = p->truncated_bodies;
  st->tf.parse_errors = p->parse_errors;
  st->tf.non_http_flows = p->non_http_flows;
  st->tf.ip_fragments = e->dec.ip_fragments;
  st->tf.mem_evictions = r->mem_evictions;
  st->tf.idle_evictions = r->idle_evictions;
  st->tf.first_ts_ns = e->first_ts;
  st->tf.last_ts_ns = e->last_ts;
  st->not_ip = e->dec.not_ip;
  st->not_tcp = e->dec.not_tcp;
  st->truncated_packets = e->dec.truncated;
  st->invalid_packets = e->dec.invalid;
  st->retransmits = r->retransmits;
  st->overlaps = r->overlaps;
  st->ooo_segments = r->ooo_segments;
  st->gap_bytes = r->gap_bytes;
  st->midstream = r->midstream;
  st->rst = r->rst;
  st->ooo_bytes_peak = r->ooo_bytes_peak;
  st->interim = p->interim;
  st->dropped_messages = p->dropped_messages;
  st->resyncs = p->resyncs;
  st->upgraded = p->upgraded;
  st->sampled_out = e->sampled_out;
}

void sc_capture_engine_free(struct sc_capture_engine *e) {
  if (!e) return;
  /* Closing connections would emit: detach the sink first. */
  e->sink.on_exchange = NULL;
  sc_reasm_free(e->reasm);
  free(e);
}

/* ---- capture: source + engine + limits ---- */

struct sc_capture {
  struct sc_capture_cfg cfg;
  struct sc_capture_sink user_sink;
  struct sc_pcap_src *src;
  struct sc_capture_engine *eng;
  uint64_t written;
  int limit_hit, stopped_early;
  char *filter;
};

static int limit_sink(void *ud, struct sc_exchange *x, struct sc_error *err) {
  struct sc_capture *c = ud;
  if (c->cfg.max_exchanges && c->written >= c->cfg.max_exchanges) {
    c->limit_hit = 1;
    sc_pair_exchange_release(x);
    return 0;
  }
  c->written++;
  if (c->cfg.max_exchanges && c->written >= c->cfg.max_exchanges) c->limit_hit = 1;
  if (!c->user_sink.on_exchange) {
    sc_pair_exchange_release(x);
    return 0;
  }
  return c->user_sink.on_exchange(c->user_sink.ud, x, err);
}

int sc_capture_open(struct sc_capture **out, const struct sc_capture_cfg *cfg,
                    const struct sc_capture_sink *sink, struct sc_error *err) {
  int rc = 0;
  struct sc_capture *c = calloc(1, sizeof *c);
  if (!c) return sc_error_set(err, SC_ENOMEM, "out of memory");
  c->cfg = *cfg;
  if (sink) c->user_sink = *sink;
  if ((!cfg->file) == (!cfg->iface)) {
    rc = sc_error_set(err, SC_EUSAGE, "exactly one of -r FILE or -i IFACE is required");
    goto out;
  }
  /* --port N and -f BPF combine as "(BPF) and tcp port N". */
  size_t fl = (cfg->filter ? strlen(cfg->filter) : 0) + 64;
  c->filter = malloc(fl);
  if (!c->filter) {
    rc = sc_error_set(err, SC_ENOMEM, "out of memory");
    goto out;
  }
  c->filter[0] = '\0';
  if (cfg->filter && cfg->filter[0] && cfg->port)
    snprintf(c->filter, fl, "(%s) and tcp port %u", cfg->filter, (unsigned)cfg->port);
  else if (cfg->port)
    snprintf(c->filter, fl, "tcp port %u", (unsigned)cfg->port);
  else if (cfg->filter)
    snprintf(c->filter, fl, "%s", cfg->filter);
  struct sc_pcap_src_cfg scfg = {
    .file = cfg->file, .iface = cfg->iface, .filter = c->filter,
    .buffer_size = cfg->buffer_size, .timeout_ms = 200,
  };
  rc = sc_pcap_src_open(&c->src, &scfg, err);
  if (rc) goto out;
  struct sc_capture_engine_cfg ecfg = {
    .dlt = sc_pcap_src_dlt(c->src),
    .max_body = cfg->max_body,
    .sample_pct = cfg->sample_pct,
    .port = cfg->port,
    .stream_cap = cfg->stream_cap,
    .mem_cap = cfg->mem_cap,
    .idle_timeout_s = cfg->idle_timeout_s,
  };
  struct sc_capture_sink ls = {limit_sink, c};
  rc = sc_capture_engine_new(&c->eng, &ecfg, &ls, err);
out:
  if (rc) {
    sc_capture_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

int sc_capture_loop(struct sc_capture *c, struct sc_error *err) {
  int rc = 0;
  struct sc_error rerr;
  sc_error_init(&rerr);
  double t0 = sc_clock_mono_s(), next_progress = t0 + 0.5;
  uint64_t first_pkt_ts = 0;
  for (uint64_t n = 0;; n++) {
    if (c->cfg.stop && *c->cfg.stop) {
      c->stopped_early = 1;
      break;
    }
    if (c->limit_hit) {
      c->stopped_early = 1;
      break;
    }
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts;
    int r = sc_pcap_src_next(c->src, &data, &caplen, &wirelen, &ts, &rerr);
    if (r < 0) {
      rc = r;
      break;
    }
    if (r == 2) break;
    if (r == 1) {
      if (!first_pkt_ts) first_pkt_ts = ts;
      rc = sc_capture_engine_packet(c->eng, data, caplen, wirelen, ts, &rerr);
      if (rc) break;
      if (c->cfg.duration_s > 0 && c->cfg.file &&
          (double)(ts - first_pkt_ts) / 1e9 >= c->cfg.duration_s) {
        c->stopped_early = 1;
        break;
      }
    }
    if (r == 0 || (n & 1023) == 0) {
      double now = sc_clock_mono_s();
      if (c->cfg.duration_s > 0 && c->cfg.iface && now - t0 >= c->cfg.duration_s) {
        c->stopped_early = 1;
        break;
      }
      if (c->cfg.progress && now >= next_progress) {
        struct sc_capture_stats st;
        sc_capture_get_stats(c, &st);
        c->cfg.progress(c->cfg.progress_ud, &st);
        next_progress = now + 0.5;
      }
    }
  }
  /* Whatever stopped the loop, complete exchanges are still emitted. */
  struct sc_error ferr;
  sc_error_init(&ferr);
  int frc = sc_capture_engine_finish(c->eng, &ferr);
  if (rc) {
    if (err) *err = rerr;
    return rc;
  }
  if (frc && err) *err = ferr;
  return frc;
}

void sc_capture_get_stats(struct sc_capture *c, struct sc_capture_stats *st) {
  sc_capture_engine_stats(c->eng, st);
  st->tf.exchanges = c->written;
  sc_pcap_src_drops(c->src, &st->tf.kernel_drops, &st->tf.iface_drops);
}

const char *sc_capture_filter(const struct sc_capture *c) { return c->filter ? c->filter : ""; }

int sc_capture_stopped_early(const struct sc_capture *c) { return c->stopped_early; }

void sc_capture_break(struct sc_capture *c) {
  if (c) sc_pcap_src_break(c->src);
}

void sc_capture_close(struct sc_capture *c) {
  if (!c) return;
  sc_capture_engine_free(c->eng);
  sc_pcap_src_close(c->src);
  free(c->filter);
  free(c);
}
