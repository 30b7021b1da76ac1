/*
 * pcap_src.c - libpcap packet source (offline pcap/pcapng, live interface),
 * BPF filter and privilege drop. Stage: capture.
 * Reference: pcap(3PCAP), pcap_open_offline_with_tstamp_precision(3PCAP),
 * pcap_set_immediate_mode(3PCAP), pcap_stats(3PCAP); setgroups(2),
 * setgid(2), setuid(2) (tcpdump's -Z order).
 */
#include "capture/pcap_src.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/decode.h"
#include "util/limits.h"

#define IOBUF_SIZE (1u << 20)

struct sc_pcap_src {
  pcap_t *p;
  int dlt;
  int live;
  const char *name;
  uint64_t n;      /* packets returned */
  int timeout_ms;  /* live: poll timeout */
  char *iobuf;     /* stdio buffer of the file (freed after pcap_close) */
};

int sc_pcap_src_open(struct sc_pcap_src **out, const struct sc_pcap_src_cfg *cfg,
                     struct sc_error *err) {
  char eb[PCAP_ERRBUF_SIZE] = "";
  int rc = 0;
  struct sc_pcap_src *s = calloc(1, sizeof *s);
  if (!s) return sc_error_set(err, SC_ENOMEM, "out of memory");
  if (cfg->file) {
    s->name = cfg->file;
    struct stat st;
    if (strcmp(cfg->file, "-") != 0 && stat(cfg->file, &st) != 0) {
      rc = sc_error_set(err, errno == ENOENT ? SC_ENOENT : SC_EIO, "cannot read capture file '%s': %s",
                        cfg->file, strerror(errno));
      goto out;
    }
    if (strcmp(cfg->file, "-") != 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
      rc = sc_error_set(err, SC_EPARSE_PCAP, "'%s' is empty (not a pcap or pcapng file)", cfg->file);
      goto out;
    }
    /* Our own FILE with a 1 MiB buffer: libpcap reads through stdio, and the
     * default 4 KiB buffer costs one read(2) per few packets. */
    if (strcmp(cfg->file, "-") == 0) {
      s->p = pcap_open_offline_with_tstamp_precision(cfg->file, PCAP_TSTAMP_PRECISION_NANO, eb);
    } else {
      FILE *fp = fopen(cfg->file, "rb");
      if (!fp) {
        rc = sc_error_set(err, errno == EACCES ? SC_EACCES : SC_EIO, "cannot read capture file '%s': %s",
                          cfg->file, strerror(errno));
        goto out;
      }
      s->iobuf = malloc(IOBUF_SIZE);
      if (s->iobuf) setvbuf(fp, s->iobuf, _IOFBF, IOBUF_SIZE);
      s->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, eb);
      if (!s->p) fclose(fp);
    }
    if (!s->p) {
      rc = sc_error_set(err, SC_EPARSE_PCAP, "cannot read capture file '%s': %s", cfg->file, eb);
      goto out;
    }
  } else {
    s->live = 1;
    s->name = cfg->iface;
    s->p = pcap_create(cfg->iface, eb);
    if (!s->p) {
      rc = sc_error_set(err, SC_EIO, "cannot open interface '%s': %s", cfg->iface, eb);
      goto out;
    }
    pcap_set_snaplen(s->p, cfg->snaplen ? cfg->snaplen : SC_MAX_SNAPLEN);
    pcap_set_promisc(s->p, 0);
    pcap_set_immediate_mode(s->p, 1);
    pcap_set_timeout(s->p, cfg->timeout_ms ? cfg->timeout_ms : 200);
    pcap_set_tstamp_precision(s->p, PCAP_TSTAMP_PRECISION_NANO);
    if (cfg->buffer_size > 0) pcap_set_buffer_size(s->p, cfg->buffer_size);
    int a = pcap_activate(s->p);
    if (a < 0) {
      int code = (a == PCAP_ERROR_PERM_DENIED) ? SC_EACCES
                 : (a == PCAP_ERROR_NO_SUCH_DEVICE) ? SC_ENOENT : SC_EIO;
      rc = sc_error_set(err, code, "cannot capture on interface '%s': %s%s%s", cfg->iface,
                        pcap_statustostr(a), a == PCAP_ERROR ? ": " : "",
                        a == PCAP_ERROR ? pcap_geterr(s->p) : "");
      goto out;
    }
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 200;
    if (pcap_setnonblock(s->p, 1, eb) != 0) {
      rc = sc_error_set(err, SC_EIO, "cannot capture on interface '%s': %s", cfg->iface, eb);
      goto out;
    }
  }
  s->dlt = pcap_datalink(s->p);
  if (!sc_decode_dlt_supported(s->dlt)) {
    const char *nm = pcap_datalink_val_to_name(s->dlt);
    rc = sc_error_set(err, SC_EUNSUPPORTED, "'%s': unsupported link type %d (%s)", s->name, s->dlt,
                      nm ? nm : "unknown");
    goto out;
  }
  if (cfg->filter && cfg->filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(s->p, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      rc = sc_error_set(err, SC_EUSAGE, "invalid filter '%s': %s", cfg->filter, pcap_geterr(s->p));
      goto out;
    }
    int f = pcap_setfilter(s->p, &prog);
    pcap_freecode(&prog);
    if (f != 0) {
      rc = sc_error_set(err, SC_EIO, "cannot install filter '%s': %s", cfg->filter, pcap_geterr(s->p));
      goto out;
    }
  }
