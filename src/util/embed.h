/*
 * embed.h - files compiled into the binary at build time (cmake/embed.cmake).
 * Every schemas/<name>.sql and reports/templates/<name> file F becomes
 *   extern const char sc_embed_<F>[];          NUL-terminated contents
 *   extern const unsigned long sc_embed_<F>_len;
 * with non-alphanumeric characters of F replaced by '_'
 * (schemas/results.sql -> sc_embed_results_sql).
 */
#ifndef SC_UTIL_EMBED_H
#define SC_UTIL_EMBED_H

#define SC_EMBED_DECLARE(sym)   \
  extern const char sym[];      \
  extern const unsigned long sym##_len

#endif
