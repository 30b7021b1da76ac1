/*
 * clock.c - monotonic and wall clocks. Stage: util. See clock.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t sc_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double sc_clock_mono_s(void) { return (double)sc_clock_mono_ns() / 1e9; }

uint64_t sc_clock_real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sc_fmt_time_iso(uint64_t ns, char *out, unsigned n) {
  time_t secs = (time_t)(ns / 1000000000ull);
  unsigned ms = (unsigned)((ns / 1000000ull) % 1000ull);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}