out:
  if (rc) {
    sc_pcap_src_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

int sc_pcap_src_dlt(const struct sc_pcap_src *s) { return s->dlt; }

int sc_pcap_src_next(struct sc_pcap_src *s, const uint8_t **data, uint32_t *caplen,
                     uint32_t *wirelen, uint64_t *ts_ns, struct sc_error *err) {
  struct pcap_pkthdr *h;
  const u_char *d;
  int r = pcap_next_ex(s->p, &h, &d);
  if (r == 1) {
    s->n++;
    *data = d;
    *caplen = h->caplen;
    *wirelen = h->len;
    /* nanosecond precision was requested: tv_usec holds nanoseconds */
    *ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
    return 1;
  }
  if (r == 0 && s->live) {
    /* Non-blocking live handle: wait for the descriptor at most timeout_ms
     * (immediate mode would otherwise block forever without packets); a
     * signal interrupts poll, and the caller checks its stop flag. */
    struct pollfd pfd = {pcap_get_selectable_fd(s->p), POLLIN, 0};
    if (pfd.fd >= 0) poll(&pfd, 1, s->timeout_ms);
    r = pcap_next_ex(s->p, &h, &d);
    if (r == 1) {
      s->n++;
      *data = d;
      *caplen = h->caplen;
      *wirelen = h->len;
      *ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
      return 1;
    }
  }
  if (r == 0) return 0;
  if (r == PCAP_ERROR_BREAK) return s->live ? 0 : 2;
  if (s->live) return sc_error_set(err, SC_EIO, "capture on '%s' failed: %s", s->name, pcap_geterr(s->p));
  FILE *f = pcap_file(s->p);
  long off = f ? ftell(f) : -1;
  return sc_error_set(err, SC_ETRUNC, "capture file '%s' truncated at packet %llu (byte offset %ld): %s",
                      s->name, (unsigned long long)s->n + 1, off, pcap_geterr(s->p));
}

void sc_pcap_src_drops(struct sc_pcap_src *s, uint64_t *kernel, uint64_t *iface) {
  struct pcap_stat ps;
  *kernel = *iface = 0;
  if (s->live && pcap_stats(s->p, &ps) == 0) {
    *kernel = ps.ps_drop;
    *iface = ps.ps_ifdrop;
  }
}

void sc_pcap_src_break(struct sc_pcap_src *s) {
  if (s && s->p) pcap_breakloop(s->p);
}

void sc_pcap_src_close(struct sc_pcap_src *s) {
  if (!s) return;
  if (s->p) pcap_close(s->p);
  free(s->iobuf);
  free(s);
}

int sc_capture_drop_privileges(const char *user, struct sc_error *err) {
  struct passwd *pw = getpwnam(user);
  if (!pw) return sc_error_set(err, SC_EPRIV, "cannot drop privileges: no user '%s'", user);
  if (geteuid() != 0) {
    if (geteuid() == pw->pw_uid) return 0;
    return sc_error_set(err, SC_EPRIV, "cannot drop privileges to '%s': not running as root", user);
  }
  if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
    return sc_error_set(err, SC_EPRIV, "cannot drop privileges to '%s': %s", user, strerror(errno));
  if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0))
    return sc_error_set(err, SC_EPRIV, "cannot drop privileges to '%s': root regained", user);
  return 0;
}
