/* dudect-style timing measurements for `cryptobench leakcheck`, and a
 * deliberately leaky table-lookup AES that the test must flag.
 *
 * cb_leak_measure() times one call per input with the time-stamp counter
 * (lfence; rdtsc ... rdtscp; lfence), so Python's own noise stays out of the
 * numbers. The kernel entry points are passed in as function pointers (cffi:
 * ffi.addressof(lib, "cb_aesgcm_vaes_encrypt")) and called through the
 * signatures documented below, so this folder builds with or without the
 * other csrc/ folders; cryptobench/leakcheck.py checks each pointer's cffi
 * type against the expected signature before handing it over.
 *
 * The T-table AES (FIPS 197 §5.1 rounds merged into four 1 KiB tables, as
 * in the AES proposal's §5.2.1 "32-bit processor" implementation) indexes its
 * tables with secret bytes: it is NOT constant-time, on purpose.
 *
 * The block between CFFI_BEGIN and CFFI_END is read by csrc/build.py. */
#ifndef CRYPTOBENCH_LEAKCHECK_H
#define CRYPTOBENCH_LEAKCHECK_H

#include <stddef.h>
#include <stdint.h>

/* CFFI_BEGIN */
/* What one measured call does with its input (inputs + i * input_len). */
#define CB_LEAK_NOOP            0  /* nothing: the timer's own cost */
#define CB_LEAK_TTABLE_BLOCK    1  /* cb_leak_ttable_encrypt(ctx, input16, out) */
#define CB_LEAK_AEAD_ENCRYPT    2  /* fn(ctx, nonce, nonce_len, aad, aad_len, input, msg_len, out, out_arg) */
#define CB_LEAK_AEAD_KEY        3  /* init(ctx, [path,] input, input_len) then fn as above on msg */
#define CB_LEAK_P256_SIGN_K     4  /* input = k || digest: fn(path, out, fixed(d), digest, k, 0) */
#define CB_LEAK_P256_SIGN_D     5  /* input = d || digest: fn(path, out, d, digest, NULL, 0), RFC 6979 k */
#define CB_LEAK_P256_BASE_MUL   6  /* fn(path, out, input(k)) */
#define CB_LEAK_AEAD_FORGERY    7  /* input = a 16-byte tag, copied (before the timer) after the
                                      msg_len bytes of ciphertext in data; then
                                      fn(ctx, nonce, nonce_len, aad, aad_len, data, msg_len + 16,
                                         out, out_arg), a decrypt that must return expect_rc */

/* How the AEAD entry points take their last argument and whether init takes a path. */
#define CB_LEAK_AEAD_AESGCM     0  /* int f(ctx, iv, iv_len, aad, aad_len, in, in_len, out, tag_len);
                                      int init(ctx, key, key_len) */
#define CB_LEAK_AEAD_CHACHA     1  /* int f(ctx, nonce, nonce_len, aad, aad_len, in, in_len, out, out_len);
                                      int init(ctx, path, key, key_len) */

/* cb_leak_measure's code for an AEAD_FORGERY decrypt that accepted the forged tag */
#define CB_LEAK_FORGERY_ACCEPTED -1004
/* flags */
#define CB_LEAK_EVICT           1  /* read 64 KiB before each call (L1d cold, as after a context switch) */

typedef void (*cb_leak_fn)(void);

typedef struct {
    int kind;                /* CB_LEAK_* above */
    int abi;                 /* CB_LEAK_AEAD_AESGCM or CB_LEAK_AEAD_CHACHA */
    int path;                /* the path argument (chacha init, p256 functions) */
    cb_leak_fn fn;           /* the measured entry point */
    cb_leak_fn init;         /* key setup (CB_LEAK_AEAD_KEY) */
    void *ctx;               /* initialised context, or scratch for key setup */
    const uint8_t *fixed;    /* the fixed d of CB_LEAK_P256_SIGN_K */
    const uint8_t *msg;      /* fixed message (AEAD_KEY) */
    size_t msg_len;          /* AEAD message length (the input length for AEAD_ENCRYPT) */
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *aad;
    size_t aad_len;
    size_t out_arg;          /* tag_len (aes-gcm) or out_len (chacha) */
    uint8_t *out;            /* scratch output, large enough for the call */
    uint8_t *data;           /* AEAD_FORGERY: ciphertext, then room for the 16-byte tag */
    int expect_rc;           /* AEAD_FORGERY: the decrypt's tag-failure code */
} cb_leak_target;

/* Time n calls: call i uses inputs + i * input_len; times[i] gets TSC ticks
 * (nanoseconds from CLOCK_MONOTONIC where there is no TSC).  Returns 0, or
 * the first negative return code of the measured function (measuring goes on:
 * an error path is still timed, and the caller reports it); for AEAD_FORGERY
 * expect_rc counts as success, and an accepted forgery returns
 * CB_LEAK_FORGERY_ACCEPTED. */
int cb_leak_measure(const cb_leak_target *t, const uint8_t *inputs, size_t input_len,
                    size_t n, uint64_t *times, uint32_t flags);
/* 1 when times come from the TSC, 0 when from CLOCK_MONOTONIC. */
int cb_leak_uses_tsc(void);

/* The deliberately leaky AES-128 (encryption of one block, T-tables). */
typedef struct {
    uint32_t rk[44];
} cb_leak_ttable_ctx;
int cb_leak_ttable_init(cb_leak_ttable_ctx *ctx, const uint8_t *key, size_t key_len);
void cb_leak_ttable_encrypt(const cb_leak_ttable_ctx *ctx, const uint8_t *in16, uint8_t *out16);
/* CFFI_END */

#endif
