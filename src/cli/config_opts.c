/*
 * config_opts.c - the shadow.yaml options shared by replay, analyze, report
 * and gate: --config FILE, then every --set KEY=VALUE over it, so each value
 * of the file has a command-line equivalent (DESIGN.md: the tool works with
 * no file at all). Stage: cli.
 */
#include "cli/cli.h"

int sc_cli_load_config(struct sc_config *cfg, const char *path, const char *const *sets, size_t nsets,
                       struct sc_error *err) {
  if (path) {
    int rc = sc_config_load(cfg, path, err);
    if (rc) return rc;
  }
  for (size_t i = 0; i < nsets; i++) {
    int rc = sc_config_apply_set(cfg, sets[i], err);
    if (rc) return rc;
  }
  return SC_OK;
}
