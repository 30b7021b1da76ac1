/*
 * opts.c - option tables -> getopt_long, and generated --help text.
 * Stage: cli. See opts.h.
 */
#define _GNU_SOURCE
#include "cli/opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct tables {
  struct option *lopts;
  char *shorts;
  int n;
};

void sc_opts_begin(struct sc_optparser *op, const struct sc_cmd_desc *desc, int argc, char **argv) {
  op->desc = desc;
  op->argc = argc;
  op->argv = argv;
  op->optind = 1;
  int n = 0;
  while (desc->opts && desc->opts[n].long_name) n++;
  struct tables *t = calloc(1, sizeof *t);
  if (t) {
    t->n = n;
    t->lopts = calloc((size_t)n + 2, sizeof *t->lopts);
    t->shorts = calloc((size_t)n * 3 + 4, 1);
  }
  if (!t || !t->lopts || !t->shorts) {
    if (t) { free(t->lopts); free(t->shorts); free(t); }
    op->priv = NULL;
    return;
  }
  char *s = t->shorts;
  /* GNU permutation: options may follow positional arguments. A leading ':'
   * makes getopt report a missing argument as ':' instead of '?'. */
  *s++ = ':';
  *s++ = 'h';
  for (int i = 0; i < n; i++) {
    const struct sc_opt *o = &desc->opts[i];
    t->lopts[i].name = o->long_name;
    t->lopts[i].has_arg = o->arg == SC_ARG_NONE ? no_argument
                        : o->arg == SC_ARG_REQUIRED ? required_argument : optional_argument;
    t->lopts[i].flag = NULL;
    t->lopts[i].val = 1000 + i;
    if (o->short_name) {
      *s++ = o->short_name;
      if (o->arg == SC_ARG_REQUIRED) *s++ = ':';
      else if (o->arg == SC_ARG_OPTIONAL) { *s++ = ':'; *s++ = ':'; }
    }
  }
  *s = '\0';
  t->lopts[n].name = "help";
  t->lopts[n].has_arg = no_argument;
  t->lopts[n].val = 'h';
  op->priv = t;
  optind = 1;
  opterr = 0;
}

int sc_opts_next(struct sc_optparser *op, const char **arg) {
  struct tables *t = op->priv;
  *arg = NULL;
  if (!t) {
    fprintf(stderr, "shadowctl %s: out of memory\n", op->desc->name);
    return SC_OPT_ERROR;
  }
  int li = -1;
  int c = getopt_long(op->argc, op->argv, t->shorts, t->lopts, &li);
  op->optind = optind;
  if (c == -1) return SC_OPT_END;
  if (c == 'h') return SC_OPT_HELP;
  if (c == '?' || c == ':') {
    const char *bad = op->argv[optind - 1];
    if (c == ':')
      sc_opts_usage_error(op->desc, "option '%s' requires an argument", bad ? bad : "?");
    else if (optopt && optopt < 1000)
      sc_opts_usage_error(op->desc, "unknown option '-%c'", optopt);
    else
      sc_opts_usage_error(op->desc, "unknown option '%s'", bad ? bad : "?");
    return SC_OPT_ERROR;
  }
  const struct sc_opt *o = NULL;
  if (c >= 1000 && c - 1000 < t->n) {
    o = &op->desc->opts[c - 1000];
  } else {
    for (int i = 0; i < t->n; i++)
      if (op->desc->opts[i].short_name == c) { o = &op->desc->opts[i]; break; }
  }
  if (!o) {
    sc_opts_usage_error(op->desc, "unknown option '-%c'", c);
    return SC_OPT_ERROR;
  }
  *arg = optarg;
  return o->id;
}

void sc_opts_end(struct sc_optparser *op) {
  struct tables *t = op->priv;
  if (t) {
    free(t->lopts);
    free(t->shorts);
    free(t);
  }
  op->priv = NULL;
}

/* Writes text wrapped at `width` columns, every line indented by `indent`
 * (the first line continues at column `col`). Newlines in text are kept. */
static void wrap(FILE *f, const char *text, int indent, int col, int width) {
  const char *p = text;
  while (*p) {
    if (*p == '\n') {
      fputc('\n', f);
      fprintf(f, "%*s", indent, "");
      col = indent;
      p++;
      continue;
    }
    const char *w = p;
    while (*w && *w != ' ' && *w != '\n') w++;
    int wl = (int)(w - p);
    if (col > indent && col + 1 + wl > width) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    fwrite(p, 1, (size_t)wl, f);
    col += wl;
    p = w;
    while (*p == ' ') p++;
  }
  fputc('\n', f);
}

void sc_opts_print_help(FILE *f, const struct sc_cmd_desc *d) {
  fprintf(f, "usage: shadowctl %s %s\n\n", d->name, d->synopsis ? d->synopsis : "");
  if (d->summary) fprintf(f, "%s\n\n", d->summary);
  if (d->description) {
    wrap(f, d->description, 0, 0, 78);
    fputc('\n', f);
  }
  fprintf(f, "Options:\n");
  for (int i = 0; d->opts && d->opts[i].long_name; i++) {
    const struct sc_opt *o = &d->opts[i];
    char lhs[96];
    int n;
    if (o->short_name)
      n = snprintf(lhs, sizeof lhs, "  -%c, --%s", o->short_name, o->long_name);
    else
      n = snprintf(lhs, sizeof lhs, "      --%s", o->long_name);
    if (o->arg == SC_ARG_REQUIRED && n > 0 && (size_t)n < sizeof lhs)
      snprintf(lhs + n, sizeof lhs - (size_t)n, " %s", o->argname ? o->argname : "ARG");
    else if (o->arg == SC_ARG_OPTIONAL && n > 0 && (size_t)n < sizeof lhs)
      snprintf(lhs + n, sizeof lhs - (size_t)n, "[=%s]", o->argname ? o->argname : "ARG");
    int len = (int)strlen(lhs);
    fputs(lhs, f);
    if (len >= 30) {
      fprintf(f, "\n%*s", 30, "");
      len = 30;
    } else {
      fprintf(f, "%*s", 30 - len, "");
      len = 30;
    }
    wrap(f, o->help ? o->help : "", 30, 30, 79);
  }
  fprintf(f, "  -h, --help                  Show this help and exit.\n");
  if (d->epilogue) {
    fputc('\n', f);
    wrap(f, d->epilogue, 0, 0, 78);
  }
}

