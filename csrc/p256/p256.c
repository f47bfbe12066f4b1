/* ECDSA P-256 / SHA-256 (FIPS 186-4 §6 and §D.1.2.3; SEC 1 v2 §4.1.3-4.1.4;
 * RFC 6979 §3.2; FIPS 180-4 SHA-256; RFC 2104 HMAC).
 *
 * Representation: field elements mod p and scalars mod n as 4x64-bit limbs
 * (little-endian), both in Montgomery form with R = 2^256.  Points in
 * Jacobian coordinates (X:Y:Z) = (X/Z^2, Y/Z^3), infinity has Z = 0.
 *
 * The group code lives in p256_impl.inc and is compiled twice:
 *   portable: C field multiplication (unsigned __int128 products, ADC/SBB
 *             intrinsics of baseline x86-64 for the carry chains, plain
 *             __int128 elsewhere), C field add/sub, C Montgomery
 *             multiplication mod n, C SHA-256;
 *   adx:      p256_mul_adx.S (MULX/ADCX/ADOX multiplication and squaring
 *             mod p, multiplication mod n), ADC/SBB/CMOV inline asm for field
 *             add/sub, and SHA-256 with the SHA extensions when cpuid has
 *             them (cb_p256_disable_sha_ni() turns that off).
 * The fixed-base table (Montgomery form, identical for both) is shared.
 *
 * Constant-time: field and scalar arithmetic use no secret-dependent branches
 * or addresses (masks and selects); fixed-base multiplication scans the whole
 * 32-entry table of each window with masks and handles the exceptional cases
 * of the mixed addition with selects; inversion mod p and mod n is Fermat's
 * little theorem with a public exponent.  Verification and double-scalar
 * multiplication work on public data and branch freely.  Checked with
 * valgrind memcheck on secrets marked undefined (tests/test_native_ecdsa_p256.py,
 * test_constant_time_under_memcheck) and by `cryptobench leakcheck`.
 */
#include "p256.h"
#include "cpu.h"
#include "ct.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- constants */

static const u64 P256_P[4] = {0xffffffffffffffffULL, 0x00000000ffffffffULL, 0x0000000000000000ULL, 0xffffffff00000001ULL};
static const u64 P256_N[4] = {0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL, 0xffffffff00000000ULL};
static const u64 RR_P[4] = {0x0000000000000003ULL, 0xfffffffbffffffffULL, 0xfffffffffffffffeULL, 0x00000004fffffffdULL};
static const u64 RR_N[4] = {0x83244c95be79eea2ULL, 0x4699799c49bd6fa6ULL, 0x2845b2392b6bec59ULL, 0x66e12d94f3d95620ULL};
static const u64 ONE_P[4] = {0x0000000000000001ULL, 0xffffffff00000000ULL, 0xffffffffffffffffULL, 0x00000000fffffffeULL};
static const u64 N_MINUS_2[4] = {0xf3b9cac2fc63254fULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL, 0xffffffff00000000ULL};
static const u64 B_MONT[4] = {0xd89cdf6229c4bddfULL, 0xacf005cd78843090ULL, 0xe5a220abf7212ed6ULL, 0xdc30061d04874834ULL};
static const u64 GX_MONT[4] = {0x79e730d418a9143cULL, 0x75ba95fc5fedb601ULL, 0x79fb732b77622510ULL, 0x18905f76a53755c6ULL};
static const u64 GY_MONT[4] = {0xddf25357ce95560aULL, 0x8b4ab8e4ba19e45cULL, 0xd2e88688dd21f325ULL, 0x8571ff1825885d85ULL};
static const u64 LIMB_ONE[4] = {1, 0, 0, 0};
#define N0_N 0xccd1c8aaee00bc4fULL /* -n^-1 mod 2^64 */

/* Fixed-base table: window w (0..42) holds j * 2^(6w) * G for j = 1..32, as
 * affine Montgomery (x, y).  Signed 6-bit (Booth) digits need 43 windows. */
#define FB_WINDOWS 43
#define FB_ENTRIES 32
static u64 g_table[FB_WINDOWS][FB_ENTRIES][8] __attribute__((aligned(64)));
static volatile int g_table_ready;
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

typedef struct { u64 X[4], Y[4], Z[4]; } jac;
typedef struct { u64 x[4], y[4]; } aff;

/* ------------------------------------------------------- byte/limb helpers */

static inline u64 load_be64(const uint8_t *b)
{
    return ((u64)b[0] << 56) | ((u64)b[1] << 48) | ((u64)b[2] << 40) | ((u64)b[3] << 32) |
           ((u64)b[4] << 24) | ((u64)b[5] << 16) | ((u64)b[6] << 8) | (u64)b[7];
}

static inline void store_be64(uint8_t *b, u64 v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void load_be256(u64 r[4], const uint8_t b[32])
{
    for (int i = 0; i < 4; i++)
        r[3 - i] = load_be64(b + 8 * i);
}

static void store_be256(uint8_t b[32], const u64 a[4])
{
    for (int i = 0; i < 4; i++)
        store_be64(b + 8 * i, a[3 - i]);
}

static void secure_wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--)
        *v++ = 0;
}

/* --------------------------------------------------------- constant time */

