/* ECDSA P-256 with SHA-256: field, scalar and group arithmetic, RFC 6979
 * nonces, sign and verify (SEC 1 §4.1.3, §4.1.4; FIPS 186-4 §6; RFC 6979 §3.2).
 *
 * Every entry point takes `path`: CB_P256_PORTABLE (C with unsigned __int128)
 * or CB_P256_ADX (the MULX/ADCX/ADOX multiplications in p256_mul_adx.S).
 * The ADX path refuses (returns CB_P256_EUNAVAIL) unless cpuid reports BMI2
 * and ADX, so it never raises SIGILL.  Byte strings are big-endian, 32 bytes
 * per integer; points are X||Y (64 bytes, affine).  No heap allocation.
 *
 * Constant-time (for secret inputs): cb_p256_sign, cb_p256_base_mul,
 * cb_p256_scalar_inv, cb_p256_field_mul (for fixed count).  Variable-time
 * (public inputs only): cb_p256_verify, cb_p256_double_mul.
 *
 * The block between CFFI_BEGIN and CFFI_END is read by csrc/build.py. */
#ifndef CRYPTOBENCH_P256_H
#define CRYPTOBENCH_P256_H

#include <stdint.h>

/* CFFI_BEGIN */
#define CB_P256_PORTABLE 0
#define CB_P256_ADX      1

#define CB_P256_OK         0
#define CB_P256_EUNAVAIL  -1   /* path not usable on this CPU */
#define CB_P256_ERANGE    -2   /* scalar out of range (0 or >= n) */
#define CB_P256_EZERO     -3   /* r or s came out zero: pick another k */
#define CB_P256_EINF      -4   /* result is the point at infinity */
#define CB_P256_EPOINT    -5   /* point not on the curve */

/* 1 when `path` can run on this CPU. */
int cb_p256_path_ok(int path);
/* Build the fixed-base table (43 windows x 32 affine multiples of G, 88 KiB)
 * once; thread-safe, later calls are free.  Returns the table size in bytes. */
int cb_p256_init(void);
/* a * b^count mod p by `count` Montgomery multiplications (a, b < 2^256). */
int cb_p256_field_mul(int path, uint8_t out[32], const uint8_t *a, const uint8_t *b, uint64_t count);
/* Affine k*G, constant-time; k in [1, n-1] (else CB_P256_ERANGE). out = X||Y. */
int cb_p256_base_mul(int path, uint8_t out[64], const uint8_t *k);
/* Affine u1*G + u2*Q (variable-time); u1, u2 < n; q = X||Y on the curve.
 * CB_P256_EINF when the sum is the point at infinity. */
int cb_p256_double_mul(int path, uint8_t out[64], const uint8_t *u1, const uint8_t *u2, const uint8_t *q);
/* k^-1 mod n, constant-time Fermat inversion; k in [1, n-1]. */
int cb_p256_scalar_inv(int path, uint8_t out[32], const uint8_t *k);
/* 1 when q = X||Y is a point on P-256 with coordinates < p, else 0. */
int cb_p256_point_check(const uint8_t *q);
/* ECDSA signature (SEC 1 §4.1.3) of the SHA-256 digest with private key d
 * (1 <= d < n, checked by the caller).  k == NULL: RFC 6979 deterministic k
 * (HMAC-SHA256 in C); else the given k (1 <= k < n).  der != 0: write the DER
 * SEQUENCE (<= 72 bytes) and return its length; der == 0: write r||s (64
 * bytes) and return 64.  Negative CB_P256_E* on error.  Constant-time in d
 * and k. */
int cb_p256_sign(int path, uint8_t *out, const uint8_t *d, const uint8_t *digest, const uint8_t *k, int der);
/* ECDSA verification (SEC 1 §4.1.4) of (r, s) on the SHA-256 digest with
 * public key q = X||Y (validated by the caller or cb_p256_point_check).
 * Returns 1 valid, 0 invalid (including r, s outside [1, n-1]), or a
 * negative CB_P256_E* error. */
int cb_p256_verify(int path, const uint8_t *q, const uint8_t *digest, const uint8_t *r, const uint8_t *s);
/* The ADX path computes RFC 6979's HMAC-SHA256 with the SHA extensions when
 * cpuid reports them; this turns that off for the process (for
 * CRYPTOBENCH_NATIVE_DISABLE=sha).  cb_p256_sha_ni_used() says which runs. */
void cb_p256_disable_sha_ni(void);
int cb_p256_sha_ni_used(void);
/* CFFI_END */

#endif
