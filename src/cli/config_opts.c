/*
 * config_opts.c - the shadow.yaml options shared by replay, analyze, report
 * and gate: --config FILE, then every --set KEY=VALUE over it, so each value
 * of the file has a command-line equivalent (DESIGN.md: the tool works with
 * no file at all). Stage: cli.
 */
#include "cli/cli.h"

int sc_cli_sets_add(struct sc_cli_sets *s, const struct sc_cmd_desc *d, const char *arg) {
  if (s->n == SC_CLI_MAX_SETS) {
    sc_opts_usage_error(d, "at most %d --set options", SC_CLI_MAX_SETS);
    return SC_EXIT_USAGE;
  }
  s->v[s->n++] = arg;
  return 0;
}

int sc_cli_load_config(struct sc_config *cfg, const char *path, const struct sc_cli_sets *sets,
                       struct sc_error *err) {
  if (path) {
    int rc = sc_config_load(cfg, path, err);
    if (rc) return rc;
  }
  for (size_t i = 0; i < sets->n; i++) {
    int rc = sc_config_apply_set(cfg, sets->v[i], err);
    if (rc) return rc;
  }
  return SC_OK;
}