static inline u64 ct_is_zero(u64 x) { return (u64)0 - ((~x & (x - 1)) >> 63); }
static inline u64 ct_eq(u64 a, u64 b) { return ct_is_zero(a ^ b); }
static inline u64 fe_is_zero(const u64 a[4]) { return ct_is_zero(a[0] | a[1] | a[2] | a[3]); }
static inline u64 fe_eq(const u64 a[4], const u64 b[4])
{
    return ct_is_zero((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

static inline void fe_cmov(u64 r[4], const u64 a[4], u64 mask)
{
    for (int i = 0; i < 4; i++)
        r[i] = (r[i] & ~mask) | (a[i] & mask);
}

static inline void fe_copy(u64 r[4], const u64 a[4]) { memcpy(r, a, 32); }

/* Carry/borrow chains: the x86-64 ADC/SBB intrinsics (baseline x86-64, no
 * extra CPU feature) where available, plain C with unsigned __int128 elsewhere.
 * GCC turns the __int128 form into poor code, so the intrinsics matter. */
#if defined(__x86_64__)
#include <x86intrin.h>
static inline u64 sub4(u64 r[4], const u64 a[4], const u64 b[4])
{
    unsigned long long o0, o1, o2, o3;
    unsigned char c = _subborrow_u64(0, a[0], b[0], &o0);
    c = _subborrow_u64(c, a[1], b[1], &o1);
    c = _subborrow_u64(c, a[2], b[2], &o2);
    c = _subborrow_u64(c, a[3], b[3], &o3);
    r[0] = o0; r[1] = o1; r[2] = o2; r[3] = o3;
    return c;
}

static inline u64 add4(u64 r[4], const u64 a[4], const u64 b[4])
{
    unsigned long long o0, o1, o2, o3;
    unsigned char c = _addcarry_u64(0, a[0], b[0], &o0);
    c = _addcarry_u64(c, a[1], b[1], &o1);
    c = _addcarry_u64(c, a[2], b[2], &o2);
    c = _addcarry_u64(c, a[3], b[3], &o3);
    r[0] = o0; r[1] = o1; r[2] = o2; r[3] = o3;
    return c;
}
#else
/* a - b over 4 limbs; returns the borrow (0 or 1). */
static inline u64 sub4(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 bw = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a[i] - b[i] - bw;
        r[i] = (u64)t;
        bw = (u64)(t >> 64) & 1;
    }
    return bw;
}

/* a + b over 4 limbs; returns the carry. */
static inline u64 add4(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 c = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a[i] + b[i] + c;
        r[i] = (u64)t;
        c = (u64)(t >> 64);
    }
    return c;
}
#endif

/* 1 (as u64) when a < b, constant-time. */
static inline u64 lt4(const u64 a[4], const u64 b[4])
{
    u64 t[4];
    return sub4(t, a, b);
}

/* ------------------------------------------------- field arithmetic mod p */

/* r = a + b mod p for a, b < p. */
static inline void fe_add(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 s[4], d[4], m[4];
    u64 c = add4(s, a, b);
    u64 bw = sub4(d, s, P256_P);
    u64 mask = (u64)0 - (bw & (c ^ 1)); /* a + b < p: add p back */
    m[0] = mask;
    m[1] = mask & 0x00000000ffffffffULL;
    m[2] = 0;
    m[3] = mask & 0xffffffff00000001ULL;
    add4(r, d, m);
}

/* r = a - b mod p for a, b < p. */
static inline void fe_sub(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 d[4], m[4];
    u64 mask = (u64)0 - sub4(d, a, b);
    m[0] = mask;
    m[1] = mask & 0x00000000ffffffffULL;
    m[2] = 0;
    m[3] = mask & 0xffffffff00000001ULL;
    add4(r, d, m);
}

/* y <- -y mod p when mask is all ones (y != 0 for points on the curve). */
static inline void fe_cneg(u64 y[4], u64 mask)
{
    u64 n[4];
    sub4(n, P256_P, y);
    u64 z = fe_is_zero(y);
    mask &= ~z;
    fe_cmov(y, n, mask);
}

/* Portable Montgomery multiplication: r = a*b/2^256 mod p, canonical.
 * Schoolbook 512-bit product, then four reduction steps with m = t0 (since
 * -p^-1 mod 2^64 = 1) using m*p = m*2^256 - m*2^224 + m*2^192 + m*2^96 - m.
 * Products with unsigned __int128; on x86-64 the carry chains use the ADC
 * intrinsics (baseline instructions) because GCC compiles __int128 carry
 * chains poorly; elsewhere plain __int128 arithmetic. */
#if defined(__x86_64__)
#define MUL128(lo, hi, x, y)                 \
    do {                                     \
        u128 _m = (u128)(x) * (y);           \
        lo = (u64)_m;                        \
        hi = (u64)(_m >> 64);                \
    } while (0)
#define ADDC(c, x, y) c = _addcarry_u64(c, x, y, (unsigned long long *)&(x))
#define FE_ROW(t0, t1, t2, t3, t4, bi)                                        \
    do {                                                                      \
        u64 l0, h0, l1, h1, l2, h2, l3, h3;                                   \
        unsigned char c = 0;                                                  \
        MUL128(l0, h0, a0, bi);                                               \
        MUL128(l1, h1, a1, bi);                                               \
        MUL128(l2, h2, a2, bi);                                               \
        MUL128(l3, h3, a3, bi);                                               \
        ADDC(c, t0, l0);                                                      \
        ADDC(c, t1, l1);                                                      \
        ADDC(c, t2, l2);                                                      \
        ADDC(c, t3, l3);                                                      \
        t4 = c;                                                               \
        c = 0;                                                                \
        ADDC(c, t1, h0);                                                      \
        ADDC(c, t2, h1);                                                      \
        ADDC(c, t3, h2);                                                      \
        ADDC(c, t4, h3);                                                      \
    } while (0)
#define FE_RED(w0, w1, w2, w3)                                                \
    do {                                                                      \
        u64 m = w0, pl, ph;                                                   \
        unsigned char c = 0;                                                  \
        MUL128(pl, ph, m, 0xffffffff00000001ULL);                             \
        ADDC(c, w1, m << 32);                                                 \
        ADDC(c, w2, m >> 32);                                                 \
        ADDC(c, w3, pl);                                                      \
        w0 = ph + c;                                                          \
    } while (0)

static __attribute__((noinline)) void fe_mul_port(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    u64 b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4, t5, t6, t7;
    FE_ROW(t0, t1, t2, t3, t4, b0);
    FE_ROW(t1, t2, t3, t4, t5, b1);
    FE_ROW(t2, t3, t4, t5, t6, b2);
    FE_ROW(t3, t4, t5, t6, t7, b3);
    FE_RED(t0, t1, t2, t3);
    FE_RED(t1, t2, t3, t0);
    FE_RED(t2, t3, t0, t1);
    FE_RED(t3, t0, t1, t2);
    unsigned char c = 0;
    ADDC(c, t0, t4);
    ADDC(c, t1, t5);
    ADDC(c, t2, t6);
    ADDC(c, t3, t7);
    u64 s[4] = {t0, t1, t2, t3}, d[4];
    u64 bw = sub4(d, s, P256_P);
    u64 keep = (u64)0 - (bw & ((u64)c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}

/* Portable Montgomery squaring: the six cross products once, doubled, plus
 * the four squares; then the same reduction as fe_mul_port. */
static __attribute__((noinline)) void fe_sqr_port(u64 r[4], const u64 a[4])
{
    u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    u64 t0, t1, t2, t3, t4, t5, t6, t7, l, h, l2, h2;
    unsigned char c = 0;
    MUL128(t1, t2, a0, a1);
    MUL128(l, t3, a0, a2);
    MUL128(l2, h2, a0, a3);
    ADDC(c, t2, l);
    ADDC(c, t3, l2);
    t4 = h2 + c;
    MUL128(l, h, a1, a2);
    MUL128(l2, h2, a1, a3);
    c = 0;
    ADDC(c, t3, l);
    ADDC(c, t4, h);
    t5 = c;
    c = 0;
    ADDC(c, t4, l2);
    ADDC(c, t5, h2);
    MUL128(l, h, a2, a3);
    c = 0;
    ADDC(c, t5, l);
    t6 = h + c;
    c = 0;
    ADDC(c, t1, t1);
    ADDC(c, t2, t2);
    ADDC(c, t3, t3);
    ADDC(c, t4, t4);
    ADDC(c, t5, t5);
    ADDC(c, t6, t6);
    t7 = c;
    MUL128(t0, h, a0, a0);
    c = 0;
    ADDC(c, t1, h);
    MUL128(l, h, a1, a1);
    ADDC(c, t2, l);
    ADDC(c, t3, h);
    MUL128(l, h, a2, a2);
    ADDC(c, t4, l);
    ADDC(c, t5, h);
    MUL128(l, h, a3, a3);
    ADDC(c, t6, l);
    ADDC(c, t7, h);
    FE_RED(t0, t1, t2, t3);
    FE_RED(t1, t2, t3, t0);
    FE_RED(t2, t3, t0, t1);
    FE_RED(t3, t0, t1, t2);
    c = 0;
    ADDC(c, t0, t4);
    ADDC(c, t1, t5);
    ADDC(c, t2, t6);
    ADDC(c, t3, t7);
    u64 s[4] = {t0, t1, t2, t3}, d[4];
    u64 bw = sub4(d, s, P256_P);
    u64 keep = (u64)0 - (bw & ((u64)c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}
#else
static __attribute__((noinline)) void fe_mul_port(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 T[8];
    u128 t;
    u64 c;
    u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    /* row 0 */
    t = (u128)a0 * b[0]; T[0] = (u64)t; c = (u64)(t >> 64);
    t = (u128)a1 * b[0] + c; T[1] = (u64)t; c = (u64)(t >> 64);
    t = (u128)a2 * b[0] + c; T[2] = (u64)t; c = (u64)(t >> 64);
    t = (u128)a3 * b[0] + c; T[3] = (u64)t; T[4] = (u64)(t >> 64);
    for (int i = 1; i < 4; i++) {
        u64 bi = b[i];
        t = (u128)a0 * bi + T[i]; T[i] = (u64)t; c = (u64)(t >> 64);
        t = (u128)a1 * bi + T[i + 1] + c; T[i + 1] = (u64)t; c = (u64)(t >> 64);
        t = (u128)a2 * bi + T[i + 2] + c; T[i + 2] = (u64)t; c = (u64)(t >> 64);
        t = (u128)a3 * bi + T[i + 3] + c; T[i + 3] = (u64)t; T[i + 4] = (u64)(t >> 64);
    }
    u64 w0 = T[0], w1 = T[1], w2 = T[2], w3 = T[3];
    for (int i = 0; i < 4; i++) {
        u64 m = w0;
        u128 mp = (u128)m * 0xffffffff00000001ULL;
        t = (u128)w1 + (m << 32); w1 = (u64)t;
        t = (u128)w2 + (m >> 32) + (u64)(t >> 64); w2 = (u64)t;
        t = (u128)w3 + (u64)mp + (u64)(t >> 64); w3 = (u64)t;
        u64 top = (u64)(mp >> 64) + (u64)(t >> 64);
        w0 = w1; w1 = w2; w2 = w3; w3 = top;
    }
    u64 s[4], d[4];
    t = (u128)w0 + T[4]; s[0] = (u64)t;
    t = (u128)w1 + T[5] + (u64)(t >> 64); s[1] = (u64)t;
    t = (u128)w2 + T[6] + (u64)(t >> 64); s[2] = (u64)t;
    t = (u128)w3 + T[7] + (u64)(t >> 64); s[3] = (u64)t;
    c = (u64)(t >> 64);
    u64 bw = sub4(d, s, P256_P);
    u64 keep = (u64)0 - (bw & (c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}

#endif

#if !defined(__x86_64__)
static inline __attribute__((always_inline)) void fe_sqr_port(u64 r[4], const u64 a[4]) { fe_mul_port(r, a, a); }
#endif


#if defined(__x86_64__)
/* Field addition and subtraction for the ADX path as GCC extended asm with
 * ADC/SBB chains and CMOV (baseline x86-64 instructions): branch-free,
 * constant-time, about half the instructions GCC makes of the C versions. */
static inline __attribute__((always_inline)) void fe_add_x64(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], t0, t1, t2, t3, c;
    __asm__("xorl %k[c], %k[c]\n\t"
            "addq %[b0], %[r0]\n\t"
            "adcq %[b1], %[r1]\n\t"
            "adcq %[b2], %[r2]\n\t"
            "adcq %[b3], %[r3]\n\t"
            "adcq $0, %[c]\n\t"
            "movq %[r0], %[t0]\n\t"
            "movq %[r1], %[t1]\n\t"
            "movq %[r2], %[t2]\n\t"
            "movq %[r3], %[t3]\n\t"
            "subq $-1, %[t0]\n\t"
            "sbbq %[p1], %[t1]\n\t"
            "sbbq $0, %[t2]\n\t"
            "sbbq %[p3], %[t3]\n\t"
            "sbbq $0, %[c]\n\t"
            "cmovncq %[t0], %[r0]\n\t"
            "cmovncq %[t1], %[r1]\n\t"
            "cmovncq %[t2], %[r2]\n\t"
            "cmovncq %[t3], %[r3]"
            : [r0] "+&r"(r0), [r1] "+&r"(r1), [r2] "+&r"(r2), [r3] "+&r"(r3), [t0] "=&r"(t0), [t1] "=&r"(t1),
              [t2] "=&r"(t2), [t3] "=&r"(t3), [c] "=&r"(c)
            : [b0] "m"(b[0]), [b1] "m"(b[1]), [b2] "m"(b[2]), [b3] "m"(b[3]), [p1] "m"(P256_P[1]),
              [p3] "m"(P256_P[3])
            : "cc");
    r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3;
}

static inline __attribute__((always_inline)) void fe_sub_x64(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], t1, t3, c;
    __asm__("subq %[b0], %[r0]\n\t"
            "sbbq %[b1], %[r1]\n\t"
            "sbbq %[b2], %[r2]\n\t"
            "sbbq %[b3], %[r3]\n\t"
            "sbbq %[c], %[c]\n\t"
            "movq %[p1], %[t1]\n\t"
            "movq %[p3], %[t3]\n\t"
            "andq %[c], %[t1]\n\t"
            "andq %[c], %[t3]\n\t"
            "addq %[c], %[r0]\n\t"
            "adcq %[t1], %[r1]\n\t"
            "adcq $0, %[r2]\n\t"
            "adcq %[t3], %[r3]"
            : [r0] "+&r"(r0), [r1] "+&r"(r1), [r2] "+&r"(r2), [r3] "+&r"(r3), [t1] "=&r"(t1), [t3] "=&r"(t3),
              [c] "=&r"(c)
            : [b0] "m"(b[0]), [b1] "m"(b[1]), [b2] "m"(b[2]), [b3] "m"(b[3]), [p1] "m"(P256_P[1]),
              [p3] "m"(P256_P[3])
            : "cc");
    r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3;
}
#define FE_ADD_ADX fe_add_x64
#define FE_SUB_ADX fe_sub_x64
#else
#define FE_ADD_ADX fe_add
#define FE_SUB_ADX fe_sub
#endif

/* The assembly (p256_mul_adx.S). */
void cb_p256_mul_adx(u64 r[4], const u64 a[4], const u64 b[4]);
void cb_p256_sqr_adx(u64 r[4], const u64 a[4]);
void cb_p256_ord_mul_adx(u64 r[4], const u64 a[4], const u64 b[4]);
void cb_p256_ord_sqr_adx(u64 r[4], const u64 a[4]);

/* ------------------------------------------ scalar arithmetic mod n (CIOS) */

#if defined(__x86_64__)
/* Montgomery multiplication mod n: r = a*b/2^256 mod n (a, b < n), canonical.
 * Schoolbook product (FE_ROW above), four reduction steps m = w0 * (-n^-1)
 * on a four-limb window (below 2^256 as n + 2^192 < 2^256), add the high half,
 * one conditional subtraction.  Constant-time. */
#define SC_RED(w0, w1, w2, w3)                                                \
    do {                                                                      \
        u64 m = w0 * N0_N, l0, h0, l1, h1, l2, h2, l3, h3, top;               \
        unsigned char c = 0;                                                  \
        MUL128(l0, h0, m, P256_N[0]);                                         \
        MUL128(l1, h1, m, P256_N[1]);                                         \
        MUL128(l2, h2, m, P256_N[2]);                                         \
        MUL128(l3, h3, m, P256_N[3]);                                         \
        ADDC(c, w0, l0);                                                      \
        ADDC(c, w1, l1);                                                      \
        ADDC(c, w2, l2);                                                      \
        ADDC(c, w3, l3);                                                      \
        top = c;                                                              \
        c = 0;                                                                \
        ADDC(c, w1, h0);                                                      \
        ADDC(c, w2, h1);                                                      \
        ADDC(c, w3, h2);                                                      \
        ADDC(c, top, h3);                                                     \
        w0 = top;                                                             \
    } while (0)

static void sc_mul(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    u64 b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4, t5, t6, t7;
    FE_ROW(t0, t1, t2, t3, t4, b0);
    FE_ROW(t1, t2, t3, t4, t5, b1);
    FE_ROW(t2, t3, t4, t5, t6, b2);
    FE_ROW(t3, t4, t5, t6, t7, b3);
    SC_RED(t0, t1, t2, t3);
    SC_RED(t1, t2, t3, t0);
    SC_RED(t2, t3, t0, t1);
    SC_RED(t3, t0, t1, t2);
    unsigned char c = 0;
    ADDC(c, t0, t4);
    ADDC(c, t1, t5);
    ADDC(c, t2, t6);
    ADDC(c, t3, t7);
    u64 s[4] = {t0, t1, t2, t3}, d[4];
    u64 bw = sub4(d, s, P256_N);
    u64 keep = (u64)0 - (bw & ((u64)c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}
/* Montgomery squaring mod n: cross products once, doubled, plus squares. */
static void sc_sqr(u64 r[4], const u64 a[4])
{
    u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    u64 t0, t1, t2, t3, t4, t5, t6, t7, l, h, l2, h2;
    unsigned char c = 0;
    MUL128(t1, t2, a0, a1);
    MUL128(l, t3, a0, a2);
    MUL128(l2, h2, a0, a3);
    ADDC(c, t2, l);
    ADDC(c, t3, l2);
    t4 = h2 + c;
    MUL128(l, h, a1, a2);
    MUL128(l2, h2, a1, a3);
    c = 0;
    ADDC(c, t3, l);
    ADDC(c, t4, h);
    t5 = c;
    c = 0;
    ADDC(c, t4, l2);
    ADDC(c, t5, h2);
    MUL128(l, h, a2, a3);
    c = 0;
    ADDC(c, t5, l);
    t6 = h + c;
    c = 0;
    ADDC(c, t1, t1);
    ADDC(c, t2, t2);
    ADDC(c, t3, t3);
    ADDC(c, t4, t4);
    ADDC(c, t5, t5);
    ADDC(c, t6, t6);
    t7 = c;
    MUL128(t0, h, a0, a0);
    c = 0;
    ADDC(c, t1, h);
    MUL128(l, h, a1, a1);
    ADDC(c, t2, l);
    ADDC(c, t3, h);
    MUL128(l, h, a2, a2);
    ADDC(c, t4, l);
    ADDC(c, t5, h);
    MUL128(l, h, a3, a3);
    ADDC(c, t6, l);
    ADDC(c, t7, h);
    SC_RED(t0, t1, t2, t3);
    SC_RED(t1, t2, t3, t0);
    SC_RED(t2, t3, t0, t1);
    SC_RED(t3, t0, t1, t2);
    c = 0;
    ADDC(c, t0, t4);
    ADDC(c, t1, t5);
    ADDC(c, t2, t6);
    ADDC(c, t3, t7);
    u64 s[4] = {t0, t1, t2, t3}, d[4];
    u64 bw = sub4(d, s, P256_N);
    u64 keep = (u64)0 - (bw & ((u64)c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}
#undef SC_RED
#undef FE_ROW
#undef FE_RED
#undef ADDC
#undef MUL128
#else
/* Montgomery multiplication mod n: r = a*b/2^256 mod n (a, b < n), canonical. */
static void sc_mul(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u64 c = 0;
        u128 x;
        for (int j = 0; j < 4; j++) {
            x = (u128)a[j] * b[i] + t[j] + c;
            t[j] = (u64)x;
            c = (u64)(x >> 64);
        }
        x = (u128)t[4] + c;
        t[4] = (u64)x;
        t[5] = (u64)(x >> 64);
        u64 m = t[0] * N0_N;
        x = (u128)m * P256_N[0] + t[0];
        c = (u64)(x >> 64);
        for (int j = 1; j < 4; j++) {
            x = (u128)m * P256_N[j] + t[j] + c;
            t[j - 1] = (u64)x;
            c = (u64)(x >> 64);
        }
        x = (u128)t[4] + c;
        t[3] = (u64)x;
        t[4] = t[5] + (u64)(x >> 64);
    }
    u64 d[4];
    u64 bw = sub4(d, t, P256_N);
    u64 keep = (u64)0 - (bw & (t[4] ^ 1) & 1);
    for (int i = 0; i < 4; i++)
        r[i] = (t[i] & keep) | (d[i] & ~keep);
}

static void sc_sqr(u64 r[4], const u64 a[4]) { sc_mul(r, a, a); }
#endif

/* a mod n for a < 2^256 (< 2n), constant-time. */
static void sc_reduce(u64 r[4], const u64 a[4])
{
    u64 d[4];
    u64 bw = sub4(d, a, P256_N);
    u64 keep = (u64)0 - bw;
    for (int i = 0; i < 4; i++)
        r[i] = (a[i] & keep) | (d[i] & ~keep);
}

static void sc_add(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 s[4], d[4];
    u64 c = add4(s, a, b);
    u64 bw = sub4(d, s, P256_N);
    u64 keep = (u64)0 - (bw & (c ^ 1));
    for (int i = 0; i < 4; i++)
        r[i] = (s[i] & keep) | (d[i] & ~keep);
}

/* ------------------------------------------------------ SHA-256 and HMAC */

static const u32 SHA_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
static const u32 SHA_H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One SHA-256 compression (FIPS 180-4 §6.2.2). */
static void sha256_block(u32 h[8], const uint8_t *p)
{
    u32 w[64];
    for (int i = 0; i < 16; i++)
        w[i] = ((u32)p[4 * i] << 24) | ((u32)p[4 * i + 1] << 16) | ((u32)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        u32 s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        u32 s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        u32 S1 = ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25);
        u32 ch = (e & f) ^ (~e & g);
        u32 t1 = hh + S1 + ch + SHA_K[i] + w[i];
        u32 S0 = ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22);
        u32 maj = (a & b) ^ (a & c) ^ (b & c);
        u32 t2 = S0 + maj;
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

#if defined(__x86_64__)
#include <immintrin.h>
/* One SHA-256 compression with the SHA extensions (SHA256RNDS2, SHA256MSG1,
 * SHA256MSG2; Intel SDM Vol. 2).  State is kept as ABEF/CDGH; the message
 * schedule W[t..t+3] = MSG2(MSG1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..t-1])
 * (FIPS 180-4 §6.2.2 step 1, four words at a time).  Only called when cpuid
 * reports SHA. */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_block_shani(u32 h[8], const uint8_t *p)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)h);
    __m128i st1 = _mm_loadu_si128((const __m128i *)(h + 4));
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                /* b a d c */
    st1 = _mm_shuffle_epi32(st1, 0x1B);                /* h g f e */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);        /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);             /* CDGH */
    const __m128i save0 = st0, save1 = st1;
    __m128i w[4];
    for (int i = 0; i < 4; i++)
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
    for (int t = 0; t < 16; t++) {
        __m128i m;
        if (t < 4) {
            m = w[t];
        } else {
            m = _mm_sha256msg1_epu32(w[t & 3], w[(t + 1) & 3]);
            m = _mm_add_epi32(m, _mm_alignr_epi8(w[(t + 3) & 3], w[(t + 2) & 3], 4));
            m = _mm_sha256msg2_epu32(m, w[(t + 3) & 3]);
            w[t & 3] = m;
        }
        __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&SHA_K[4 * t]));
        st1 = _mm_sha256rnds2_epu32(st1, st0, k);
        k = _mm_shuffle_epi32(k, 0x0E);
        st0 = _mm_sha256rnds2_epu32(st0, st1, k);
    }
    st0 = _mm_add_epi32(st0, save0);
    st1 = _mm_add_epi32(st1, save1);
    tmp = _mm_shuffle_epi32(st0, 0x1B);                /* a b e f */
    st1 = _mm_shuffle_epi32(st1, 0xB1);                /* g h c d */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);             /* a b c d */
    st1 = _mm_alignr_epi8(st1, tmp, 8);                /* e f g h */
    _mm_storeu_si128((__m128i *)h, st0);
    _mm_storeu_si128((__m128i *)(h + 4), st1);
}
#endif

