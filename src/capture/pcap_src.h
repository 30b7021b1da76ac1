/*
 * pcap_src.h - the packet source: a pcap/pcapng file or a live interface
 * through libpcap, BPF filter, and the privilege drop. Stage: capture.
 * Reference: pcap(3PCAP), pcap_open_offline(3PCAP), pcap_activate(3PCAP).
 * Packets are borrowed (libpcap's buffer, or for a classic pcap file the
 * direct reader's, see pcap_src.c): valid until the next sc_pcap_src_next.
 */
#ifndef SC_CAPTURE_PCAP_SRC_H
#define SC_CAPTURE_PCAP_SRC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct sc_pcap_src;

struct sc_pcap_src_cfg {
  const char *file;     /* -r (exactly one of file / iface) */
  const char *iface;    /* -i */
  const char *filter;   /* BPF expression or NULL */
  int snaplen;          /* live: 0 = SC_MAX_SNAPLEN */
  int buffer_size;      /* live: kernel buffer bytes, 0 = libpcap default */
  int timeout_ms;       /* live: read timeout so the caller can poll its stop flag */
};

/* Opens and activates the source, checks the link type, installs the filter.
 * Errors name the file or interface:
 *   "cannot read capture file 'x.pcap': unknown file format" (SC_EPARSE_PCAP)
 *   "'x.pcap' is empty (not a pcap or pcapng file)" (SC_EPARSE_PCAP)
 *   "'x.pcap': unsupported link type 147 (USER0)" (SC_EUNSUPPORTED)
 * Free with sc_pcap_src_close(). */
int sc_pcap_src_open(struct sc_pcap_src **out, const struct sc_pcap_src_cfg *cfg,
                     struct sc_error *err) SC_MUST_CHECK;
int sc_pcap_src_dlt(const struct sc_pcap_src *s);
/* Reads the next packet. Returns 1 with a packet, 0 on a live timeout, 2 at
 * the end of a file, or a negative sc_err: SC_ETRUNC with "capture file 'x'
 * truncated at packet N (byte offset X): ..." for a cut file. */
int sc_pcap_src_next(struct sc_pcap_src *s, const uint8_t **data, uint32_t *caplen,
                     uint32_t *wirelen, uint64_t *ts_ns, struct sc_error *err) SC_MUST_CHECK;
/* Kernel and interface drops (live; 0 for files). */
void sc_pcap_src_drops(struct sc_pcap_src *s, uint64_t *kernel, uint64_t *iface);
/* Interrupts a blocking read (async-signal-safe: pcap_breakloop). */
void sc_pcap_src_break(struct sc_pcap_src *s);
void sc_pcap_src_close(struct sc_pcap_src *s);

/* Drops root to `user` (setgroups, setgid, setuid, then checks that root
 * cannot be regained). SC_EPRIV on failure. */
int sc_capture_drop_privileges(const char *user, struct sc_error *err) SC_MUST_CHECK;

#endif
