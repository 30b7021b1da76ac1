/*
 * check.h - SC_ASSERT, SC_ALWAYS, SC_NEVER (SQLite's ALWAYS/NEVER).
 *
 * SC_ALWAYS(x)/SC_NEVER(x) mark conditions believed always true/false. In a
 * debug build (no NDEBUG) a violation aborts; in release it evaluates x so the
 * defensive branch still runs.
 */
#ifndef SC_UTIL_CHECK_H
#define SC_UTIL_CHECK_H

#include <assert.h>

#define SC_ASSERT(x) assert(x)
#ifndef NDEBUG
#define SC_ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define SC_NEVER(x) ((x) ? (assert(0 && #x), 1) : 0)
#else
#define SC_ALWAYS(x) (x)
#define SC_NEVER(x) (x)
#endif

#define SC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