typedef void (*sha_block_fn)(u32 h[8], const uint8_t *p);

static int g_sha_state; /* 0 unknown, 1 SHA extensions usable, 2 not */

void cb_p256_disable_sha_ni(void) { __atomic_store_n(&g_sha_state, 2, __ATOMIC_RELAXED); }

/* The compression function for the ADX path: SHA-NI when cpuid has it. */
static sha_block_fn sha_block_fast(void)
{
#if defined(__x86_64__)
    int s = __atomic_load_n(&g_sha_state, __ATOMIC_RELAXED);
    if (s == 0) {
        s = (cb_cpu_features() & CB_CPU_SHA) ? 1 : 2;
        __atomic_store_n(&g_sha_state, s, __ATOMIC_RELAXED);
    }
    if (s == 1)
        return sha256_block_shani;
#endif
    return sha256_block;
}

int cb_p256_sha_ni_used(void)
{
#if defined(__x86_64__)
    return sha_block_fast() == sha256_block_shani;
#else
    return 0;
#endif
}

typedef struct {
    u32 h[8];
    uint8_t buf[64];
    size_t n;
    u64 len;
    sha_block_fn block;
} sha_ctx;

static void sha_update(sha_ctx *c, const uint8_t *p, size_t len)
{
    c->len += len;
    while (len) {
        size_t take = 64 - c->n;
        if (take > len)
            take = len;
        memcpy(c->buf + c->n, p, take);
        c->n += take;
        p += take;
        len -= take;
        if (c->n == 64) {
            c->block(c->h, c->buf);
            c->n = 0;
        }
    }
}

