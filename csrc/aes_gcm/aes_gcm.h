/* AES-128/256-GCM (FIPS 197, NIST SP 800-38D) in three code paths:
 *
 *   vaes      VAES + VPCLMULQDQ on 256-bit AVX2 registers (2 blocks per ymm,
 *             16 blocks per iteration, one GHASH reduction per 16 blocks)
 *   aesni     AES-NI + PCLMULQDQ on xmm (8 blocks per iteration, one GHASH
 *             reduction per 8 blocks with H^1..H^8)
 *   portable  plain C, constant-time: the S-box is computed arithmetically
 *             (inversion in GF(2^8) by x^254, SWAR over 8 bytes), GHASH uses
 *             integer multiplication with holes; no secret-indexed tables and
 *             no secret-dependent branches.
 *
 * All three paths are constant-time with respect to key, plaintext and tag.
 * Every entry point validates its arguments and returns a CB_AESGCM_* code;
 * the hardware entry points check the CPU (cached cpuid) and return
 * CB_AESGCM_ECPU instead of executing instructions the CPU lacks.
 *
 * A context is initialised for exactly one path (cb_aesgcm_<path>_init) and
 * only that path's functions accept it (CB_AESGCM_ECTX otherwise).  Contexts
 * are read-only after init, so several threads may use one concurrently.
 *
 * The block between CFFI_BEGIN and CFFI_END is the cffi cdef (csrc/build.py). */
#ifndef CRYPTOBENCH_AES_GCM_H
#define CRYPTOBENCH_AES_GCM_H

#include <stddef.h>
#include <stdint.h>

/* CFFI_BEGIN */
#define CB_AESGCM_OK     0
#define CB_AESGCM_EARG  -1   /* bad length or NULL pointer */
#define CB_AESGCM_ECPU  -2   /* the CPU lacks this path's instructions */
#define CB_AESGCM_ETAG  -3   /* decrypt: tag mismatch (output wiped) */
#define CB_AESGCM_ECTX  -4   /* context not initialised for this path */

#define CB_AESGCM_PATH_PORTABLE 1
#define CB_AESGCM_PATH_AESNI    2
#define CB_AESGCM_PATH_VAES     3

/* Opaque to callers; the layout of rk and htab depends on the path. */
typedef struct {
    uint8_t rk[480];      /* round keys: 15 x 16 (aesni), 15 x 32 broadcast (vaes),
                             bitwise-plain 15 x 16 (portable) */
    uint8_t htab[512];    /* R(H^k * x^-1) for k = 16..1, then Karatsuba halves */
    uint32_t rounds;      /* 10 or 14 (0 for a GHASH-only context) */
    uint32_t path;        /* CB_AESGCM_PATH_* */
    uint32_t magic;
    uint32_t has_key;
} cb_aesgcm_ctx;

/* 1 when this build and CPU can run the path (cpuid, cached). */
int cb_aesgcm_path_supported(int path);

/* Key schedule + H = AES_K(0^128) and its powers (SP 800-38D §6.4, §7.1). */
int cb_aesgcm_vaes_init(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len);
int cb_aesgcm_aesni_init(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len);
int cb_aesgcm_portable_init(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len);

/* GCM-AE (SP 800-38D §7.1): out receives ct (pt_len bytes) || tag (tag_len,
 * 4..16).  iv_len >= 1; aad may be NULL when aad_len == 0. */
int cb_aesgcm_vaes_encrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                           size_t pt_len, uint8_t *out, size_t tag_len);
int cb_aesgcm_aesni_encrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                            const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                            size_t pt_len, uint8_t *out, size_t tag_len);
int cb_aesgcm_portable_encrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                               const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                               size_t pt_len, uint8_t *out, size_t tag_len);

/* GCM-AD (SP 800-38D §7.2): data = ct || tag (data_len >= tag_len); out
 * receives data_len - tag_len bytes of plaintext.  On a tag mismatch the
 * output is wiped and CB_AESGCM_ETAG returned.  Tag compare is constant-time. */
int cb_aesgcm_vaes_decrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *data,
                           size_t data_len, uint8_t *out, size_t tag_len);
int cb_aesgcm_aesni_decrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                            const uint8_t *aad, size_t aad_len, const uint8_t *data,
                            size_t data_len, uint8_t *out, size_t tag_len);
int cb_aesgcm_portable_decrypt(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len,
                               const uint8_t *aad, size_t aad_len, const uint8_t *data,
                               size_t data_len, uint8_t *out, size_t tag_len);

/* Hot path "aes-ctr": out = in XOR AES-CTR keystream from counter block ctr16,
 * inc32 on the last 4 bytes (SP 800-38D §6.2). */
int cb_aesgcm_vaes_ctr(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                       size_t len, uint8_t *out);
int cb_aesgcm_aesni_ctr(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                        size_t len, uint8_t *out);
int cb_aesgcm_portable_ctr(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                           size_t len, uint8_t *out);

/* Hot path "ghash": a GHASH-only context for subkey h16, then
 * out16 = GHASH_H(data) from Y0 = 0, len % 16 == 0 (SP 800-38D §6.4). */
int cb_aesgcm_vaes_ghash_init(cb_aesgcm_ctx *ctx, const uint8_t *h16);
int cb_aesgcm_aesni_ghash_init(cb_aesgcm_ctx *ctx, const uint8_t *h16);
int cb_aesgcm_portable_ghash_init(cb_aesgcm_ctx *ctx, const uint8_t *h16);
int cb_aesgcm_vaes_ghash(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16);
int cb_aesgcm_aesni_ghash(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16);
int cb_aesgcm_portable_ghash(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16);

/* Hot path "key-expansion": the AES key schedule alone (FIPS 197 §5.2) into
 * rk (rk_len >= 480 for vaes, >= 240 otherwise). */
int cb_aesgcm_vaes_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len);
int cb_aesgcm_aesni_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len);
int cb_aesgcm_portable_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len);
/* CFFI_END */

#endif
