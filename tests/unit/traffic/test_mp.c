/*
 * test_mp.c - the traffic reader's msgpack decoder (src/traffic/mp_decode.c)
 * held to msgpack-c's msgpack_unpack(): every type, random valid trees,
 * every truncation and byte mutation of them decode (or fail) alike and to
 * the same tree; the nesting limit; counts larger than the input.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traffic/tf_internal.h"

/* Decodes p[0..n) with both; asserts they agree. Returns 1 when decoded. */
static int agree(const uint8_t *p, size_t n) {
  msgpack_zone *z1 = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE), *z2 = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  cr_assert(z1 && z2);
  msgpack_object ref, got;
  const char *why = NULL;
  int rc = sc_tf_mp_decode(p, n, z2, &got, &why);
  cr_assert_neq(rc, SC_TF_MP_NOMEM, "no allocation failure expected (%zu bytes)", n);
  if (rc && strstr(why, "count larger")) {
    /* msgpack-c would allocate for the declared count (up to gigabytes)
     * before finding the input short: not run */
    msgpack_zone_free(z1);
    msgpack_zone_free(z2);
    return 0;
  }
  size_t off = 0;
  msgpack_unpack_return ur = msgpack_unpack((const char *)p, n, &off, z1, &ref);
  int ref_ok = ur == MSGPACK_UNPACK_SUCCESS && off == n;
  cr_assert_eq(rc == 0, ref_ok, "decoder %s, msgpack-c %s (unpack %d, %zu of %zu bytes)", rc ? why : "ok",
               ref_ok ? "ok" : "fails", (int)ur, off, n);
  if (rc) cr_assert(why && !strncmp(why, "msgpack: ", 9), "a reason is given");
  if (ref_ok) cr_assert(sc_tf_mp_same(&ref, &got), "same tree (%zu bytes)", n);
  msgpack_zone_free(z1);
  msgpack_zone_free(z2);
  return ref_ok;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* A random tree of every msgpack type, written with msgpack-c's packer. */
static void pack_random(msgpack_packer *pk, int depth) {
  static const char bytes[] = "abcdefghijklmnopqrstuvwxyz0123456789\x00\xff\x80";
  unsigned kind = (unsigned)(rnd() % (depth < 4 ? 16 : 13));
  switch (kind) {
  case 0: msgpack_pack_nil(pk); break;
  case 1: rnd() & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
  case 2: msgpack_pack_uint64(pk, rnd() >> (rnd() % 64)); break;
  case 3: msgpack_pack_int64(pk, (int64_t)(rnd() >> (rnd() % 64)) * (rnd() & 1 ? -1 : 1)); break;
  case 4: msgpack_pack_int8(pk, (int8_t)rnd()); break;
  case 5: msgpack_pack_float(pk, (float)(int32_t)rnd() / 7.0f); break;
  case 6: msgpack_pack_double(pk, (double)(int64_t)rnd() / 3.0); break;
  case 7:
  case 8: {
    size_t n = rnd() % 4 == 0 ? (size_t)(rnd() % 300) : (size_t)(rnd() % 40);
    msgpack_pack_str(pk, n);
    for (size_t i = 0; i < n; i++) msgpack_pack_str_body(pk, &bytes[rnd() % (sizeof bytes - 1)], 1);
    break;
  }
  case 9: {
    size_t n = (size_t)(rnd() % 70);
    msgpack_pack_bin(pk, n);
    for (size_t i = 0; i < n; i++) msgpack_pack_bin_body(pk, &bytes[rnd() % (sizeof bytes - 1)], 1);
    break;
  }
  case 10: {
    static const size_t sizes[] = {1, 2, 4, 8, 16, 0, 3, 300};
    size_t n = sizes[rnd() % 8];
    msgpack_pack_ext(pk, n, (int8_t)rnd());
    for (size_t i = 0; i < n; i++) msgpack_pack_ext_body(pk, &bytes[rnd() % (sizeof bytes - 1)], 1);
    break;
  }
  case 11: msgpack_pack_uint16(pk, (uint16_t)rnd()); break;
  case 12: msgpack_pack_int32(pk, (int32_t)rnd()); break;
  case 13:
  case 14: {
    size_t n = rnd() % 8 == 0 ? (size_t)(rnd() % 20) : (size_t)(rnd() % 5);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) pack_random(pk, depth + 1);
    break;
  }
  default: {
    size_t n = (size_t)(rnd() % 6);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < 2 * n; i++) pack_random(pk, depth + 1);
    break;
  }
  }
}

Test(mp, random_trees_and_every_cut_and_mutation_agree_with_msgpack_c) {
  int decoded = 0, failed = 0;
  for (int t = 0; t < 400; t++) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_random(&pk, 0);
    const uint8_t *p = (const uint8_t *)sb.data;
    cr_assert(agree(p, sb.size), "tree %d decodes", t);
    decoded++;
    /* every cut */
    for (size_t n = 0; n < sb.size && n < 400; n++) failed += !agree(p, n);
    /* byte mutations */
    uint8_t *m = malloc(sb.size + 1);
    for (int k = 0; k < 40; k++) {
      memcpy(m, p, sb.size);
      size_t at = (size_t)(rnd() % sb.size);
      m[at] = (uint8_t)rnd();
      decoded += agree(m, sb.size);
    }
    /* a trailing byte */
    memcpy(m, p, sb.size);
    m[sb.size] = 0xc0;
    cr_assert_not(agree(m, sb.size + 1), "trailing bytes are refused");
    free(m);
    msgpack_sbuffer_destroy(&sb);
  }
  cr_assert_gt(failed, 1000, "cuts exercised the error paths (%d)", failed);
  cr_assert_gt(decoded, 400);
}

Test(mp, every_type_byte_alone_and_with_padding) {
  uint8_t buf[40];
  for (int b = 0; b < 256; b++) {
    for (size_t pad = 0; pad < 20; pad++) {
      memset(buf, 0, sizeof buf);
      buf[0] = (uint8_t)b;
      agree(buf, 1 + pad);
    }
  }
}

Test(mp, nesting_limit_is_msgpack_c_s) {
  uint8_t buf[64];
  for (size_t depth = 30; depth <= 34; depth++) {
    memset(buf, 0x91, depth); /* [[[...]]] */
    buf[depth] = 0xc0;
    int ok = agree(buf, depth + 1);
    cr_assert_eq(ok, depth <= 32, "depth %zu", depth);
  }
  /* an empty container inside 32 non-empty ones is refused too, an empty
   * one inside 31 is not */
  memset(buf, 0x91, 32);
  buf[32] = 0x90;
  cr_assert_not(agree(buf, 33));
  cr_assert(agree(buf + 1, 32));
}

Test(mp, counts_larger_than_the_input_fail_without_allocating) {
  static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
  static const uint8_t huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0};
  static const uint8_t huge_str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
  static const uint8_t huge_ext[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a'};
  const uint8_t *cases[] = {huge_array, huge_map, huge_str, huge_ext};
  size_t lens[] = {sizeof huge_array, sizeof huge_map, sizeof huge_str, sizeof huge_ext};
  for (int i = 0; i < 4; i++) {
    msgpack_zone *z = msgpack_zone_new(256);
    msgpack_object o;
    const char *why = NULL;
    cr_assert_eq(sc_tf_mp_decode(cases[i], lens[i], z, &o, &why), SC_TF_MP_CORRUPT, "case %d", i);
    cr_assert_not_null(why);
    msgpack_zone_free(z);
  }
}
