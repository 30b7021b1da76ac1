/*
 * json.c - the JSON report (the model as it is, for tools), the report
 * format names, and atomic report file writes. Stage: report. Reference:
 * RFC 8259, report/report.h.
 */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sc_report_format_parse(const char *s) {
  if (!strcmp(s, "html")) return SC_REPORT_HTML;
  if (!strcmp(s, "json")) return SC_REPORT_JSON;
  if (!strcmp(s, "junit") || !strcmp(s, "xml")) return SC_REPORT_JUNIT;
  if (!strcmp(s, "markdown") || !strcmp(s, "md")) return SC_REPORT_MARKDOWN;
  return -1;
}

int sc_report_json(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) {
  char *s = json_dumps(r->model, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  if (!s) return sc_error_set(err, SC_ENOMEM, "cannot serialise the JSON report");
  int rc = sc_buf_puts(out, s);
  if (!rc) rc = sc_buf_putc(out, '\n');
  free(s);
  if (rc) return sc_error_set(err, rc, "JSON report larger than %zu bytes", out->max);
  return SC_OK;
}

static int io_err(struct sc_error *err, const char *what, const char *path) {
  int e = errno;
  /* An output that cannot be written is a failed job (exit 1), not bad input. */
  int code = e == ENOSPC ? SC_ENOSPC : SC_EIO;
  return sc_error_set(err, code, "cannot %s '%s': %s", what, path, strerror(e));
}

int sc_report_write_file(const char *path, const char *data, size_t n, struct sc_error *err) {
  if (!strcmp(path, "-")) {
    if (fwrite(data, 1, n, stdout) != n || fflush(stdout)) return io_err(err, "write", "stdout");
    return SC_OK;
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return sc_error_set(err, SC_ENOMEM, "out of memory");
  snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
  int rc = SC_OK;
  int fd = mkstemp(tmp);
  if (fd < 0) { rc = io_err(err, "create", path); goto out; }
  if (fchmod(fd, 0644)) { rc = io_err(err, "chmod", tmp); goto fail; }
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      rc = io_err(err, "write", path);
      goto fail;
    }
    off += (size_t)w;
  }
  if (fsync(fd)) { rc = io_err(err, "write", path); goto fail; }
  if (close(fd)) { fd = -1; rc = io_err(err, "write", path); goto fail; }
  fd = -1;
  if (rename(tmp, path)) { rc = io_err(err, "rename into", path); goto fail; }
  goto out;
fail:
  if (fd >= 0) close(fd);
  unlink(tmp);
out:
  free(tmp);
  return rc;
}
