/*
 * cmd_gate.c - `shadowctl gate` (placeholder until its stage lands).
 */
#include <stdio.h>

#include "cli/cli.h"

static const struct sc_opt opts[] = {
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_gate_desc = {
  .name = "gate",
  .synopsis = "[options]",
  .summary = "(not implemented yet)",
  .opts = opts,
};

int cmd_gate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "shadowctl gate: not implemented yet\n");
  return SC_EXIT_FAIL;
}
