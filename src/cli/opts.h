/*
 * opts.h - option tables over getopt_long; --help is generated from them (git
 * parse-options). Each cmd_<name>.c declares one `struct sc_cmd_desc` with its
 * usage text and option table side by side.
 *
 * Parsing loop, in a command:
 *
 *   struct sc_optparser op;
 *   sc_opts_begin(&op, &cmd_foo_desc, argc, argv);
 *   int id; const char *arg;
 *   while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
 *     switch (id) {
 *     case SC_OPT_HELP: return sc_opts_help_exit(&cmd_foo_desc);   // exit status 0
 *     case SC_OPT_ERROR: return SC_EXIT_USAGE;                       // message already printed
 *     case OPT_X: ...
 *     }
 *   }
 *   positional arguments: argv[op.optind .. argc-1]
 */
#ifndef SC_CLI_OPTS_H
#define SC_CLI_OPTS_H

#include <stdio.h>

enum { SC_OPT_END = -1, SC_OPT_ERROR = -2, SC_OPT_HELP = -3 };

enum sc_opt_arg { SC_ARG_NONE = 0, SC_ARG_REQUIRED = 1, SC_ARG_OPTIONAL = 2 };

struct sc_opt {
  int id;                 /* returned by sc_opts_next; > 0 */
  const char *long_name;  /* without "--"; NULL ends the table */
  char short_name;        /* 0 for none */
  enum sc_opt_arg arg;
  const char *argname;    /* shown in help: "FILE", "N", "P%" */
  const char *help;       /* one or more sentences; wrapped in --help */
};

struct sc_cmd_desc {
  const char *name;       /* "capture" */
  const char *synopsis;   /* "-r FILE|-i IFACE [options] -o OUT" */
  const char *summary;    /* one line for "shadowctl --help" */
  const char *description;/* paragraph(s) before the options; may be NULL */
  const struct sc_opt *opts; /* terminated by an entry with long_name NULL */
  const char *epilogue;   /* exit status, examples; may be NULL */
};

struct sc_optparser {
  const struct sc_cmd_desc *desc;
  int argc;
  char **argv;
  int optind;             /* first positional argument after parsing */
  void *priv;             /* getopt tables */
};

void sc_opts_begin(struct sc_optparser *op, const struct sc_cmd_desc *desc, int argc, char **argv);
/* Returns an option id, SC_OPT_HELP (-h/--help), SC_OPT_ERROR (a usage line
 * was printed to stderr), or SC_OPT_END. *arg gets the option's argument. */
int sc_opts_next(struct sc_optparser *op, const char **arg);
void sc_opts_end(struct sc_optparser *op);

/* Prints the full help of a command (synopsis, description, options, epilogue). */
void sc_opts_print_help(FILE *f, const struct sc_cmd_desc *desc);
/* Prints "shadowctl CMD: MSG" and "usage: ..." / "Try 'shadowctl CMD --help'". */
void sc_opts_usage_error(const struct sc_cmd_desc *desc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Shared option value parsers. Each returns 0 on success and otherwise prints
 * a usage error naming the option and returns -1. */
int sc_parse_u64(const struct sc_cmd_desc *d, const char *opt, const char *s, unsigned long long *out);
int sc_parse_percent(const struct sc_cmd_desc *d, const char *opt, const char *s, double *out); /* "5%", "5", "0.5%" -> 0..100 */
int sc_parse_duration(const struct sc_cmd_desc *d, const char *opt, const char *s, double *seconds); /* 500ms, 10s, 5m, 1h, plain seconds */
int sc_parse_size(const struct sc_cmd_desc *d, const char *opt, const char *s, unsigned long long *bytes); /* 1M, 64k, 1G, bytes */

/* Writes one command's section of the man page (roff), from the same table. */
void sc_opts_print_man_section(FILE *f, const struct sc_cmd_desc *desc);

#endif