static void sha_final(sha_ctx *c, uint8_t out[32])
{
    u64 bits = c->len * 8;
    c->buf[c->n++] = 0x80;
    if (c->n > 56) {
        memset(c->buf + c->n, 0, 64 - c->n);
        c->block(c->h, c->buf);
        c->n = 0;
    }
    memset(c->buf + c->n, 0, 56 - c->n);
    store_be64(c->buf + 56, bits);
    c->block(c->h, c->buf);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

/* HMAC-SHA256 (RFC 2104) keyed with a 32-byte key: the states after the
 * ipad and opad blocks are computed once per key. */
typedef struct {
    u32 inner[8], outer[8];
    sha_block_fn block;
} hmac_key;

/* hk->block must be set by the caller. */
static void hmac_setkey(hmac_key *hk, const uint8_t key[32])
{
    uint8_t blk[64];
    for (int i = 0; i < 64; i++)
        blk[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
    memcpy(hk->inner, SHA_H0, 32);
    hk->block(hk->inner, blk);
    for (int i = 0; i < 64; i++)
        blk[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x5c);
    memcpy(hk->outer, SHA_H0, 32);
    hk->block(hk->outer, blk);
    secure_wipe(blk, sizeof blk);
}

/* The key of RFC 6979 step c is all zero: its ipad/opad states are the same
 * for every signature, computed once (benign race: same value). */
static void hmac_setkey_zero(hmac_key *hk)
{
    static u32 zin[8], zout[8];
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        static const uint8_t zero[32];
        hmac_key z;
        z.block = sha256_block;
        hmac_setkey(&z, zero);
        memcpy(zin, z.inner, 32);
        memcpy(zout, z.outer, 32);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    memcpy(hk->inner, zin, 32);
    memcpy(hk->outer, zout, 32);
}

/* out = HMAC(key, p1 || p2 || p3 || p4) (pieces may be empty). */
static void hmac_4(const hmac_key *hk, uint8_t out[32], const uint8_t *p1, size_t l1, const uint8_t *p2,
                   size_t l2, const uint8_t *p3, size_t l3, const uint8_t *p4, size_t l4)
{
    sha_ctx c;
    uint8_t ih[32];
    c.block = hk->block;
    memcpy(c.h, hk->inner, 32);
    c.n = 0;
    c.len = 64;
    sha_update(&c, p1, l1);
    sha_update(&c, p2, l2);
    sha_update(&c, p3, l3);
    sha_update(&c, p4, l4);
    sha_final(&c, ih);
    memcpy(c.h, hk->outer, 32);
    c.n = 0;
    c.len = 64;
    sha_update(&c, ih, 32);
    sha_final(&c, out);
    secure_wipe(&c, sizeof c);
}

/* RFC 6979 §3.2 steps b-h for qlen = hlen = 256: x = int2octets(d),
 * h = bits2octets(H(m)) = int2octets(e mod n).  k is returned as limbs. */
static void rfc6979_k(u64 k[4], const uint8_t x[32], const uint8_t h[32], sha_block_fn block)
{
    uint8_t V[32], K[32];
    static const uint8_t zero = 0x00, one = 0x01;
    hmac_key hk;
    hk.block = block;
    memset(V, 0x01, 32);
    memset(K, 0x00, 32);
    hmac_setkey_zero(&hk);
    hmac_4(&hk, K, V, 32, &zero, 1, x, 32, h, 32); /* d */
    hmac_setkey(&hk, K);
    hmac_4(&hk, V, V, 32, NULL, 0, NULL, 0, NULL, 0); /* e */
    hmac_4(&hk, K, V, 32, &one, 1, x, 32, h, 32);     /* f */
    hmac_setkey(&hk, K);
    hmac_4(&hk, V, V, 32, NULL, 0, NULL, 0, NULL, 0); /* g */
    for (;;) {
        hmac_4(&hk, V, V, 32, NULL, 0, NULL, 0, NULL, 0); /* h.2 */
        load_be256(k, V);
        /* 1 <= k < n fails with probability ~2^-32: a public event. */
        u64 ok = lt4(k, P256_N) & ~fe_is_zero(k) & 1;
        CB_DECLASSIFY(&ok, sizeof ok);
        if (ok)
            break;
        hmac_4(&hk, K, V, 32, &zero, 1, NULL, 0, NULL, 0); /* h.3 */
        hmac_setkey(&hk, K);
        hmac_4(&hk, V, V, 32, NULL, 0, NULL, 0, NULL, 0);
    }
    secure_wipe(V, 32);
    secure_wipe(K, 32);
    secure_wipe(&hk, sizeof hk);
}

/* ------------------------------------------------------------ booth digits */

/* Signed digit of window w (Booth recoding, width 6): bits 6w-1 .. 6w+5 of k
 * (bit -1 = 0, bits >= 256 = 0) give d = (v>>1) + (v&1) - 64*(v>>6) in
 * [-32, 32], with k = sum d_w 2^(6w).  Branch-free in the bits of k. */
static inline int booth6(const u64 k[4], int w)
{
    u64 v;
    if (w == 0) {
        v = (k[0] << 1) & 0x7f;
    } else {
        int bit = 6 * w - 1;
        int limb = bit >> 6, off = bit & 63;
        v = k[limb] >> off;
        if (off > 57 && limb < 3)
            v |= k[limb + 1] << (64 - off);
        v &= 0x7f;
    }
    return (int)((v >> 1) + (v & 1)) - (int)(64 * (v >> 6));
}

/* --------------------------------------------------- the two field paths */

#define SFX(name) name##_port
#define FE_MUL fe_mul_port
#define FE_SQR fe_sqr_port
#define SC_MUL sc_mul
#define SC_SQR sc_sqr
#define FE_ADD fe_add
#define FE_SUB fe_sub
#define SHA_BLOCK() sha256_block
#include "p256_impl.inc"
#undef SFX
#undef FE_MUL
#undef FE_SQR
#undef SC_MUL
#undef SC_SQR
#undef FE_ADD
#undef FE_SUB
#undef SHA_BLOCK

#define SFX(name) name##_adx
#define FE_MUL cb_p256_mul_adx
#define FE_SQR cb_p256_sqr_adx
#define SC_MUL cb_p256_ord_mul_adx
#define SC_SQR cb_p256_ord_sqr_adx
#define FE_ADD FE_ADD_ADX
#define FE_SUB FE_SUB_ADX
#define SHA_BLOCK() sha_block_fast()
#include "p256_impl.inc"
#undef SFX
#undef FE_MUL
#undef FE_SQR
#undef SC_MUL
#undef SC_SQR
#undef FE_ADD
#undef FE_SUB
#undef SHA_BLOCK

/* ---------------------------------------------------------- table, dispatch */

static void build_table(void)
{
    jac base, cur;
    fe_copy(base.X, GX_MONT);
    fe_copy(base.Y, GY_MONT);
    fe_copy(base.Z, ONE_P);
    for (int w = 0; w < FB_WINDOWS; w++) {
        cur = base;
        for (int j = 0; j < FB_ENTRIES; j++) {
            if (j > 0)
                pt_add_vt_port(&cur, &cur, &base);
            aff a;
            to_affine_port(&a, &cur);
            memcpy(g_table[w][j], a.x, 32);
            memcpy(g_table[w][j] + 4, a.y, 32);
        }
        /* next window base = 64 * base = 2 * (32 * base) */
        pt_dbl_port(&base, &cur);
    }
    __atomic_store_n(&g_table_ready, 1, __ATOMIC_RELEASE);
}

static inline void ensure_table(void)
{
    if (!__atomic_load_n(&g_table_ready, __ATOMIC_ACQUIRE))
        pthread_once(&g_table_once, build_table);
}

int cb_p256_init(void)
{
    ensure_table();
    return (int)sizeof g_table;
}

static int g_adx_state; /* 0 unknown, 1 usable, 2 not usable */

int cb_p256_path_ok(int path)
{
    if (path == CB_P256_PORTABLE)
        return 1;
    if (path != CB_P256_ADX)
        return 0;
#if !(defined(__x86_64__) && defined(__ELF__))
    return 0; /* the assembly is only built for x86-64 ELF (p256_mul_adx.S) */
#endif
    int s = __atomic_load_n(&g_adx_state, __ATOMIC_RELAXED);
    if (s == 0) {
        uint32_t need = CB_CPU_BMI2 | CB_CPU_ADX;
        s = ((cb_cpu_features() & need) == need) ? 1 : 2;
        __atomic_store_n(&g_adx_state, s, __ATOMIC_RELAXED);
    }
    return s == 1;
}

#define DISPATCH(path, call_port, call_adx)            \
    do {                                               \
        if (!cb_p256_path_ok(path))                    \
            return CB_P256_EUNAVAIL;                   \
        ensure_table();                                \
        return (path) == CB_P256_ADX ? (call_adx) : (call_port); \
    } while (0)

int cb_p256_field_mul(int path, uint8_t out[32], const uint8_t *a, const uint8_t *b, uint64_t count)
{
    DISPATCH(path, field_mul_port(out, a, b, count), field_mul_adx(out, a, b, count));
}

int cb_p256_base_mul(int path, uint8_t out[64], const uint8_t *k)
{
    DISPATCH(path, base_mul_bytes_port(out, k), base_mul_bytes_adx(out, k));
}

int cb_p256_double_mul(int path, uint8_t out[64], const uint8_t *u1, const uint8_t *u2, const uint8_t *q)
{
    DISPATCH(path, double_mul_bytes_port(out, u1, u2, q), double_mul_bytes_adx(out, u1, u2, q));
}

int cb_p256_scalar_inv(int path, uint8_t out[32], const uint8_t *k)
{
    DISPATCH(path, scalar_inv_bytes_port(out, k), scalar_inv_bytes_adx(out, k));
}

int cb_p256_point_check(const uint8_t *q)
{
    u64 x[4], y[4];
    load_be256(x, q);
    load_be256(y, q + 32);
    if (!(lt4(x, P256_P) & 1) || !(lt4(y, P256_P) & 1))
        return 0;
    return on_curve_port(x, y);
}

int cb_p256_sign(int path, uint8_t *out, const uint8_t *d, const uint8_t *digest, const uint8_t *k, int der)
{
    DISPATCH(path, sign_port(out, d, digest, k, der), sign_adx(out, d, digest, k, der));
}

int cb_p256_verify(int path, const uint8_t *q, const uint8_t *digest, const uint8_t *r, const uint8_t *s)
{
    DISPATCH(path, verify_port(q, digest, r, s), verify_adx(q, digest, r, s));
}
