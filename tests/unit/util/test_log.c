/* test_log.c - src/util/log.c: the non-TTY progress fallback prints its first
 * plain line one interval after the first update (no line of zeros at the
 * start), then at most one line per interval; quiet prints nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static FILE *capture_stderr(void) {
  FILE *f = tmpfile();
  cr_assert_not_null(f);
  fflush(stderr);
  cr_assert(dup2(fileno(f), STDERR_FILENO) >= 0);
  return f;
}

static char *read_all(FILE *f) {
  fflush(stderr);
  static char buf[4096];
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  return buf;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

Test(log, plain_status_lines_start_after_one_interval) {
  setenv("SHADOWCTL_NO_TTY", "1", 1);
  FILE *f = capture_stderr();
  sc_log_set_level(SC_LOG_INFO);
  sc_status_set_plain_interval(1.0);
  sc_status_line("sent %d", 0);
  cr_assert_eq(count_lines(read_all(f)), 0, "a line at the first update: '%s'", read_all(f));
  sc_status_line("sent %d", 1);
  cr_assert_eq(count_lines(read_all(f)), 0, "a line before the interval elapsed");
  nap_ms(1100);
  sc_status_line("sent %d", 2);
  char *out = read_all(f);
  cr_assert_eq(count_lines(out), 1, "'%s'", out);
  cr_assert(strstr(out, "shadowctl: sent 2\n"), "'%s'", out);
  sc_status_line("sent %d", 3);
  cr_assert_eq(count_lines(read_all(f)), 1, "two lines within one interval");
  nap_ms(1100);
  sc_log_set_level(SC_LOG_QUIET);
  sc_status_line("sent %d", 4);
  cr_assert_eq(count_lines(read_all(f)), 1, "quiet still printed progress");
}
