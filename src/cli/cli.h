/*
 * cli.h - the subcommands of shadowctl (git builtin.h).
 *
 * Adding a command:
 *   1. write src/cli/cmd_<name>.c with `const struct sc_cmd_desc cmd_<name>_desc`
 *      (usage and option table side by side, see opts.h) and
 *      `int cmd_<name>(int argc, char **argv)` returning an enum sc_exit;
 *   2. declare both below;
 *   3. add one row to commands[] in src/main.c.
 * argv[0] is the command name. A command prints its own errors with
 * sc_cli_error() (one line) and returns the exit status; nothing below the
 * CLI prints an error or exits.
 */
#ifndef SC_CLI_CLI_H
#define SC_CLI_CLI_H

#include "cli/opts.h"
#include "gate/verdict.h"
#include "util/config.h"
#include "util/err.h"

struct sc_cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const struct sc_cmd_desc *desc;
};

/* Prints "shadowctl CMD: MSG" for err (its message, or its code's text) to
 * stderr and returns the exit status that err's class maps to
 * (sc_cli_exit_for). */
int sc_cli_error(const char *cmd, const struct sc_error *err);
/* Input and usage classes (parse errors, missing files, bad values) -> 2;
 * everything else -> 1. */
int sc_cli_exit_for(int code);

/* shadow.yaml options shared by replay, analyze, report and gate. */
#define SC_CLI_MAX_SETS 32
struct sc_cli_sets {
  const char *v[SC_CLI_MAX_SETS]; /* --set arguments, borrowed from argv */
  size_t n;
};
/* Records one --set argument: 0, or SC_EXIT_USAGE after a usage message
 * naming command d when there are too many. */
int sc_cli_sets_add(struct sc_cli_sets *s, const struct sc_cmd_desc *d, const char *arg);
/* Loads `path` (may be NULL) over cfg, then each --set KEY=VALUE in order. */
int sc_cli_load_config(struct sc_config *cfg, const char *path, const struct sc_cli_sets *sets,
                       struct sc_error *err) SC_MUST_CHECK;
#define SC_CLI_SET_HELP                                                                                   \
  "Override one shadow.yaml value after --config: KEY is its dotted path, VALUE is YAML, e.g. "          \
  "--set decision.score_path='$.probability' --set decision.threshold=0.7 --set "                         \
  "'diff.ignore=[$.meta.*, $..ts]' --set request_key='$.txn_id'. Repeatable."

#define SC_DECLARE_CMD(n)                          \
  extern const struct sc_cmd_desc cmd_##n##_desc; \
  int cmd_##n(int argc, char **argv)

SC_DECLARE_CMD(capture);
SC_DECLARE_CMD(inspect);
SC_DECLARE_CMD(replay);
SC_DECLARE_CMD(runs);
SC_DECLARE_CMD(analyze);
SC_DECLARE_CMD(labels);
SC_DECLARE_CMD(report);
SC_DECLARE_CMD(gate);

#endif
