/*
 * pcap_src.c - libpcap packet source (offline pcap/pcapng, live interface),
 * BPF filter and privilege drop. Stage: capture.
 * Reference: pcap(3PCAP), pcap_open_offline_with_tstamp_precision(3PCAP),
 * pcap_set_immediate_mode(3PCAP), pcap_stats(3PCAP); setgroups(2),
 * setgid(2), setuid(2) (tcpdump's -Z order); pcap-savefile(5) (the classic
 * file format read directly, below).
 *
 * Classic pcap files (version 2.4) are read without libpcap's per-packet
 * freads: records are parsed from a 1 MiB buffer filled by pread(2) on the
 * descriptor libpcap opened, and each packet is returned in place. libpcap
 * still opens and checks the file (format, link type, snapshot length,
 * filter), and the direct reader hands over to it for the rest of the file
 * at the first record that is not plain. Invariants:
 *   1. A record is returned directly only when all of it is in the buffer,
 *      caplen <= the snapshot length libpcap uses and <= MAX_DIRECT_CAPLEN:
 *      then libpcap would return the same bytes, lengths and timestamp.
 *   2. Anything else (a cut record, caplen past the snapshot, a read error,
 *      the end of the file) seeks libpcap's FILE to that record and lets
 *      pcap_next_ex() read from there, so its results and error messages
 *      are libpcap's own.
 *   3. The filter, when set, is applied with pcap_offline_filter(), the
 *      check libpcap makes on each record it reads from a file.
 */
#include "capture/pcap_src.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/decode.h"
#include "util/limits.h"

#define IOBUF_SIZE (1u << 20)
#define DIRECT_BUF (1u << 20)
#define MAX_DIRECT_CAPLEN 262144u /* libpcap's largest snapshot for our link types */
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16

struct direct { /* the classic pcap reader (invariants above) */
  int fd;                 /* libpcap's descriptor, read with pread */
  int swapped, nano;      /* byte order differs from ours; ns timestamps */
  uint32_t snap;          /* pcap_snapshot() */
  uint8_t *buf;
  size_t len, off;        /* bytes in buf; next record at buf + off */
  uint64_t pos;           /* file offset of buf[len] */
  struct bpf_program prog;
  int have_prog;
};

struct sc_pcap_src {
  pcap_t *p;
  int dlt;
  int live;
  const char *name;
  uint64_t n;      /* packets returned */
  int timeout_ms;  /* live: poll timeout */
  char *iobuf;     /* stdio buffer of the file (freed after pcap_close) */
  struct direct *d; /* NULL: every packet through pcap_next_ex */
  volatile sig_atomic_t brk; /* sc_pcap_src_break for the direct reader */
};

static uint32_t rd32(const uint8_t *p, int swapped) {
  uint32_t v;
  memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

static void direct_free(struct direct *d) {
  if (!d) return;
  if (d->have_prog) pcap_freecode(&d->prog);
  free(d->buf);
  free(d);
}

/* Sets up the direct reader when the file is a classic pcap of version 2.4
 * (magic a1b2c3d4 or a1b23c4d in either byte order); otherwise libpcap reads
 * every packet. Errors here only mean "not direct". */
static void direct_open(struct sc_pcap_src *s, FILE *fp, const char *filter) {
  uint8_t h[PCAP_FILE_HDR];
  int fd = fileno(fp);
  if (fd < 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h) return;
  uint32_t magic;
  memcpy(&magic, h, 4);
  int swapped, nano;
  if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) swapped = 0;
  else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) swapped = 1;
  else return;
  nano = (swapped ? __builtin_bswap32(magic) : magic) == 0xa1b23c4du;
  uint16_t vmaj, vmin;
  memcpy(&vmaj, h + 4, 2);
  memcpy(&vmin, h + 6, 2);
  if (swapped) {
    vmaj = __builtin_bswap16(vmaj);
    vmin = __builtin_bswap16(vmin);
  }
  if (vmaj != 2 || vmin != 4) return; /* older versions may swap caplen and len */
  int snap = pcap_snapshot(s->p);
  if (snap <= 0) return;
  struct direct *d = calloc(1, sizeof *d);
  if (!d) return;
  d->buf = malloc(DIRECT_BUF);
  if (!d->buf) {
    free(d);
    return;
  }
  if (filter && filter[0]) {
    if (pcap_compile(s->p, &d->prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      direct_free(d);
      return;
    }
    d->have_prog = 1;
  }
  d->fd = fd;
  d->swapped = swapped;
  d->nano = nano;
  d->snap = (uint32_t)snap;
  d->pos = PCAP_FILE_HDR;
  s->d = d;
}

/* Hands the rest of the file, from the record at buf + off, to libpcap. */
static void direct_handover(struct sc_pcap_src *s) {
  struct direct *d = s->d;
  FILE *f = pcap_file(s->p);
  uint64_t at = d->pos - (d->len - d->off);
  if (f) fseeko(f, (off_t)at, SEEK_SET);
  direct_free(d);
  s->d = NULL;
}

/* 1 with a packet, 0 when libpcap must take over (invariant 2). */
static int direct_next(struct sc_pcap_src *s, const uint8_t **data, uint32_t *caplen,
                       uint32_t *wirelen, uint64_t *ts_ns) {
  struct direct *d = s->d;
  for (;;) {
    if (d->len - d->off < PCAP_REC_HDR) goto refill;
    const uint8_t *r = d->buf + d->off;
    uint32_t cl = rd32(r + 8, d->swapped);
    if (cl > d->snap || cl > MAX_DIRECT_CAPLEN) return 0;
    if (d->len - d->off - PCAP_REC_HDR < cl) goto refill;
    d->off += PCAP_REC_HDR + cl;
    uint32_t wl = rd32(r + 12, d->swapped);
    if (d->have_prog) {
      struct pcap_pkthdr ph = {.caplen = cl, .len = wl};
      if (!pcap_offline_filter(&d->prog, &ph, r + PCAP_REC_HDR)) continue;
    }
    /* as libpcap: signed 32-bit fields, microseconds scaled to ns */
    int64_t sec = (int32_t)rd32(r, d->swapped);
    int64_t frac = (int32_t)rd32(r + 4, d->swapped);
    if (!d->nano) frac *= 1000;
    *ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)frac;
    *data = r + PCAP_REC_HDR;
    *caplen = cl;
    *wirelen = wl;
    s->n++;
    return 1;
  refill: {
      /* Move the partial record to the front and read after it. */
      size_t keep = d->len - d->off;
      memmove(d->buf, d->buf + d->off, keep);
      d->off = 0;
      d->len = keep;
      ssize_t k;
      do {
        k = pread(d->fd, d->buf + d->len, DIRECT_BUF - d->len, (off_t)d->pos);
      } while (k < 0 && errno == EINTR);
      if (k <= 0) return 0; /* end of file (or a cut record, an error): libpcap's call */
      d->len += (size_t)k;
      d->pos += (uint64_t)k;
    }
  }
}

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
  if (!s->live && strcmp(cfg->file, "-") != 0) direct_open(s, pcap_file(s->p), cfg->filter);
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
  if (s->d) {
    if (s->brk) { /* as pcap_breakloop on a file: this read returns "break" */
      s->brk = 0;
      return 2;
    }
    if (direct_next(s, data, caplen, wirelen, ts_ns)) return 1;
    direct_handover(s);
  }
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
  if (!s) return;
  s->brk = 1;
  if (s->p) pcap_breakloop(s->p);
}

void sc_pcap_src_close(struct sc_pcap_src *s) {
  if (!s) return;
  direct_free(s->d);
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
