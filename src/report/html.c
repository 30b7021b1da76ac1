/*
 * html.c - the self-contained HTML report: reports/templates/report.html.tmpl
 * (+ partials, style.css inlined) rendered over the model, with the charts
 * generated here as inline SVG (the only raw blocks). Stage: report.
 * Reference: issue 5 (sections), HTML Living Standard, report/tmpl.h.
 */
#include "report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/svg.h"
#include "report/tmpl.h"
#include "util/embed.h"

SC_EMBED_DECLARE(sc_embed_report_html_tmpl);
SC_EMBED_DECLARE(sc_embed_style_css);
SC_EMBED_DECLARE(sc_embed_criteria_html_tmpl);
SC_EMBED_DECLARE(sc_embed_examples_html_tmpl);

/* The four template files, from --templates DIR when given, else compiled in. */
enum { T_REPORT, T_STYLE, T_CRITERIA, T_EXAMPLES, T_COUNT };
static const char *const tfile[T_COUNT] = {"report.html.tmpl", "style.css", "criteria.html.tmpl",
                                           "examples.html.tmpl"};
struct tset {
  const char *text[T_COUNT];
  char *owned[T_COUNT];
  char name[T_COUNT][512]; /* as named in errors */
};

#define SC_TEMPLATE_MAX (4u << 20)

static int load_templates(struct tset *t, const char *dir, struct sc_error *err) {
  const char *embedded[T_COUNT] = {sc_embed_report_html_tmpl, sc_embed_style_css, sc_embed_criteria_html_tmpl,
                                   sc_embed_examples_html_tmpl};
  struct stat st;
  if (dir && stat(dir, &st))
    return sc_error_set(err, SC_ENOENT, "template directory '%s': %s", dir, strerror(errno));
  if (dir && !S_ISDIR(st.st_mode))
    return sc_error_set(err, SC_EINVAL, "template directory '%s': not a directory", dir);
  for (int i = 0; i < T_COUNT; i++) {
    t->text[i] = embedded[i];
    snprintf(t->name[i], sizeof t->name[i], "%s", tfile[i]);
    if (!dir) continue;
    char path[512];
    int w = snprintf(path, sizeof path, "%s/%s", dir, tfile[i]);
    if (w < 0 || (size_t)w >= sizeof path) return sc_error_set(err, SC_EINVAL, "template directory name too long");
    FILE *f = fopen(path, "rb");
    if (!f) {
      if (errno == ENOENT) continue; /* not overridden */
      return sc_error_set(err, SC_EIO, "%s: %s", path, strerror(errno));
    }
    struct sc_buf b;
    sc_buf_init(&b, SC_TEMPLATE_MAX);
    char chunk[8192];
    size_t n;
    int rc = SC_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sc_buf_append(&b, chunk, n);
    if (!rc && ferror(f)) rc = SC_EIO;
    fclose(f);
    if (!rc) rc = sc_buf_append(&b, "", 1);
    if (rc) {
      sc_buf_release(&b);
      return sc_error_set(err, rc == SC_ETOOBIG ? SC_EINVAL : rc, "%s: %s", path,
                          rc == SC_ETOOBIG ? "template larger than 4 MiB" : "cannot be read");
    }
    size_t len;
    t->owned[i] = (char *)sc_buf_take(&b, &len);
    if (!t->owned[i]) return sc_error_set(err, SC_ENOMEM, "out of memory");
    if (strlen(t->owned[i]) != len - 1) return sc_error_set(err, SC_EINVAL, "%s: contains a NUL byte", path);
    t->text[i] = t->owned[i];
    snprintf(t->name[i], sizeof t->name[i], "%s", path);
  }
  return SC_OK;
}

static void free_templates(struct tset *t) {
  for (int i = 0; i < T_COUNT; i++) free(t->owned[i]);
}

static const char *loader(void *ctx, const char *name) {
  const struct tset *t = ctx;
  if (!strcmp(name, "criteria")) return t->text[T_CRITERIA];
  if (!strcmp(name, "examples")) return t->text[T_EXAMPLES];
  return NULL;
}

#define NBINS 40

int sc_report_html(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) {
  struct sc_buf cdf, hist, steps, css;
  sc_buf_init(&cdf, 4u << 20);
  sc_buf_init(&hist, 1u << 20);
  sc_buf_init(&steps, 1u << 20);
  sc_buf_init(&css, 1u << 20);
  int rc = SC_OK;
  json_t *m = r->model;
  struct tset ts;
  memset(&ts, 0, sizeof ts);
  rc = load_templates(&ts, r->template_dir, err);
  if (rc) goto out;

  /* The CSS is inlined raw, so it must not close the element. */
  if (strstr(ts.text[T_STYLE], "</")) {
    rc = sc_error_set(err, SC_EINVAL, "%s must not contain '</'", ts.name[T_STYLE]);
    goto out;
  }
  rc = sc_buf_puts(&css, ts.text[T_STYLE]);
  if (rc) goto oom;

  struct sc_svg_series series[3];
  size_t ns = 0;
  static const char *const names[3] = {"current", "candidate", "secondary"};
  for (int k = 0; k < 3; k++)
    if (r->nlat[k]) series[ns++] = (struct sc_svg_series){names[k], r->lat[k], r->nlat[k]};
  if (ns) {
    rc = sc_svg_cdf(&cdf, "Latency CDF per target", series, ns, "latency (ms)");
    if (rc) goto oom;
  }
  if (r->nscore_delta) {
    double lo = 0, hi = 0, counts[NBINS] = {0};
    for (size_t i = 0; i < r->nscore_delta; i++) {
      double v = r->score_delta[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    for (size_t i = 0; i < r->nscore_delta; i++) {
      double x = (r->score_delta[i] - lo) / (hi - lo) * NBINS;  /* NaN when the range overflows */
      size_t b = !(x >= 0) ? 0 : x >= NBINS ? NBINS - 1 : (size_t)x;
      counts[b] += 1;
    }
    rc = sc_svg_histogram(&hist, "Score delta (candidate - current)", lo, hi, counts, NBINS, "score delta");
    if (rc) goto oom;
  }
  json_t *st = json_object_get(m, "steps");
  if (json_array_size(st)) {
    size_t n = json_array_size(st);
    struct sc_svg_step *ss = calloc(n, sizeof *ss);
    if (!ss) { rc = SC_ENOMEM; goto oom; }
    for (size_t i = 0; i < n; i++) {
      json_t *s = json_array_get(st, i);
      ss[i].fraction = json_number_value(json_object_get(s, "fraction"));
      ss[i].exchanges = json_integer_value(json_object_get(s, "exchanges"));
      ss[i].verdict = json_string_value(json_object_get(s, "verdict"));
    }
    rc = sc_svg_timeline(&steps, "Progressive canary steps", ss, n);
    free(ss);
    if (rc) goto oom;
  }
  {
    struct sc_tmpl_raw raw[] = {
      {"style", css.p},
      {"latency_chart", cdf.p},
      {"score_hist", hist.p},
      {"step_chart", steps.p},
    };
    struct sc_tmpl_env env = {loader, &ts, raw, sizeof raw / sizeof raw[0]};
    rc = sc_tmpl_render(out, ts.name[T_REPORT], ts.text[T_REPORT], m, &env, err);
  }
  goto out;
oom:
  rc = sc_error_set(err, rc, "cannot render charts: %s", sc_strerror(rc));
out:
  free_templates(&ts);
  sc_buf_release(&cdf);
  sc_buf_release(&hist);
  sc_buf_release(&steps);
  sc_buf_release(&css);
  return rc;
}
