/*
 * err.c - error names, messages and the struct sc_error helpers.
 * Stage: util. See err.h.
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sc_strerror(int code) {
  switch (code) {
  case SC_OK: return "success";
#define XX(name, c, msg) case SC_##name: return msg;
  SC_ERR_MAP(XX)
#undef XX
  default: return "unknown error";
  }
}

const char *sc_err_name(int code) {
  switch (code) {
  case SC_OK: return "SC_OK";
#define XX(name, c, msg) case SC_##name: return "SC_" #name;
  SC_ERR_MAP(XX)
#undef XX
  default: return "SC_EUNKNOWN";
  }
}

void sc_error_init(struct sc_error *err) {
  if (!err) return;
  err->code = 0;
  err->msg[0] = '\0';
}

int sc_error_set(struct sc_error *err, int code, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}

int sc_error_prefix(struct sc_error *err, const char *fmt, ...) {
  if (!err) return SC_EINVAL;
  char pre[SC_ERRMSG_MAX];
  char old[SC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  if (old[0])
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old);
  else
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, sc_strerror(err->code));
  return err->code;
}
