/*
 * mp_decode.c - one-pass msgpack decoder for the traffic file reader: builds
 * the same msgpack_object tree msgpack-c's msgpack_unpack() builds (objects
 * in a msgpack_zone, strings, binaries and extensions pointing into the
 * input), while checking every length against the bytes left. It replaces a
 * validating pre-scan followed by msgpack-c's general unpacker: replay reads
 * one record per request, and the two passes were a fifth of the loop
 * thread's instructions. Stage: traffic. Reference: the msgpack
 * specification (github.com/msgpack/msgpack/blob/master/spec.md), msgpack-c
 * 4.0 objectc.c and unpack_template.h (object mapping, nesting limit).
 *
 * Equivalence with msgpack-c (checked by tests/unit/traffic/test_mp.c and the
 * tf_read fuzz target against msgpack_unpack): a buffer decodes iff
 * msgpack_unpack decodes it whole, to an equal tree:
 *   - signed integers >= 0 are POSITIVE_INTEGER, < 0 NEGATIVE_INTEGER;
 *   - float 32 is FLOAT32 (widened to via.f64), float 64 FLOAT64;
 *   - empty arrays and maps have a NULL ptr;
 *   - a container (empty or not) inside 32 non-empty ones is refused
 *     (MSGPACK_EMBED_STACK_SIZE; msgpack-c reports it as out of memory,
 *     this as corrupt).
 * Allocation stays proportional to the input: a container may not declare
 * more elements than bytes are left (each element takes at least one).
 */
#include <stdint.h>
#include <string.h>

#include "traffic/tf_internal.h"

#define MP_MAX_DEPTH 32

struct mp_dec {
  const uint8_t *p, *end;
  msgpack_zone *z;
  const char *why;
  int nomem;
};

static int bad(struct mp_dec *d, const char *why) {
  d->why = why;
  return -1;
}

/* Takes an n-byte big-endian number. */
static int take_num(struct mp_dec *d, int n, uint64_t *v, const char *why) {
  if (d->end - d->p < n) return bad(d, why);
  *v = sc_tf_be(d->p, n);
  d->p += n;
  return 0;
}

/* Takes n payload bytes (string, binary, extension data). */
static int take_bytes(struct mp_dec *d, uint64_t n, const char **out) {
  if (n > (uint64_t)(d->end - d->p)) return bad(d, "msgpack: string or binary longer than the record");
  *out = (const char *)d->p;
  d->p += n;
  return 0;
}

static int decode(struct mp_dec *d, msgpack_object *o, int depth);

/* Room for a container of n elements, each at least min_bytes of input,
 * at this depth: NULL with the refusal recorded (d->why or d->nomem), or
 * elem_size * n bytes from the zone; *empty set when the container is empty
 * (nothing allocated). msgpack-c refuses any container, empty or not,
 * inside MP_MAX_DEPTH non-empty ones. */
static void *container(struct mp_dec *d, uint64_t n, uint64_t min_bytes, size_t elem_size, int depth, int *empty) {
  *empty = 0;
  if (depth >= MP_MAX_DEPTH) {
    bad(d, "msgpack: containers nested deeper than 32 levels");
    return NULL;
  }
  if (n > (uint64_t)(d->end - d->p) / min_bytes) {
    bad(d, "msgpack: container count larger than the record");
    return NULL;
  }
  if (!n) {
    *empty = 1;
    return NULL;
  }
  void *m = msgpack_zone_malloc(d->z, (size_t)n * elem_size);
  if (!m) d->nomem = 1;
  return m;
}

static int decode_array(struct mp_dec *d, msgpack_object *o, uint64_t n, int depth) {
  int empty;
  msgpack_object *a = container(d, n, 1, sizeof *a, depth, &empty);
  o->type = MSGPACK_OBJECT_ARRAY;
  o->via.array.size = (uint32_t)n;
  o->via.array.ptr = a;
  if (!a) return empty ? 0 : -1;
  for (uint64_t i = 0; i < n; i++)
    if (decode(d, &a[i], depth + 1)) return -1;
  return 0;
}

static int decode_map(struct mp_dec *d, msgpack_object *o, uint64_t n, int depth) {
  int empty;
  msgpack_object_kv *kv = container(d, n, 2, sizeof *kv, depth, &empty);
  o->type = MSGPACK_OBJECT_MAP;
  o->via.map.size = (uint32_t)n;
  o->via.map.ptr = kv;
  if (!kv) return empty ? 0 : -1;
  for (uint64_t i = 0; i < n; i++)
    if (decode(d, &kv[i].key, depth + 1) || decode(d, &kv[i].val, depth + 1)) return -1;
  return 0;
}

static int decode_ext(struct mp_dec *d, msgpack_object *o, uint64_t n) {
  /* the type byte, then n data bytes */
  if (d->p >= d->end || n > (uint64_t)(d->end - d->p - 1)) return bad(d, "msgpack: string or binary longer than the record");
  o->type = MSGPACK_OBJECT_EXT;
  o->via.ext.type = (int8_t)*d->p++;
  o->via.ext.size = (uint32_t)n;
  o->via.ext.ptr = (const char *)d->p;
  d->p += n;
  return 0;
}

static void set_int(msgpack_object *o, int64_t v) {
  if (v < 0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = v;
  } else {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = (uint64_t)v;
  }
}

