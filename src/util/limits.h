/*
 * limits.h - every hard cap in shadowctl, in one place (curl DYN_*).
 * Captured input is untrusted: these caps say so. Each can be lowered (and
 * some raised) from the command line where the stage documents it.
 */
#ifndef SC_UTIL_LIMITS_H
#define SC_UTIL_LIMITS_H

/* capture */
#define SC_MAX_SNAPLEN            262144
#define SC_DEFAULT_MAX_BODY       (1u << 20)        /* --max-body default: 1 MiB */
#define SC_DEFAULT_CAPTURE_BUFFER (64 << 20)       /* capture --buffer-size default for -i: 64 MiB */
#define SC_MAX_BODY_LIMIT         (256u << 20)      /* --max-body upper bound */
#define SC_MAX_HEADER_BYTES       (256u << 10)      /* request/response head */
#define SC_MAX_HEADERS            256               /* header lines per message */
#define SC_MAX_STREAM_BUFFER      (8u << 20)        /* per direction, out-of-order + unparsed */
#define SC_DEFAULT_REASM_MEMORY   (512ull << 20)    /* global reassembly cap */
#define SC_DEFAULT_IDLE_TIMEOUT_S 120               /* idle connection eviction */
#define SC_MAX_PIPELINE_DEPTH     1024              /* pending requests per connection */

/* traffic file */
#define SC_MAX_RECORD_BYTES       (600u << 20)      /* one msgpack frame */
#define SC_MAX_HEADER_RECORD      (64u << 10)       /* file header frame */

/* replay */
#define SC_DEFAULT_RESP_BODY_CAP  (1u << 20)        /* stored response body */
#define SC_MAX_RESP_BYTES         (64u << 20)       /* read at most, then "body too large" */
#define SC_DEFAULT_POOL_SIZE      64
#define SC_MAX_CONCURRENCY        65536

/* diff */
#define SC_MAX_JSON_DEPTH         64
#define SC_MAX_JSON_BYTES         (16u << 20)
#define SC_MAX_DIFF_PATHS         4096              /* diff entries per exchange */
#define SC_MAX_PATH_LEN           512

/* config, labels */
#define SC_MAX_CONFIG_BYTES       (1u << 20)
#define SC_MAX_LABEL_LINE         (64u << 10)

#endif
