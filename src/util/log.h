/*
 * log.h - diagnostics on stderr and the live status line.
 *
 * sc_log_*: "shadowctl: warning: ..." style lines. --quiet silences info,
 * --verbose enables debug.
 * sc_status_*: one live line redrawn in place ("\r...\033[K") when stderr is a
 * TTY; when not a TTY, sc_status_line prints a plain line at most every
 * `plain_interval_s` seconds (0 = never), so CI logs stay readable.
 */
#ifndef SC_UTIL_LOG_H
#define SC_UTIL_LOG_H

#include "util/err.h"

enum sc_log_level { SC_LOG_QUIET = 0, SC_LOG_INFO = 1, SC_LOG_DEBUG = 2 };

void sc_log_set_level(enum sc_log_level lv);
enum sc_log_level sc_log_get_level(void);
void sc_log_info(const char *fmt, ...) SC_PRINTF(1, 2);
void sc_log_warn(const char *fmt, ...) SC_PRINTF(1, 2);
void sc_log_debug(const char *fmt, ...) SC_PRINTF(1, 2);

/* 1 when stderr is a terminal (and SHADOWCTL_NO_TTY is not set). */
int sc_status_is_tty(void);
/* Configures the non-TTY fallback: plain progress lines every n seconds (0 off). */
void sc_status_set_plain_interval(double seconds);
/* Draws/updates the live line (TTY) or prints a plain line when due. */
void sc_status_line(const char *fmt, ...) SC_PRINTF(1, 2);
/* Erases the live line (TTY) so a final summary starts on a clean line. */
void sc_status_clear(void);

/* Formats an ETA / duration as "1h02m", "3m05s", "12s" into out. */
void sc_fmt_duration(double seconds, char *out, size_t n);

#endif