static int decode(struct mp_dec *d, msgpack_object *o, int depth) {
  if (d->p >= d->end) return bad(d, "msgpack: object ends early");
  uint8_t b = *d->p++;
  uint64_t n;
  const char *cut = "msgpack: length cut", *early = "msgpack: object ends early";
  if (b <= 0x7f) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = b;
    return 0;
  }
  if (b >= 0xe0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = (int8_t)b;
    return 0;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.size = b & 0x1f;
    return take_bytes(d, b & 0x1f, &o->via.str.ptr);
  }
  if (b >= 0x90 && b <= 0x9f) return decode_array(d, o, b & 0x0f, depth);
  if (b >= 0x80 && b <= 0x8f) return decode_map(d, o, b & 0x0f, depth);
  switch (b) {
  case 0xc0:
    o->type = MSGPACK_OBJECT_NIL;
    return 0;
  case 0xc2:
  case 0xc3:
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = b == 0xc3;
    return 0;
  case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
    if (take_num(d, 1 << (b - 0xc4), &n, cut)) return -1;
    o->type = MSGPACK_OBJECT_BIN;
    o->via.bin.size = (uint32_t)n;
    return take_bytes(d, n, &o->via.bin.ptr);
  case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32 */
    if (take_num(d, 1 << (b - 0xc7), &n, cut)) return -1;
    return decode_ext(d, o, n);
  case 0xca: { /* float 32 */
    if (take_num(d, 4, &n, early)) return -1;
    uint32_t u = (uint32_t)n;
    float f;
    memcpy(&f, &u, sizeof f);
    o->type = MSGPACK_OBJECT_FLOAT32;
    o->via.f64 = (double)f;
    return 0;
  }
  case 0xcb: { /* float 64 */
    if (take_num(d, 8, &n, early)) return -1;
    double f;
    memcpy(&f, &n, sizeof f);
    o->type = MSGPACK_OBJECT_FLOAT64;
    o->via.f64 = f;
    return 0;
  }
  case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8/16/32/64 */
    if (take_num(d, 1 << (b - 0xcc), &n, early)) return -1;
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = n;
    return 0;
  case 0xd0: /* int 8/16/32/64 */
    if (take_num(d, 1, &n, early)) return -1;
    set_int(o, (int8_t)(uint8_t)n);
    return 0;
  case 0xd1:
    if (take_num(d, 2, &n, early)) return -1;
    set_int(o, (int16_t)(uint16_t)n);
    return 0;
  case 0xd2:
    if (take_num(d, 4, &n, early)) return -1;
    set_int(o, (int32_t)(uint32_t)n);
    return 0;
  case 0xd3:
    if (take_num(d, 8, &n, early)) return -1;
    set_int(o, (int64_t)n);
    return 0;
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1/2/4/8/16 */
    return decode_ext(d, o, 1u << (b - 0xd4));
  case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
    if (take_num(d, 1 << (b - 0xd9), &n, cut)) return -1;
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.size = (uint32_t)n;
    return take_bytes(d, n, &o->via.str.ptr);
  case 0xdc: case 0xdd: /* array 16/32 */
    if (take_num(d, b == 0xdc ? 2 : 4, &n, "msgpack: container header cut")) return -1;
    return decode_array(d, o, n, depth);
  case 0xde: case 0xdf: /* map 16/32 */
    if (take_num(d, b == 0xde ? 2 : 4, &n, "msgpack: container header cut")) return -1;
    return decode_map(d, o, n, depth);
  default:
    return bad(d, "msgpack: invalid type byte 0xc1");
  }
}

int sc_tf_mp_decode(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out, const char **why) {
  struct mp_dec d = {p, p + n, z, NULL, 0};
  if (decode(&d, out, 0)) {
    if (d.nomem) return SC_TF_MP_NOMEM;
    *why = d.why;
    return SC_TF_MP_CORRUPT;
  }
  if (d.p != d.end) {
    *why = "msgpack: bytes after the record's map";
    return SC_TF_MP_CORRUPT;
  }
  return 0;
}

/* Same tree: types, values (floats bit for bit, so NaN equals itself) and
 * byte contents. */
int sc_tf_mp_same(const msgpack_object *a, const msgpack_object *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case MSGPACK_OBJECT_NIL: return 1;
  case MSGPACK_OBJECT_BOOLEAN: return a->via.boolean == b->via.boolean;
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return a->via.u64 == b->via.u64;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return a->via.i64 == b->via.i64;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64) == 0;
  case MSGPACK_OBJECT_STR:
    return a->via.str.size == b->via.str.size && (!a->via.str.size || !memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size));
  case MSGPACK_OBJECT_BIN:
    return a->via.bin.size == b->via.bin.size && (!a->via.bin.size || !memcmp(a->via.bin.ptr, b->via.bin.ptr, a->via.bin.size));
  case MSGPACK_OBJECT_EXT:
    return a->via.ext.type == b->via.ext.type && a->via.ext.size == b->via.ext.size &&
           (!a->via.ext.size || !memcmp(a->via.ext.ptr, b->via.ext.ptr, a->via.ext.size));
  case MSGPACK_OBJECT_ARRAY:
    if (a->via.array.size != b->via.array.size) return 0;
    for (uint32_t i = 0; i < a->via.array.size; i++)
      if (!sc_tf_mp_same(&a->via.array.ptr[i], &b->via.array.ptr[i])) return 0;
    return 1;
  case MSGPACK_OBJECT_MAP:
    if (a->via.map.size != b->via.map.size) return 0;
    for (uint32_t i = 0; i < a->via.map.size; i++)
      if (!sc_tf_mp_same(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
          !sc_tf_mp_same(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
        return 0;
    return 1;
  }
  return 0;
}
