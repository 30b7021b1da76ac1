/*
 * clock.h - time helpers. Monotonic for intervals, realtime for timestamps.
 */
#ifndef SC_UTIL_CLOCK_H
#define SC_UTIL_CLOCK_H

#include <stdint.h>

uint64_t sc_clock_mono_ns(void);
double sc_clock_mono_s(void);
uint64_t sc_clock_real_ns(void);
/* Formats ns since the epoch as ISO-8601 UTC with milliseconds
 * ("2026-11-22T04:16:12.123Z") into out (>= 32 bytes). */
void sc_fmt_time_iso(uint64_t ns, char *out, unsigned n);

#endif
