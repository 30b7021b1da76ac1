/*
 * log.c - stderr diagnostics and the live status line. Stage: util. See log.h.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/clock.h"

static enum sc_log_level level = SC_LOG_INFO;
static int status_drawn;
static double plain_interval;
static double last_plain;

void sc_log_set_level(enum sc_log_level lv) { level = lv; }
enum sc_log_level sc_log_get_level(void) { return level; }

static void vlog(const char *kind, const char *fmt, va_list ap) {
  sc_status_clear();
  fputs("shadowctl: ", stderr);
  if (kind) fputs(kind, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void sc_log_info(const char *fmt, ...) {
  if (level < SC_LOG_INFO) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(NULL, fmt, ap);
  va_end(ap);
}

void sc_log_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog("warning: ", fmt, ap);
  va_end(ap);
}

void sc_log_debug(const char *fmt, ...) {
  if (level < SC_LOG_DEBUG) return;
  va_list ap;
  va_start(ap, fmt);
  vlog("debug: ", fmt, ap);
  va_end(ap);
}

int sc_status_is_tty(void) {
  static int cached = -1;
  if (cached < 0) cached = isatty(STDERR_FILENO) && !getenv("SHADOWCTL_NO_TTY");
  return cached;
}

void sc_status_set_plain_interval(double seconds) { plain_interval = seconds; }

void sc_status_line(const char *fmt, ...) {
  if (level < SC_LOG_INFO) return;
  va_list ap;
  if (sc_status_is_tty()) {
    fputs("\r", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\033[K", stderr);
    fflush(stderr);
    status_drawn = 1;
    return;
  }
  if (plain_interval <= 0) return;
  /* the first plain line comes one interval after the first update (a line
   * of zeros at the start says nothing; short jobs print only their summary) */
  double now = sc_clock_mono_s();
  if (last_plain == 0) {
    last_plain = now;
    return;
  }
  if (now - last_plain < plain_interval) return;
  last_plain = now;
  fputs("shadowctl: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void sc_status_clear(void) {
  if (!status_drawn) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  status_drawn = 0;
}

void sc_fmt_duration(double s, char *out, size_t n) {
  if (s < 0 || s != s) { snprintf(out, n, "--"); return; }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(out, n, "%lds", t);
}
