/*
 * verdict.h - the documented exit statuses of shadowctl (separate from the
 * error enum in util/err.h).
 *
 *   0  ok / gate pass
 *   1  the job failed (network, I/O, ...) / gate breach
 *   2  usage or input error (bad flag, unreadable or malformed input file)
 *   3  gate inconclusive (too few samples, or labels missing for a criterion)
 */
#ifndef SC_GATE_VERDICT_H
#define SC_GATE_VERDICT_H

enum sc_exit {
  SC_EXIT_OK = 0,
  SC_EXIT_FAIL = 1,
  SC_EXIT_USAGE = 2,
  SC_EXIT_INCONCLUSIVE = 3,
};

#endif
