/*
 * cmd_runs.c - `shadowctl runs` (placeholder until its stage lands).
 */
#include <stdio.h>

#include "cli/cli.h"

static const struct sc_opt opts[] = {
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_runs_desc = {
  .name = "runs",
  .synopsis = "[options]",
  .summary = "(not implemented yet)",
  .opts = opts,
};

int cmd_runs(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "shadowctl runs: not implemented yet\n");
  return SC_EXIT_FAIL;
}
