/*
 * replay_main.c - runs a libFuzzer target's LLVMFuzzerTestOneInput over files
 * and directories given on the command line, without libFuzzer. Linked with
 * every tests/fuzz/fuzz_<x>.c in normal and sanitizer builds as
 * fuzzreplay_<x>; ctest's fuzz_regress_<x> runs it over the seed corpus
 * (tests/fuzz/corpus/<x>/) and every finding kept in tests/fixtures/regress/
 * (fuzz_<x>-*), so a crash found once stays fixed.
 *
 * usage: fuzzreplay_<x> [--prefix P] PATH...   (a directory: each regular
 * file in it whose name starts with P). Exit status: 0 every input ran (a
 * crash or sanitizer report aborts the process), 2 usage or unreadable path,
 * 3 no input found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) { fclose(f); return -1; }
  size_t r;
  while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      if (cap >= (64u << 20)) break; /* inputs are small; bound anyway */
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) { free(buf); fclose(f); return -1; }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  /* an exact-size copy, so ASan sees reads past the input's end */
  uint8_t *in = malloc(n ? n : 1);
  if (!in) { free(buf); return -1; }
  memcpy(in, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  return 0;
}

int main(int argc, char **argv) {
  const char *prefix = "";
  int ran = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
      prefix = argv[++i];
      continue;
    }
    struct stat st;
    if (stat(argv[i], &st)) continue; /* an absent regress directory is fine */
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i])) return 2;
      ran++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) { perror(argv[i]); return 2; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix))) continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
      if (run_file(path)) { closedir(d); return 2; }
      ran++;
    }
    closedir(d);
  }
  printf("%d inputs ran cleanly\n", ran);
  return ran ? 0 : 3;
}
