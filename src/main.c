/*
 * main.c - shadowctl entry point: the commands[] table, global flags and
 * exit-status mapping (git git.c). Stage: cli.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"

#ifndef SHADOWCTL_VERSION
#define SHADOWCTL_VERSION "0.0.0"
#endif

static const struct sc_cmd commands[] = {
  {"capture", cmd_capture, &cmd_capture_desc},
  {"inspect", cmd_inspect, &cmd_inspect_desc},
  {"replay", cmd_replay, &cmd_replay_desc},
  {"runs", cmd_runs, &cmd_runs_desc},
  {"analyze", cmd_analyze, &cmd_analyze_desc},
  {"labels", cmd_labels, &cmd_labels_desc},
  {"report", cmd_report, &cmd_report_desc},
  {"gate", cmd_gate, &cmd_gate_desc},
};

static const struct sc_cmd *find_cmd(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, name)) return &commands[i];
  return NULL;
}

static void main_usage(FILE *f) {
  fprintf(f,
          "usage: shadowctl [--version] [--help] [-q|--quiet] [-v|--verbose] <command> [<args>]\n"
          "\n"
          "Replay recorded production HTTP traffic against the current and a candidate\n"
          "model endpoint, compare every answer, and decide whether the candidate may ship.\n"
          "\n"
          "Commands (pipeline order):\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "   %-9s %s\n", commands[i].name, commands[i].desc->summary);
  fprintf(f,
          "\n"
          "Global options:\n"
          "   -q, --quiet     only errors on stderr (no progress, no summary)\n"
          "   -v, --verbose   debug messages on stderr\n"
          "   --version       print the version and exit\n"
          "\n"
          "Exit status: 0 success (gate: pass), 1 the job failed (gate: breach),\n"
          "2 usage or input error, 3 gate inconclusive.\n"
          "\n"
          "'shadowctl help <command>' or 'shadowctl <command> --help' explains a command.\n");
}

static void print_man(FILE *f) {
  fprintf(f, ".TH SHADOWCTL 1 \"\" \"shadowctl %s\" \"User Commands\"\n", SHADOWCTL_VERSION);
  fputs(".SH NAME\nshadowctl \\- shadow and canary testing of model endpoints with recorded traffic\n"
        ".SH SYNOPSIS\n.B shadowctl\n[\\fB\\-q\\fR|\\fB\\-v\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n"
        ".SH DESCRIPTION\nshadowctl records production HTTP request/response pairs (\\fBcapture\\fR), replays\n"
        "them against the current and a candidate endpoint (\\fBreplay\\fR), compares every answer\n"
        "(\\fBanalyze\\fR), writes a review-board report (\\fBreport\\fR) and gives CI a verdict\n"
        "(\\fBgate\\fR).\n.SH COMMANDS\n", f);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    sc_opts_print_man_section(f, commands[i].desc);
  fputs(".SH EXIT STATUS\n.TP\n0\nsuccess; gate: pass\n.TP\n1\nthe job failed; gate: a criterion was breached\n"
        ".TP\n2\nusage or input error\n.TP\n3\ngate: inconclusive (too few samples or labels missing)\n"
        ".SH FILES\nTraffic files (.shdw) and results databases are created mode 0600.\n"
        "Their formats are documented in share/shadowctl/schemas.\n", f);
}

int sc_cli_exit_for(int code) {
  switch (code) {
  case SC_OK: return SC_EXIT_OK;
  case SC_EINVAL: case SC_EUSAGE: case SC_ENOENT: case SC_EACCES:
  case SC_EPARSE_PCAP: case SC_EPARSE_HTTP: case SC_EPARSE_MSGPACK: case SC_EPARSE_JSON:
  case SC_EPARSE_YAML: case SC_EPARSE_CSV: case SC_EPARSE_URL: case SC_ETRUNC:
  case SC_ECORRUPT: case SC_EVERSION: case SC_ECONFIG: case SC_EUNSUPPORTED:
  case SC_ENOTFOUND:
    return SC_EXIT_USAGE;
  default:
    return SC_EXIT_FAIL;
  }
}

int sc_cli_error(const char *cmd, const struct sc_error *err) {
  sc_status_clear();
  const char *msg = err && err->msg[0] ? err->msg : sc_strerror(err ? err->code : SC_EINTERNAL);
  fprintf(stderr, "shadowctl %s: %s\n", cmd, msg);
  return sc_cli_exit_for(err ? err->code : SC_EINTERNAL);
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
      printf("shadowctl %s\n", SHADOWCTL_VERSION);
      return SC_EXIT_OK;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      main_usage(stdout);
      return SC_EXIT_OK;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      sc_log_set_level(SC_LOG_QUIET);
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      sc_log_set_level(SC_LOG_DEBUG);
    } else {
      fprintf(stderr, "shadowctl: unknown option '%s'\n", a);
      main_usage(stderr);
      return SC_EXIT_USAGE;
    }
  }
  if (i >= argc) {
    main_usage(stderr);
    return SC_EXIT_USAGE;
  }
  const char *name = argv[i];
  if (!strcmp(name, "help")) {
    if (i + 1 >= argc) {
      main_usage(stdout);
      return SC_EXIT_OK;
    }
    const struct sc_cmd *c = find_cmd(argv[i + 1]);
    if (!c) {
      fprintf(stderr, "shadowctl: '%s' is not a shadowctl command. See 'shadowctl --help'.\n", argv[i + 1]);
      return SC_EXIT_USAGE;
    }
    sc_opts_print_help(stdout, c->desc);
    return SC_EXIT_OK;
  }
  if (!strcmp(name, "man")) {
    /* Undocumented: writes shadowctl.1 (roff) from the option tables; the
     * build installs its output as the man page. */
    print_man(stdout);
    return SC_EXIT_OK;
  }
  if (!strcmp(name, "version")) {
    printf("shadowctl %s\n", SHADOWCTL_VERSION);
    return SC_EXIT_OK;
  }
  const struct sc_cmd *c = find_cmd(name);
  if (!c) {
    fprintf(stderr, "shadowctl: '%s' is not a shadowctl command. See 'shadowctl --help'.\n", name);
    return SC_EXIT_USAGE;
  }
  return c->fn(argc - i, argv + i);
}