void sc_opts_usage_error(const struct sc_cmd_desc *d, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "shadowctl %s: ", d->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nusage: shadowctl %s %s\nTry 'shadowctl %s --help' for more information.\n",
          d->name, d->synopsis ? d->synopsis : "", d->name);
}

int sc_parse_u64(const struct sc_cmd_desc *d, const char *opt, const char *s, unsigned long long *out) {
  char *end = NULL;
  errno = 0;
  if (!s || !*s || *s == '-') goto bad;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) goto bad;
  *out = v;
  return 0;
bad:
  sc_opts_usage_error(d, "invalid value '%s' for --%s: expected a non-negative integer", s ? s : "", opt);
  return -1;
}

int sc_parse_percent(const struct sc_cmd_desc *d, const char *opt, const char *s, double *out) {
  char *end = NULL;
  if (!s || !*s) goto bad;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s) goto bad;
  if (*end == '%') end++;
  if (*end || !(v >= 0.0 && v <= 100.0)) goto bad;
  *out = v;
  return 0;
bad:
  sc_opts_usage_error(d, "invalid value '%s' for --%s: expected a percentage from 0%% to 100%%", s ? s : "", opt);
  return -1;
}

int sc_parse_duration(const struct sc_cmd_desc *d, const char *opt, const char *s, double *seconds) {
  char *end = NULL;
  if (!s || !*s) goto bad;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !(v >= 0.0) || isinf(v)) goto bad;
  double mul = 1.0;
  if (!*end || !strcmp(end, "s")) mul = 1.0;
  else if (!strcmp(end, "ms")) mul = 1e-3;
  else if (!strcmp(end, "us")) mul = 1e-6;
  else if (!strcmp(end, "m")) mul = 60.0;
  else if (!strcmp(end, "h")) mul = 3600.0;
  else goto bad;
  *seconds = v * mul;
  return 0;
bad:
  sc_opts_usage_error(d, "invalid duration '%s' for --%s: expected e.g. 500ms, 10s, 5m, 1h", s ? s : "", opt);
  return -1;
}

int sc_parse_size(const struct sc_cmd_desc *d, const char *opt, const char *s, unsigned long long *bytes) {
  char *end = NULL;
  if (!s || !*s || *s == '-') goto bad;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !(v >= 0.0)) goto bad;
  double mul = 1.0;
  if (!*end || !strcmp(end, "B")) mul = 1.0;
  else if (!strcasecmp(end, "k") || !strcasecmp(end, "KiB") || !strcasecmp(end, "KB")) mul = 1024.0;
  else if (!strcasecmp(end, "m") || !strcasecmp(end, "MiB") || !strcasecmp(end, "MB")) mul = 1048576.0;
  else if (!strcasecmp(end, "g") || !strcasecmp(end, "GiB") || !strcasecmp(end, "GB")) mul = 1073741824.0;
  else goto bad;
  if (v * mul > 1.8e19) goto bad;
  *bytes = (unsigned long long)(v * mul);
  return 0;
bad:
  sc_opts_usage_error(d, "invalid size '%s' for --%s: expected e.g. 4096, 64k, 1M, 2G", s ? s : "", opt);
  return -1;
}

/* roff-escapes text: backslashes, leading dots/quotes, hyphens in options. */
static void roff(FILE *f, const char *s) {
  int bol = 1;
  for (; s && *s; s++) {
    if (bol && (*s == '.' || *s == '\'')) fputs("\\&", f);
    bol = 0;
    if (*s == '\\') fputs("\\e", f);
    else if (*s == '-') fputs("\\-", f);
    else if (*s == '\n') { fputs("\n.br\n", f); bol = 1; }
    else fputc(*s, f);
  }
}

void sc_opts_print_man_section(FILE *f, const struct sc_cmd_desc *d) {
  fprintf(f, ".SS \"shadowctl %s\"\n", d->name);
  fputs(".B shadowctl ", f);
  roff(f, d->name);
  fputs("\n", f);
  roff(f, d->synopsis);
  fputs("\n.PP\n", f);
  roff(f, d->summary);
  fputs("\n", f);
  if (d->description) {
    fputs(".PP\n", f);
    roff(f, d->description);
    fputs("\n", f);
  }
  for (int i = 0; d->opts && d->opts[i].long_name; i++) {
    const struct sc_opt *o = &d->opts[i];
    fputs(".TP\n", f);
    if (o->short_name) fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB\\-\\-", f);
    roff(f, o->long_name);
    fputs("\\fR", f);
    if (o->arg != SC_ARG_NONE) {
      fputs(o->arg == SC_ARG_OPTIONAL ? "[=\\fI" : " \\fI", f);
      roff(f, o->argname ? o->argname : "ARG");
      fputs(o->arg == SC_ARG_OPTIONAL ? "\\fR]" : "\\fR", f);
    }
    fputs("\n", f);
    roff(f, o->help);
    fputs("\n", f);
  }
  if (d->epilogue) {
    fputs(".PP\n", f);
    roff(f, d->epilogue);
    fputs("\n", f);
  }
}
