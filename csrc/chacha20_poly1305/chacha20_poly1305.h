/* ChaCha20, Poly1305 and the ChaCha20-Poly1305 AEAD (RFC 8439 §2.3-2.8).
 *
 * Three code paths share one interface, chosen per context:
 *   CB_CHACHA_PATH_AVX2      ChaCha20 eight blocks at once in ymm registers
 *                            (target("avx2")), 4-block xmm tails
 *   CB_CHACHA_PATH_SSSE3     ChaCha20 four blocks at once, pshufb rotations
 *                            (target("ssse3"))
 *   CB_CHACHA_PATH_PORTABLE  scalar C
 * Poly1305 is scalar on every path: radix 2^64 limbs with 128-bit products
 * (unsigned __int128), reduction modulo 2^130 - 5; on the vector paths the
 * AEAD interleaves it with ChaCha20, and the AVX2 path also has a four-way
 * radix-2^26 vector version for long inputs that cannot be interleaved.
 *
 * Constant-time: no branch or memory index depends on the key, the plaintext,
 * the keystream or the tag; the tag comparison is branch-free. Lengths are
 * public.
 *
 * Every entry point validates its arguments and the CPU features its path
 * needs (cpuid, cached) and returns a CB_CHACHA_ERR_* code instead of running
 * an instruction the CPU lacks. No entry point allocates memory.
 *
 * The block between CFFI_BEGIN and CFFI_END is read by csrc/build.py as the
 * cffi declarations. */
#ifndef CRYPTOBENCH_CHACHA20_POLY1305_H
#define CRYPTOBENCH_CHACHA20_POLY1305_H

#include <stddef.h>
#include <stdint.h>

/* CFFI_BEGIN */
#define CB_CHACHA_PATH_PORTABLE 0
#define CB_CHACHA_PATH_SSSE3    1
#define CB_CHACHA_PATH_AVX2     2

#define CB_CHACHA_OK            0
#define CB_CHACHA_ERR_ARG      -1   /* NULL pointer, bad length, uninitialised context */
#define CB_CHACHA_ERR_CPU      -2   /* the path needs a CPU feature this CPU lacks */
#define CB_CHACHA_ERR_TOO_LONG -3   /* beyond the 2^32-block ChaCha20 counter */
#define CB_CHACHA_ERR_TAG      -4   /* authentication failed; nothing was written */
#define CB_CHACHA_ERR_PATH     -5   /* unknown path number */

/* Largest AEAD plaintext: 2^32 - 1 blocks of 64 bytes from counter 1. */
#define CB_CHACHA_AEAD_MAX_LEN 274877906880

/* The key, loaded once by cb_chacha_ctx_init; Python treats it as opaque. */
typedef struct {
    uint32_t key[8];   /* the 256-bit key as eight little-endian words */
    int32_t path;      /* CB_CHACHA_PATH_* */
    uint32_t magic;    /* CB_CHACHA_CTX_MAGIC once initialised, 0 after wipe */
} cb_chacha_ctx;

/* 1 when this CPU can run `path`, 0 when not, CB_CHACHA_ERR_PATH if unknown. */
int cb_chacha_path_supported(int path);

/* Load a 32-byte key into ctx for `path`. */
int cb_chacha_ctx_init(cb_chacha_ctx *ctx, int path, const uint8_t *key, size_t key_len);
/* Overwrite the key material in ctx with zeros. */
void cb_chacha_ctx_wipe(cb_chacha_ctx *ctx);

/* AEAD_CHACHA20_POLY1305 encryption (RFC 8439 §2.8): out[0..pt_len) gets the
 * ciphertext and out[pt_len..pt_len+16) the tag; out_len must be pt_len + 16. */
int cb_chacha_aead_encrypt(const cb_chacha_ctx *ctx,
                           const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len,
                           const uint8_t *pt, size_t pt_len,
                           uint8_t *out, size_t out_len);

/* AEAD decryption: `in` is ciphertext || tag (in_len >= 16); out_len must be
 * in_len - 16. On a wrong tag it returns CB_CHACHA_ERR_TAG and out holds no
 * plaintext: the portable path, and the vector paths on short messages (AVX2
 * below 960 bytes, SSSE3 below 448), check the tag before decrypting
 * anything (out untouched); the vector paths on longer messages decrypt and
 * authenticate in one pass and then zero out. */
int cb_chacha_aead_decrypt(const cb_chacha_ctx *ctx,
                           const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len,
                           const uint8_t *in, size_t in_len,
                           uint8_t *out, size_t out_len);

/* ChaCha20 encryption (RFC 8439 §2.4): out = in XOR keystream(key, nonce,
 * counter, counter + 1, ...). Refuses lengths that would pass block 2^32 - 1. */
int cb_chacha20_xor(const cb_chacha_ctx *ctx,
                    const uint8_t *nonce, size_t nonce_len, uint32_t counter,
                    const uint8_t *in, uint8_t *out, size_t len);

/* Poly1305 one-time authenticator (RFC 8439 §2.5) of msg under a 32-byte
 * one-time key; writes 16 bytes to tag (tag_len must be 16). */
int cb_poly1305_mac(int path, const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len,
                    uint8_t *tag, size_t tag_len);
/* CFFI_END */

#endif
