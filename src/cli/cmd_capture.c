/*
 * cmd_capture.c - `shadowctl capture` (placeholder until its stage lands).
 */
#include <stdio.h>

#include "cli/cli.h"

static const struct sc_opt opts[] = {
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_capture_desc = {
  .name = "capture",
  .synopsis = "[options]",
  .summary = "(not implemented yet)",
  .opts = opts,
};

int cmd_capture(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "shadowctl capture: not implemented yet\n");
  return SC_EXIT_FAIL;
}
