/*
 * err.h - the one error list of shadowctl (all stages).
 *
 * Pattern from libuv's UV_ERRNO_MAP: SC_ERR_MAP(XX) generates enum sc_err,
 * sc_strerror() and sc_err_name(). Codes are negative, 0 is OK. Codes are
 * grouped by class (SC_EPARSE_*, SC_EIO_*, ...).
 *
 * Failing functions take `struct sc_error *err`, fill it where the failure
 * happens (sc_error_set), and return the code. Only the CLI prints it.
 * Exit statuses (0/1/2/3) are a separate enum in gate/verdict.h.
 */
#ifndef SC_UTIL_ERR_H
#define SC_UTIL_ERR_H

#include <stddef.h>

#define SC_ERR_MAP(XX)                                                   \
  XX(EINVAL,          -1, "invalid argument")                            \
  XX(ENOMEM,          -2, "out of memory")                               \
  XX(ETOOBIG,         -3, "size limit exceeded")                         \
  XX(EAGAIN_MORE,     -4, "need more input")                             \
  XX(EPROTO,          -5, "protocol violation")                          \
  XX(EIO,             -6, "input/output error")                          \
  XX(ENOENT,          -7, "no such file or directory")                   \
  XX(EACCES,          -8, "permission denied")                           \
  XX(EUSAGE,          -9, "usage error")                                 \
  XX(EPARSE_PCAP,    -10, "malformed capture file")                      \
  XX(EPARSE_HTTP,    -11, "malformed HTTP")                              \
  XX(EPARSE_MSGPACK, -12, "malformed traffic record")                    \
  XX(EPARSE_JSON,    -13, "malformed JSON")                              \
  XX(EPARSE_YAML,    -14, "malformed YAML")                              \
  XX(EPARSE_CSV,     -15, "malformed CSV")                               \
  XX(EPARSE_URL,     -16, "malformed URL")                               \
  XX(ETRUNC,         -17, "truncated input")                             \
  XX(ECORRUPT,       -18, "corrupt data")                                \
  XX(EVERSION,       -19, "unsupported format version")                  \
  XX(EDB,            -20, "database error")                              \
  XX(ENET,           -21, "network error")                               \
  XX(ETIMEDOUT,      -22, "timed out")                                   \
  XX(ECONNREFUSED,   -23, "connection refused")                          \
  XX(ECONNRESET,     -24, "connection reset")                            \
  XX(EUNSUPPORTED,   -25, "not supported")                               \
  XX(ENOTFOUND,      -26, "not found")                                   \
  XX(EINTR,          -27, "interrupted")                                 \
  XX(ENOSPC,         -28, "no space left on device")                     \
  XX(EPRIV,          -29, "cannot drop privileges")                      \
  XX(ECONFIG,        -30, "invalid configuration")                       \
  XX(ESTATE,         -31, "invalid state")                               \
  XX(EINTERNAL,      -32, "internal error")

enum sc_err {
  SC_OK = 0,
#define XX(name, code, msg) SC_##name = (code),
  SC_ERR_MAP(XX)
#undef XX
};

#define SC_ERRMSG_MAX 512

/* Caller-owned error detail (libpcap errbuf, SQLite errmsg). */
struct sc_error {
  int code;                 /* enum sc_err, 0 when no error */
  char msg[SC_ERRMSG_MAX];  /* one line, no trailing newline */
};

#if defined(__GNUC__)
#define SC_MUST_CHECK __attribute__((warn_unused_result))
#define SC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SC_MUST_CHECK
#define SC_PRINTF(a, b)
#endif

/* Static strings; never NULL (unknown codes give "unknown error"). */
const char *sc_strerror(int code);
const char *sc_err_name(int code);

/* Clears err (code 0, empty message). err may be NULL. */
void sc_error_init(struct sc_error *err);

/* Fills err (if not NULL) with code and a printf-formatted message and
 * returns code, so a failure site is one line:
 *   return sc_error_set(err, SC_EIO, "cannot open '%s': %s", p, strerror(errno)); */
int sc_error_set(struct sc_error *err, int code, const char *fmt, ...)
    SC_PRINTF(3, 4);

/* Prefixes the existing message with "prefix: " (context added on the way up). */
int sc_error_prefix(struct sc_error *err, const char *fmt, ...) SC_PRINTF(2, 3);

#endif
