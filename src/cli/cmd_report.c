/*
 * cmd_report.c - `shadowctl report` (placeholder until its stage lands).
 */
#include <stdio.h>

#include "cli/cli.h"

static const struct sc_opt opts[] = {
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_report_desc = {
  .name = "report",
  .synopsis = "[options]",
  .summary = "(not implemented yet)",
  .opts = opts,
};

int cmd_report(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "shadowctl report: not implemented yet\n");
  return SC_EXIT_FAIL;
}
