/* ChaCha20 (RFC 8439 §2.3-2.4), Poly1305 (§2.5) and AEAD_CHACHA20_POLY1305
 * (§2.8), written from the RFC for cryptobench.
 *
 * ChaCha20 paths:
 *   portable  the scalar block function of §2.3, one block at a time;
 *   ssse3-4x  four blocks at once, one state word per xmm register ("vertical"
 *             layout: lane i holds block i), rotations by 16 and 8 with pshufb,
 *             by 12 and 7 with shift/shift/or;
 *   avx2-8x   the same with eight blocks in ymm registers; tails of at most four
 *             blocks use the four-block code compiled for AVX2 (VEX encoding).
 * Both vector paths compute AEAD messages of at most 64 bytes with a two-block
 * "horizontal" routine (one register per state row): block 0 is the Poly1305
 * key, block 1 covers the message.
 * Poly1305: radix 2^64 (h = h0 + h1 2^64 + h2 2^128, r = r0 + r1 2^64),
 * 128-bit products, partial reduction modulo p = 2^130 - 5 after each block
 * using 2^130 = 5 (mod p), and one constant-time conditional subtraction at
 * the end. The AVX2 path adds a four-way radix-2^26 vector Poly1305 for
 * unstitched inputs of 256 bytes and more (the hot path, long AAD, the tag
 * check of a short decrypt).
 *
 * Constant-time: the control flow and the memory addresses depend only on
 * lengths and the path; the final reduction and the tag comparison use masks.
 *
 * The vector paths interleave ("stitch") the scalar Poly1305 of one chunk
 * (512 bytes on AVX2, 256 on SSSE3) with the vector ChaCha20 rounds of the
 * next (encrypt) or of the same chunk (decrypt), so the integer multiplier
 * and the vector units work at the same time. A one-pass decrypt writes
 * plaintext before the verdict and zeroes it on a wrong tag; shorter
 * messages and the portable path check the tag first.
 *
 * No heap allocation; every entry point checks its arguments and the CPU.
 */
#include "chacha20_poly1305.h"
#include "cpu.h"
#include "ct.h"

#include <string.h>

#ifndef __SIZEOF_INT128__
#error "Poly1305 here needs unsigned __int128 (a 64-bit gcc or clang)"
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CB_CHACHA_X86 1
#else
#define CB_CHACHA_X86 0
#endif

#define CB_CHACHA_CTX_MAGIC 0x43433230u /* "CC20" */

/* ---------------------------------------------------------------- helpers */

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void st32(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

static inline void st64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* memset that the compiler may not remove. */
static void wipe(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline void xor_bytes(uint8_t *out, const uint8_t *in, const uint8_t *ks, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, in + i, 8);
        memcpy(&b, ks + i, 8);
        a ^= b;
        memcpy(out + i, &a, 8);
    }
    for (; i < n; i++)
        out[i] = in[i] ^ ks[i];
}

/* cb_cpu_features() runs cpuid, which is slow (and traps under some
 * hypervisors); read it once. Bit 31 marks the cache as filled. */
static uint32_t cpu_features_cached(void)
{
    static uint32_t cache;
    uint32_t f = __atomic_load_n(&cache, __ATOMIC_RELAXED);
    if (!(f & 0x80000000u)) {
        f = cb_cpu_features() | 0x80000000u;
        __atomic_store_n(&cache, f, __ATOMIC_RELAXED);
    }
    return f;
}

int cb_chacha_path_supported(int path)
{
    uint32_t f = cpu_features_cached();
    switch (path) {
    case CB_CHACHA_PATH_PORTABLE:
        return 1;
    case CB_CHACHA_PATH_SSSE3:
        return CB_CHACHA_X86 && (f & CB_CPU_SSSE3) != 0;
    case CB_CHACHA_PATH_AVX2:
        return CB_CHACHA_X86 && (f & CB_CPU_AVX2) != 0;
    default:
        return CB_CHACHA_ERR_PATH;
    }
}

/* 0 when ctx is initialised and its path runs here, else an error code. */
static int ctx_check(const cb_chacha_ctx *ctx)
{
    if (ctx == NULL || ctx->magic != CB_CHACHA_CTX_MAGIC)
        return CB_CHACHA_ERR_ARG;
    int ok = cb_chacha_path_supported(ctx->path);
    if (ok < 0)
        return ok;
    return ok ? CB_CHACHA_OK : CB_CHACHA_ERR_CPU;
}

/* ------------------------------------------------- ChaCha20, portable path */

#define ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                   \
    do {                                                 \
        a += b; d ^= a; d = ROTL32(d, 16);               \
        c += d; b ^= c; b = ROTL32(b, 12);               \
        a += b; d ^= a; d = ROTL32(d, 8);                \
        c += d; b ^= c; b = ROTL32(b, 7);                \
    } while (0)

/* The initial state of §2.3: constants, key, counter, nonce. */
static void chacha_state(uint32_t st[16], const uint32_t key[8], uint32_t counter, const uint8_t nonce[12])
{
    st[0] = 0x61707865u; st[1] = 0x3320646eu; st[2] = 0x79622d32u; st[3] = 0x6b206574u;
    for (int i = 0; i < 8; i++)
        st[4 + i] = key[i];
    st[12] = counter;
    st[13] = ld32(nonce);
    st[14] = ld32(nonce + 4);
    st[15] = ld32(nonce + 8);
}

/* One 64-byte keystream block (§2.3.1: 20 rounds, then add the input state). */
static void chacha_block(const uint32_t st[16], uint8_t ks[64])
{
    uint32_t x0 = st[0], x1 = st[1], x2 = st[2], x3 = st[3];
    uint32_t x4 = st[4], x5 = st[5], x6 = st[6], x7 = st[7];
    uint32_t x8 = st[8], x9 = st[9], x10 = st[10], x11 = st[11];
    uint32_t x12 = st[12], x13 = st[13], x14 = st[14], x15 = st[15];
    for (int i = 0; i < 10; i++) {
        QR(x0, x4, x8, x12);
        QR(x1, x5, x9, x13);
        QR(x2, x6, x10, x14);
        QR(x3, x7, x11, x15);
        QR(x0, x5, x10, x15);
        QR(x1, x6, x11, x12);
        QR(x2, x7, x8, x13);
        QR(x3, x4, x9, x14);
    }
    st32(ks + 0, x0 + st[0]);   st32(ks + 4, x1 + st[1]);
    st32(ks + 8, x2 + st[2]);   st32(ks + 12, x3 + st[3]);
    st32(ks + 16, x4 + st[4]);  st32(ks + 20, x5 + st[5]);
    st32(ks + 24, x6 + st[6]);  st32(ks + 28, x7 + st[7]);
    st32(ks + 32, x8 + st[8]);  st32(ks + 36, x9 + st[9]);
    st32(ks + 40, x10 + st[10]); st32(ks + 44, x11 + st[11]);
    st32(ks + 48, x12 + st[12]); st32(ks + 52, x13 + st[13]);
    st32(ks + 56, x14 + st[14]); st32(ks + 60, x15 + st[15]);
}

/* §2.4: out = in XOR keystream from block st[12] on; advances st[12]. */
static void chacha_xor_portable(uint32_t st[16], const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t ks[64];
    while (len > 0) {
        size_t n = len < 64 ? len : 64;
        chacha_block(st, ks);
        xor_bytes(out, in, ks, n);
        st[12]++;
        in += n;
        out += n;
        len -= n;
    }
    wipe(ks, sizeof ks);
}

/* Keystream blocks st[12] .. st[12]+nblocks-1 into ks (for the AEAD's first
 * batch: block 0 is the Poly1305 key). */
static void chacha_keystream_portable(const uint32_t st[16], uint8_t *ks, size_t nblocks)
{
    uint32_t s[16];
    memcpy(s, st, sizeof s);
    for (size_t i = 0; i < nblocks; i++) {
        chacha_block(s, ks + 64 * i);
        s[12]++;
    }
    wipe(s, sizeof s);
}

/* ------------------------------------------------------- Poly1305 (§2.5) */

typedef unsigned __int128 u128;

typedef struct {
    uint64_t r0, r1, s1;  /* clamped r; s1 = 5 * (r1 >> 2) */
    uint64_t h0, h1, h2;  /* accumulator */
    uint64_t k0, k1;      /* s, the second half of the one-time key */
} poly_st;

static void poly_init(poly_st *p, const uint8_t key[32])
{
    p->r0 = ld64(key) & 0x0ffffffc0fffffffull;       /* clamp (§2.5.1) */
    p->r1 = ld64(key + 8) & 0x0ffffffc0ffffffcull;
    p->s1 = p->r1 + (p->r1 >> 2);                     /* r1 % 4 == 0 */
    p->h0 = p->h1 = p->h2 = 0;
    p->k0 = ld64(key + 16);
    p->k1 = ld64(key + 24);
}

/* One block: h = (h + m + hibit * 2^128) * r mod p, partially reduced (h2 <= 4
 * afterwards). Works on locals h0 h1 h2 r0 r1 s1 of the caller. */
#define POLY_BLOCK(m, hibit)                                                   \
    do {                                                                       \
        u128 t_ = (u128)h0 + ld64(m);                                          \
        h0 = (uint64_t)t_;                                                     \
        t_ = (u128)h1 + ld64((m) + 8) + (uint64_t)(t_ >> 64);                  \
        h1 = (uint64_t)t_;                                                     \
        h2 += (uint64_t)(t_ >> 64) + (hibit);                                  \
        u128 d0_ = (u128)h0 * r0 + (u128)h1 * s1;                              \
        u128 d1_ = (u128)h0 * r1 + (u128)h1 * r0 + (u128)h2 * s1;              \
        uint64_t d2_ = h2 * r0;                                                \
        d1_ += (uint64_t)(d0_ >> 64);                                          \
        h0 = (uint64_t)d0_;                                                    \
        d2_ += (uint64_t)(d1_ >> 64);                                          \
        h1 = (uint64_t)d1_;                                                    \
        /* bits 130 and up of d2_ fold back times 5 (2^130 = 5 mod p) */       \
        uint64_t c_ = (d2_ >> 2) + (d2_ & ~(uint64_t)3);                       \
        h2 = d2_ & 3;                                                          \
        t_ = (u128)h0 + c_;                                                    \
        h0 = (uint64_t)t_;                                                     \
        t_ = (u128)h1 + (uint64_t)(t_ >> 64);                                  \
        h1 = (uint64_t)t_;                                                     \
        h2 += (uint64_t)(t_ >> 64);                                            \
    } while (0)

/* h = (h + m_i + hibit * 2^128) * r mod p for each 16-byte block. r1 is a
 * multiple of 4, so r1 * 2^128 * x = (r1 / 4) * 2^130 * x = 5 (r1 / 4) x =
 * s1 x (mod p). */
static void poly_blocks(poly_st *p, const uint8_t *m, size_t nblocks, uint64_t hibit)
{
    const uint64_t r0 = p->r0, r1 = p->r1, s1 = p->s1;
    uint64_t h0 = p->h0, h1 = p->h1, h2 = p->h2;
    while (nblocks--) {
        POLY_BLOCK(m, hibit);
        m += 16;
    }
    p->h0 = h0;
    p->h1 = h1;
    p->h2 = h2;
}

#if CB_CHACHA_X86

/* --------------------------------------------- ChaCha20, four blocks (xmm) */

/* Rotate each 32-bit lane left by 16 / by 8: byte shuffles. */
#define X4_ROT16(x) _mm_shuffle_epi8((x), _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13))
#define X4_ROT8(x) _mm_shuffle_epi8((x), _mm_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14))
#define X4_ROTN(x, n) _mm_or_si128(_mm_slli_epi32((x), (n)), _mm_srli_epi32((x), 32 - (n)))
#define X4_QR(a, b, c, d)                                                          \
    do {                                                                           \
        a = _mm_add_epi32(a, b); d = _mm_xor_si128(d, a); d = X4_ROT16(d);         \
        c = _mm_add_epi32(c, d); b = _mm_xor_si128(b, c); b = X4_ROTN(b, 12);      \
        a = _mm_add_epi32(a, b); d = _mm_xor_si128(d, a); d = X4_ROT8(d);          \
        c = _mm_add_epi32(c, d); b = _mm_xor_si128(b, c); b = X4_ROTN(b, 7);       \
    } while (0)
/* 4x4 transpose of 32-bit words: afterwards a..d hold blocks 0..3. */
#define X4_TRANSPOSE(a, b, c, d)                                                   \
    do {                                                                           \
        __m128i t0_ = _mm_unpacklo_epi32(a, b), t1_ = _mm_unpackhi_epi32(a, b);    \
        __m128i t2_ = _mm_unpacklo_epi32(c, d), t3_ = _mm_unpackhi_epi32(c, d);    \
        a = _mm_unpacklo_epi64(t0_, t2_); b = _mm_unpackhi_epi64(t0_, t2_);        \
        c = _mm_unpacklo_epi64(t1_, t3_); d = _mm_unpackhi_epi64(t1_, t3_);        \
    } while (0)
#define X4_OUT(v, off)                                                             \
    do {                                                                           \
        if (in)                                                                    \
            v = _mm_xor_si128(v, _mm_loadu_si128((const __m128i *)(in + (off))));  \
        _mm_storeu_si128((__m128i *)(out + (off)), v);                             \
    } while (0)

/* Four blocks from counter st[12]: out = in XOR keystream (256 bytes), or the
 * keystream itself when in is NULL. Defined once, compiled for SSSE3 and for
 * AVX2 (where the same intrinsics get VEX encodings). With MAC = 1 the nmac
 * (<= 16) Poly1305 blocks at mac are absorbed into *p in between the double
 * rounds, two per round (stitching, as in x8 below); with MAC = 0 p, mac and
 * nmac are unused. */
#define DEFINE_CHACHA_X4(NAME, TARGET, MAC)                                        \
    __attribute__((target(TARGET))) static void NAME(const uint32_t st[16],        \
                                                     const uint8_t *in, uint8_t *out, \
                                                     poly_st *p, const uint8_t *mac, int nmac) \
    {                                                                              \
        __m128i s[16], x[16];                                                      \
        uint64_t h0 = 0, h1 = 0, h2 = 0, r0 = 0, r1 = 0, s1 = 0;                   \
        if (MAC) {                                                                 \
            h0 = p->h0; h1 = p->h1; h2 = p->h2;                                    \
            r0 = p->r0; r1 = p->r1; s1 = p->s1;                                    \
        }                                                                          \
        for (int i = 0; i < 16; i++)                                               \
            s[i] = _mm_set1_epi32((int)st[i]);                                     \
        s[12] = _mm_add_epi32(s[12], _mm_setr_epi32(0, 1, 2, 3));                  \
        for (int i = 0; i < 16; i++)                                               \
            x[i] = s[i];                                                           \
        for (int r = 0; r < 10; r++) {                                             \
            X4_QR(x[0], x[4], x[8], x[12]);                                        \
            X4_QR(x[1], x[5], x[9], x[13]);                                        \
            X4_QR(x[2], x[6], x[10], x[14]);                                       \
            X4_QR(x[3], x[7], x[11], x[15]);                                       \
            X4_QR(x[0], x[5], x[10], x[15]);                                       \
            X4_QR(x[1], x[6], x[11], x[12]);                                       \
            X4_QR(x[2], x[7], x[8], x[13]);                                        \
            X4_QR(x[3], x[4], x[9], x[14]);                                        \
            if (MAC && 2 * r < nmac)                                               \
                POLY_BLOCK(mac + 32 * r, 1);                                       \
            if (MAC && 2 * r + 1 < nmac)                                           \
                POLY_BLOCK(mac + 32 * r + 16, 1);                                  \
        }                                                                          \
        if (MAC) {                                                                 \
            p->h0 = h0; p->h1 = h1; p->h2 = h2;                                    \
        }                                                                          \
        (void)p; (void)mac; (void)nmac; (void)r0; (void)r1; (void)s1;              \
        for (int i = 0; i < 16; i++)                                               \
            x[i] = _mm_add_epi32(x[i], s[i]);                                      \
        X4_TRANSPOSE(x[0], x[1], x[2], x[3]);                                      \
        X4_TRANSPOSE(x[4], x[5], x[6], x[7]);                                      \
        X4_TRANSPOSE(x[8], x[9], x[10], x[11]);                                    \
        X4_TRANSPOSE(x[12], x[13], x[14], x[15]);                                  \
        for (int j = 0; j < 4; j++) {                                              \
            X4_OUT(x[j], 64 * j);                                                  \
            X4_OUT(x[4 + j], 64 * j + 16);                                         \
            X4_OUT(x[8 + j], 64 * j + 32);                                         \
            X4_OUT(x[12 + j], 64 * j + 48);                                        \
        }                                                                          \
    }

DEFINE_CHACHA_X4(chacha_x4_ssse3, "ssse3", 0)
DEFINE_CHACHA_X4(chacha_x4_mac_ssse3, "ssse3", 1)
DEFINE_CHACHA_X4(chacha_x4_avx2, "avx2", 0)

/* Two blocks (counters st[12], st[12]+1) in the "horizontal" layout: one xmm
 * register per state row, one register set per block, the diagonal round
 * reached by rotating rows 1-3 with pshufd. Short messages need exactly two
 * blocks (block 0 is the Poly1305 key) and this is quicker than a four-block
 * batch: the two independent chains keep the vector units busy. Writes the
 * 128 keystream bytes to ks. */
#define H2_ROUND(a, b, c, d)                                                       \
    do {                                                                           \
        a = _mm_add_epi32(a, b); d = _mm_xor_si128(d, a); d = X4_ROT16(d);         \
        c = _mm_add_epi32(c, d); b = _mm_xor_si128(b, c); b = X4_ROTN(b, 12);      \
        a = _mm_add_epi32(a, b); d = _mm_xor_si128(d, a); d = X4_ROT8(d);          \
        c = _mm_add_epi32(c, d); b = _mm_xor_si128(b, c); b = X4_ROTN(b, 7);       \
    } while (0)
#define DEFINE_CHACHA_H2(NAME, TARGET)                                             \
    __attribute__((target(TARGET))) static void NAME(const uint32_t st[16], uint8_t ks[128]) \
    {                                                                              \
        const __m128i s0 = _mm_loadu_si128((const __m128i *)(st + 0));             \
        const __m128i s1 = _mm_loadu_si128((const __m128i *)(st + 4));             \
        const __m128i s2 = _mm_loadu_si128((const __m128i *)(st + 8));             \
        const __m128i s3 = _mm_loadu_si128((const __m128i *)(st + 12));            \
        const __m128i t3 = _mm_add_epi32(s3, _mm_setr_epi32(1, 0, 0, 0));          \
        __m128i a0 = s0, b0 = s1, c0 = s2, d0 = s3;                                \
        __m128i a1 = s0, b1 = s1, c1 = s2, d1 = t3;                                \
        for (int r = 0; r < 10; r++) {                                             \
            H2_ROUND(a0, b0, c0, d0);                                              \
            H2_ROUND(a1, b1, c1, d1);                                              \
            b0 = _mm_shuffle_epi32(b0, 0x39); c0 = _mm_shuffle_epi32(c0, 0x4e);    \
            d0 = _mm_shuffle_epi32(d0, 0x93);                                      \
            b1 = _mm_shuffle_epi32(b1, 0x39); c1 = _mm_shuffle_epi32(c1, 0x4e);    \
            d1 = _mm_shuffle_epi32(d1, 0x93);                                      \
            H2_ROUND(a0, b0, c0, d0);                                              \
            H2_ROUND(a1, b1, c1, d1);                                              \
            b0 = _mm_shuffle_epi32(b0, 0x93); c0 = _mm_shuffle_epi32(c0, 0x4e);    \
            d0 = _mm_shuffle_epi32(d0, 0x39);                                      \
            b1 = _mm_shuffle_epi32(b1, 0x93); c1 = _mm_shuffle_epi32(c1, 0x4e);    \
            d1 = _mm_shuffle_epi32(d1, 0x39);                                      \
        }                                                                          \
        _mm_storeu_si128((__m128i *)(ks + 0), _mm_add_epi32(a0, s0));              \
        _mm_storeu_si128((__m128i *)(ks + 16), _mm_add_epi32(b0, s1));             \
        _mm_storeu_si128((__m128i *)(ks + 32), _mm_add_epi32(c0, s2));             \
        _mm_storeu_si128((__m128i *)(ks + 48), _mm_add_epi32(d0, s3));             \
        _mm_storeu_si128((__m128i *)(ks + 64), _mm_add_epi32(a1, s0));             \
        _mm_storeu_si128((__m128i *)(ks + 80), _mm_add_epi32(b1, s1));             \
        _mm_storeu_si128((__m128i *)(ks + 96), _mm_add_epi32(c1, s2));             \
        _mm_storeu_si128((__m128i *)(ks + 112), _mm_add_epi32(d1, t3));            \
    }

DEFINE_CHACHA_H2(chacha_h2_ssse3, "ssse3")
DEFINE_CHACHA_H2(chacha_h2_avx2, "avx2")

/* §2.4 over any length with four-block batches, a tail of at most two blocks
 * with the two-block routine; advances st[12]. */
#define DEFINE_CHACHA_XOR_X4(NAME, X4, H2, TARGET)                                 \
    __attribute__((target(TARGET))) static void NAME(uint32_t st[16], const uint8_t *in,\
                                                     uint8_t *out, size_t len)     \
    {                                                                              \
        while (len >= 256) {                                                       \
            X4(st, in, out, NULL, NULL, 0);                                        \
            st[12] += 4;                                                           \
            in += 256;                                                             \
            out += 256;                                                            \
            len -= 256;                                                            \
        }                                                                          \
        if (len > 128) {                                                           \
            uint8_t ks[256];                                                       \
            X4(st, NULL, ks, NULL, NULL, 0);                                       \
            xor_bytes(out, in, ks, len);                                           \
            st[12] += (uint32_t)((len + 63) / 64);                                 \
            wipe(ks, sizeof ks);                                                   \
        } else if (len > 0) {                                                      \
            uint8_t ks[128];                                                       \
            H2(st, ks);                                                            \
            xor_bytes(out, in, ks, len);                                           \
            st[12] += (uint32_t)((len + 63) / 64);                                 \
            wipe(ks, sizeof ks);                                                   \
        }                                                                          \
    }

DEFINE_CHACHA_XOR_X4(chacha_xor_ssse3, chacha_x4_ssse3, chacha_h2_ssse3, "ssse3")

/* -------------------------------------------- ChaCha20, eight blocks (ymm) */

#define X8_ROT16(x) _mm256_shuffle_epi8((x), rot16)
#define X8_ROT8(x) _mm256_shuffle_epi8((x), rot8)
#define X8_ROTN(x, n) _mm256_or_si256(_mm256_slli_epi32((x), (n)), _mm256_srli_epi32((x), 32 - (n)))
#define X8_QR(a, b, c, d)                                                             \
    do {                                                                              \
        a = _mm256_add_epi32(a, b); d = _mm256_xor_si256(d, a); d = X8_ROT16(d);      \
        c = _mm256_add_epi32(c, d); b = _mm256_xor_si256(b, c); b = X8_ROTN(b, 12);   \
        a = _mm256_add_epi32(a, b); d = _mm256_xor_si256(d, a); d = X8_ROT8(d);       \
        c = _mm256_add_epi32(c, d); b = _mm256_xor_si256(b, c); b = X8_ROTN(b, 7);    \
    } while (0)
/* 4x4 transposes inside each 128-bit lane: the low lane of a..d then holds
 * blocks 0..3 and the high lane blocks 4..7. */
#define X8_TRANSPOSE(a, b, c, d)                                                      \
    do {                                                                              \
        __m256i t0_ = _mm256_unpacklo_epi32(a, b), t1_ = _mm256_unpackhi_epi32(a, b); \
        __m256i t2_ = _mm256_unpacklo_epi32(c, d), t3_ = _mm256_unpackhi_epi32(c, d); \
        a = _mm256_unpacklo_epi64(t0_, t2_); b = _mm256_unpackhi_epi64(t0_, t2_);     \
        c = _mm256_unpacklo_epi64(t1_, t3_); d = _mm256_unpackhi_epi64(t1_, t3_);     \
    } while (0)
#define X8_OUT(v, off)                                                                \
    do {                                                                              \
        __m256i v_ = (v);                                                             \
        if (in)                                                                       \
            v_ = _mm256_xor_si256(v_, _mm256_loadu_si256((const __m256i *)(in + (off)))); \
        _mm256_storeu_si256((__m256i *)(out + (off)), v_);                            \
    } while (0)

/* Eight blocks from counter st[12]: out = in XOR keystream (512 bytes), or
 * the keystream when in is NULL. When mac is not NULL, the nmac (<= 32)
 * Poly1305 blocks at mac (2^128 bit set) are absorbed into *p in between the
 * double rounds: three per round, the rest at the end. The multiplications
 * run on the integer units while the vector units do ChaCha20 ("stitching"). */
__attribute__((target("avx2"), always_inline)) static inline void
chacha_x8_core(const uint32_t st[16], const uint8_t *in, uint8_t *out, poly_st *p, const uint8_t *mac, int nmac)
{
    uint64_t h0 = 0, h1 = 0, h2 = 0, r0 = 0, r1 = 0, s1 = 0;
    if (mac) {
        h0 = p->h0; h1 = p->h1; h2 = p->h2;
        r0 = p->r0; r1 = p->r1; s1 = p->s1;
    }
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                           2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i rot8 = _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14,
                                          3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
    __m256i x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15;
    const __m256i ctr = _mm256_add_epi32(_mm256_set1_epi32((int)st[12]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    x0 = _mm256_set1_epi32((int)st[0]);   x1 = _mm256_set1_epi32((int)st[1]);
    x2 = _mm256_set1_epi32((int)st[2]);   x3 = _mm256_set1_epi32((int)st[3]);
    x4 = _mm256_set1_epi32((int)st[4]);   x5 = _mm256_set1_epi32((int)st[5]);
    x6 = _mm256_set1_epi32((int)st[6]);   x7 = _mm256_set1_epi32((int)st[7]);
    x8 = _mm256_set1_epi32((int)st[8]);   x9 = _mm256_set1_epi32((int)st[9]);
    x10 = _mm256_set1_epi32((int)st[10]); x11 = _mm256_set1_epi32((int)st[11]);
    x12 = ctr;                            x13 = _mm256_set1_epi32((int)st[13]);
    x14 = _mm256_set1_epi32((int)st[14]); x15 = _mm256_set1_epi32((int)st[15]);
    for (int r = 0; r < 10; r++) {
        X8_QR(x0, x4, x8, x12);
        X8_QR(x1, x5, x9, x13);
        X8_QR(x2, x6, x10, x14);
        X8_QR(x3, x7, x11, x15);
        X8_QR(x0, x5, x10, x15);
        X8_QR(x1, x6, x11, x12);
        X8_QR(x2, x7, x8, x13);
        X8_QR(x3, x4, x9, x14);
        if (mac) {
            if (3 * r < nmac)
                POLY_BLOCK(mac + 48 * r, 1);
            if (3 * r + 1 < nmac)
                POLY_BLOCK(mac + 48 * r + 16, 1);
            if (3 * r + 2 < nmac)
                POLY_BLOCK(mac + 48 * r + 32, 1);
        }
    }
    if (mac) {
        for (int k = 30; k < nmac; k++)
            POLY_BLOCK(mac + 16 * k, 1);
        p->h0 = h0; p->h1 = h1; p->h2 = h2;
    }
    x0 = _mm256_add_epi32(x0, _mm256_set1_epi32((int)st[0]));
    x1 = _mm256_add_epi32(x1, _mm256_set1_epi32((int)st[1]));
    x2 = _mm256_add_epi32(x2, _mm256_set1_epi32((int)st[2]));
    x3 = _mm256_add_epi32(x3, _mm256_set1_epi32((int)st[3]));
    x4 = _mm256_add_epi32(x4, _mm256_set1_epi32((int)st[4]));
    x5 = _mm256_add_epi32(x5, _mm256_set1_epi32((int)st[5]));
    x6 = _mm256_add_epi32(x6, _mm256_set1_epi32((int)st[6]));
    x7 = _mm256_add_epi32(x7, _mm256_set1_epi32((int)st[7]));
    x8 = _mm256_add_epi32(x8, _mm256_set1_epi32((int)st[8]));
    x9 = _mm256_add_epi32(x9, _mm256_set1_epi32((int)st[9]));
    x10 = _mm256_add_epi32(x10, _mm256_set1_epi32((int)st[10]));
    x11 = _mm256_add_epi32(x11, _mm256_set1_epi32((int)st[11]));
    x12 = _mm256_add_epi32(x12, ctr);
    x13 = _mm256_add_epi32(x13, _mm256_set1_epi32((int)st[13]));
    x14 = _mm256_add_epi32(x14, _mm256_set1_epi32((int)st[14]));
    x15 = _mm256_add_epi32(x15, _mm256_set1_epi32((int)st[15]));
    X8_TRANSPOSE(x0, x1, x2, x3);
    X8_TRANSPOSE(x4, x5, x6, x7);
    X8_TRANSPOSE(x8, x9, x10, x11);
    X8_TRANSPOSE(x12, x13, x14, x15);
    /* block j (j < 4): words 0-7 = low lanes of x[j], x[4+j]; words 8-15 =
     * low lanes of x[8+j], x[12+j]; block j+4: the high lanes. */
    X8_OUT(_mm256_permute2x128_si256(x0, x4, 0x20), 0);
    X8_OUT(_mm256_permute2x128_si256(x8, x12, 0x20), 32);
    X8_OUT(_mm256_permute2x128_si256(x1, x5, 0x20), 64);
    X8_OUT(_mm256_permute2x128_si256(x9, x13, 0x20), 96);
    X8_OUT(_mm256_permute2x128_si256(x2, x6, 0x20), 128);
    X8_OUT(_mm256_permute2x128_si256(x10, x14, 0x20), 160);
    X8_OUT(_mm256_permute2x128_si256(x3, x7, 0x20), 192);
    X8_OUT(_mm256_permute2x128_si256(x11, x15, 0x20), 224);
    X8_OUT(_mm256_permute2x128_si256(x0, x4, 0x31), 256);
    X8_OUT(_mm256_permute2x128_si256(x8, x12, 0x31), 288);
    X8_OUT(_mm256_permute2x128_si256(x1, x5, 0x31), 320);
    X8_OUT(_mm256_permute2x128_si256(x9, x13, 0x31), 352);
    X8_OUT(_mm256_permute2x128_si256(x2, x6, 0x31), 384);
    X8_OUT(_mm256_permute2x128_si256(x10, x14, 0x31), 416);
    X8_OUT(_mm256_permute2x128_si256(x3, x7, 0x31), 448);
    X8_OUT(_mm256_permute2x128_si256(x11, x15, 0x31), 480);
}

__attribute__((target("avx2"))) static void chacha_x8_avx2(const uint32_t st[16], const uint8_t *in, uint8_t *out)
{
    chacha_x8_core(st, in, out, NULL, NULL, 0);
}

__attribute__((target("avx2"))) static void chacha_x8_mac_avx2(const uint32_t st[16], const uint8_t *in, uint8_t *out,
                                                               poly_st *p, const uint8_t *mac, int nmac)
{
    chacha_x8_core(st, in, out, p, mac, nmac);
}

/* §2.4 over any length: eight-block batches, then one buffered tail of at
 * most eight, four or two blocks; advances st[12]. */
__attribute__((target("avx2"))) static void chacha_xor_avx2(uint32_t st[16], const uint8_t *in, uint8_t *out, size_t len)
{
    while (len >= 512) {
        chacha_x8_avx2(st, in, out);
        st[12] += 8;
        in += 512;
        out += 512;
        len -= 512;
    }
    if (len > 256) {
        uint8_t ks[512];
        chacha_x8_avx2(st, NULL, ks);
        xor_bytes(out, in, ks, len);
        st[12] += (uint32_t)((len + 63) / 64);
        wipe(ks, sizeof ks);
    } else if (len > 128) {
        uint8_t ks[256];
        chacha_x4_avx2(st, NULL, ks, NULL, NULL, 0);
        xor_bytes(out, in, ks, len);
        st[12] += (uint32_t)((len + 63) / 64);
        wipe(ks, sizeof ks);
    } else if (len > 0) {
        uint8_t ks[128];
        chacha_h2_avx2(st, ks);
        xor_bytes(out, in, ks, len);
        st[12] += (uint32_t)((len + 63) / 64);
        wipe(ks, sizeof ks);
    }
}


/* ------------------------------------------ Poly1305, four blocks (ymm) */

/* Four-way Poly1305 (the parallel Horner scheme of Goll and Gueron,
 * "Vectorization of Poly1305 Message Authentication Code", 2015), radix 2^26:
 * five limbs per value, one 64-bit lane per block, vpmuludq products. Lane j
 * accumulates blocks j, j+4, j+8, ...; every group of four blocks multiplies
 * the accumulators by r^4, the last group by (r^4, r^3, r^2, r^1), and the
 * lanes are summed. Bounds: accumulator limbs stay below 2^27 + 2^26 (after
 * adding a message block), the multipliers below 5 * 2^26, so each 64-bit
 * lane sum of five products stays below 2^60. Constant-time like the scalar code (no data-dependent branch). */

/* h -> h mod p, fully reduced (h2 <= 4 on entry, so h < 2p). */
static void poly_reduce_full(uint64_t *h0, uint64_t *h1, uint64_t *h2)
{
    u128 t = (u128)*h0 + 5;
    uint64_t g0 = (uint64_t)t;
    t = (u128)*h1 + (uint64_t)(t >> 64);
    uint64_t g1 = (uint64_t)t;
    uint64_t g2 = *h2 + (uint64_t)(t >> 64);
    uint64_t mask = 0 - (g2 >> 2);
    *h0 = (*h0 & ~mask) | (g0 & mask);
    *h1 = (*h1 & ~mask) | (g1 & mask);
    *h2 = (*h2 & ~mask) | ((g2 - 4) & mask);
}

/* 130-bit (h0, h1, h2) into five 26-bit limbs (h2 may make l[4] exceed 2^26). */
static void poly_to26(uint64_t h0, uint64_t h1, uint64_t h2, uint64_t l[5])
{
    l[0] = h0 & 0x3ffffff;
    l[1] = (h0 >> 26) & 0x3ffffff;
    l[2] = ((h0 >> 52) | (h1 << 12)) & 0x3ffffff;
    l[3] = (h1 >> 14) & 0x3ffffff;
    l[4] = (h1 >> 40) | (h2 << 24);
}

#define P4_MUL(d, h, r, s)                                                                 \
    do {                                                                                   \
        d[0] = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[0], r[0]), _mm256_mul_epu32(h[1], s[4])), \
               _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[2], s[3]), _mm256_mul_epu32(h[3], s[2])), \
                                _mm256_mul_epu32(h[4], s[1])));                            \
        d[1] = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[0], r[1]), _mm256_mul_epu32(h[1], r[0])), \
               _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[2], s[4]), _mm256_mul_epu32(h[3], s[3])), \
                                _mm256_mul_epu32(h[4], s[2])));                            \
        d[2] = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[0], r[2]), _mm256_mul_epu32(h[1], r[1])), \
               _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[2], r[0]), _mm256_mul_epu32(h[3], s[4])), \
                                _mm256_mul_epu32(h[4], s[3])));                            \
        d[3] = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[0], r[3]), _mm256_mul_epu32(h[1], r[2])), \
               _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[2], r[1]), _mm256_mul_epu32(h[3], r[0])), \
                                _mm256_mul_epu32(h[4], s[4])));                            \
        d[4] = _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[0], r[4]), _mm256_mul_epu32(h[1], r[3])), \
               _mm256_add_epi64(_mm256_add_epi64(_mm256_mul_epu32(h[2], r[2]), _mm256_mul_epu32(h[3], r[1])), \
                                _mm256_mul_epu32(h[4], r[0])));                            \
    } while (0)

/* Partial carry in two interleaved chains (d0 -> d1 -> d2 -> d3 -> d4 and
 * d3 -> d4 -> 5 d0 -> d1), four steps deep: afterwards every limb is below
 * 2^26 + 2^11. */
#define P4_CARRY(h, d)                                                                     \
    do {                                                                                   \
        __m256i c0_ = _mm256_srli_epi64(d[0], 26), c3_ = _mm256_srli_epi64(d[3], 26);    \
        d[0] = _mm256_and_si256(d[0], m26); d[3] = _mm256_and_si256(d[3], m26);           \
        d[1] = _mm256_add_epi64(d[1], c0_); d[4] = _mm256_add_epi64(d[4], c3_);           \
        __m256i c1_ = _mm256_srli_epi64(d[1], 26), c4_ = _mm256_srli_epi64(d[4], 26);    \
        d[1] = _mm256_and_si256(d[1], m26); d[4] = _mm256_and_si256(d[4], m26);           \
        d[2] = _mm256_add_epi64(d[2], c1_);                                                \
        d[0] = _mm256_add_epi64(d[0], _mm256_add_epi64(c4_, _mm256_slli_epi64(c4_, 2)));  \
        __m256i c2_ = _mm256_srli_epi64(d[2], 26); c0_ = _mm256_srli_epi64(d[0], 26);     \
        d[2] = _mm256_and_si256(d[2], m26); d[0] = _mm256_and_si256(d[0], m26);           \
        d[3] = _mm256_add_epi64(d[3], c2_); d[1] = _mm256_add_epi64(d[1], c0_);           \
        c3_ = _mm256_srli_epi64(d[3], 26);                                                 \
        d[3] = _mm256_and_si256(d[3], m26);                                                \
        d[4] = _mm256_add_epi64(d[4], c3_);                                                \
        for (int i_ = 0; i_ < 5; i_++)                                                     \
            h[i_] = d[i_];                                                                 \
    } while (0)

/* Absorb 4 * ngroups full blocks (2^128 bit set) at m into *p. */
__attribute__((target("avx2"))) static void poly_blocks_avx2(poly_st *p, const uint8_t *m, size_t ngroups)
{
    const uint64_t r0 = p->r0, r1 = p->r1, s1 = p->s1;
    uint64_t h0, h1, h2;
    uint64_t pw[4][5]; /* r^1 .. r^4 in radix 2^26 */
    static const uint8_t zero[16];

    /* powers of r, computed with the scalar code (h = (h + 0) * r), fully reduced */
    h0 = r0; h1 = r1; h2 = 0;
    poly_to26(h0, h1, h2, pw[0]);
    for (int k = 1; k < 4; k++) {
        POLY_BLOCK(zero, 0);
        uint64_t a = h0, b = h1, c = h2;
        poly_reduce_full(&a, &b, &c);
        poly_to26(a, b, c, pw[k]);
    }

    const __m256i m26 = _mm256_set1_epi64x(0x3ffffff);
    const __m256i hibit = _mm256_set1_epi64x((int64_t)1 << 24);
    __m256i R[5], S[5], H[5], D[5], M[5];
    for (int i = 0; i < 5; i++) {
        R[i] = _mm256_set1_epi64x((int64_t)pw[3][i]);
        S[i] = _mm256_set1_epi64x((int64_t)(5 * pw[3][i]));
    }
    /* the running h goes into lane 0 (the first block of the first group) */
    uint64_t hl[5];
    poly_to26(p->h0, p->h1, p->h2, hl);
    for (int i = 0; i < 5; i++)
        H[i] = _mm256_setr_epi64x((int64_t)hl[i], 0, 0, 0);

    for (size_t g = 0; g < ngroups; g++, m += 64) {
        /* four blocks -> lanes: lo and hi 64-bit halves, then 26-bit limbs */
        __m256i a = _mm256_loadu_si256((const __m256i *)m);         /* blocks 0, 1 */
        __m256i b = _mm256_loadu_si256((const __m256i *)(m + 32));  /* blocks 2, 3 */
        __m256i lo = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(a, b), 0xd8);
        __m256i hi = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b), 0xd8);
        M[0] = _mm256_and_si256(lo, m26);
        M[1] = _mm256_and_si256(_mm256_srli_epi64(lo, 26), m26);
        M[2] = _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52), _mm256_slli_epi64(hi, 12)), m26);
        M[3] = _mm256_and_si256(_mm256_srli_epi64(hi, 14), m26);
        M[4] = _mm256_or_si256(_mm256_srli_epi64(hi, 40), hibit);
        for (int i = 0; i < 5; i++)
            H[i] = _mm256_add_epi64(H[i], M[i]);
        if (g + 1 == ngroups) {
            /* last group: lane j is multiplied by r^(4-j) */
            for (int i = 0; i < 5; i++) {
                R[i] = _mm256_setr_epi64x((int64_t)pw[3][i], (int64_t)pw[2][i], (int64_t)pw[1][i], (int64_t)pw[0][i]);
                S[i] = _mm256_setr_epi64x((int64_t)(5 * pw[3][i]), (int64_t)(5 * pw[2][i]),
                                          (int64_t)(5 * pw[1][i]), (int64_t)(5 * pw[0][i]));
            }
        }
        P4_MUL(D, H, R, S);
        P4_CARRY(H, D);
    }

    /* sum the lanes, carry, back to radix 2^64 */
    uint64_t l[5];
    for (int i = 0; i < 5; i++) {
        __m128i x = _mm_add_epi64(_mm256_castsi256_si128(H[i]), _mm256_extracti128_si256(H[i], 1));
        l[i] = (uint64_t)_mm_cvtsi128_si64(x) + (uint64_t)_mm_extract_epi64(x, 1);
    }
    l[1] += l[0] >> 26; l[0] &= 0x3ffffff;
    l[2] += l[1] >> 26; l[1] &= 0x3ffffff;
    l[3] += l[2] >> 26; l[2] &= 0x3ffffff;
    l[4] += l[3] >> 26; l[3] &= 0x3ffffff;
    uint64_t c = l[4] >> 26; l[4] &= 0x3ffffff;
    l[0] += c * 5;
    l[1] += l[0] >> 26; l[0] &= 0x3ffffff;
    /* l[1] may now be 2^26 or more: add the limbs, do not OR them */
    u128 acc = (u128)l[0] + ((u128)l[1] << 26) + ((u128)l[2] << 52);
    p->h0 = (uint64_t)acc;
    acc = (acc >> 64) + ((u128)l[3] << 14) + ((u128)l[4] << 40);
    p->h1 = (uint64_t)acc;
    p->h2 = (uint64_t)(acc >> 64);
    wipe(pw, sizeof pw);
    wipe(hl, sizeof hl);
    wipe(l, sizeof l);
}

#endif /* CB_CHACHA_X86 */

/* Dispatch on the path (already checked against the CPU). */
static void chacha_xor(int path, uint32_t st[16], const uint8_t *in, uint8_t *out, size_t len)
{
#if CB_CHACHA_X86
    if (path == CB_CHACHA_PATH_AVX2) {
        chacha_xor_avx2(st, in, out, len);
        return;
    }
    if (path == CB_CHACHA_PATH_SSSE3) {
        chacha_xor_ssse3(st, in, out, len);
        return;
    }
#endif
    (void)path;
    chacha_xor_portable(st, in, out, len);
}

/* The AEAD's first keystream batch, from counter 0, for a len-byte message:
 * returns the number of blocks written to ks (2, 4 or 8). */
static size_t chacha_first_batch(int path, const uint32_t st[16], uint8_t ks[512], size_t len)
{
#if CB_CHACHA_X86
    if (path == CB_CHACHA_PATH_AVX2) {
        if (len <= 64) {
            chacha_h2_avx2(st, ks);
            return 2;
        }
        if (len > 192) {
            chacha_x8_avx2(st, NULL, ks);
            return 8;
        }
        chacha_x4_avx2(st, NULL, ks, NULL, NULL, 0);
        return 4;
    }
    if (path == CB_CHACHA_PATH_SSSE3) {
        if (len <= 64) {
            chacha_h2_ssse3(st, ks);
            return 2;
        }
        chacha_x4_ssse3(st, NULL, ks, NULL, NULL, 0);
        return 4;
    }
#endif
    (void)len;
    chacha_keystream_portable(st, ks, 2);
    return 2;
}

/* Whole blocks of `data`, then the last partial block zero-padded to 16 bytes
 * with the 2^128 bit set: the AEAD's pad16 construction (§2.8). */
static void poly_update_pad16(poly_st *p, const uint8_t *data, size_t len)
{
    size_t full = len / 16;
    if (full)
        poly_blocks(p, data, full, 1);
    size_t rem = len % 16;
    if (rem) {
        uint8_t buf[16] = {0};
        memcpy(buf, data + 16 * full, rem);
        poly_blocks(p, buf, 1, 1);
        wipe(buf, sizeof buf);
    }
}

/* poly_update_pad16, with the four-way vector code for long inputs on AVX2. */
static void poly_update_pad16_path(int path, poly_st *p, const uint8_t *data, size_t len)
{
#if CB_CHACHA_X86
    if (path == CB_CHACHA_PATH_AVX2 && len >= 256) {
        size_t groups = len / 64;
        poly_blocks_avx2(p, data, groups);
        data += 64 * groups;
        len -= 64 * groups;
    }
#endif
    (void)path;
    poly_update_pad16(p, data, len);
}

/* Final reduction modulo p (h < 2p here), then tag = (h + s) mod 2^128. */
static void poly_finish(poly_st *p, uint8_t tag[16])
{
    uint64_t h0 = p->h0, h1 = p->h1, h2 = p->h2;
    u128 t = (u128)h0 + 5;
    uint64_t g0 = (uint64_t)t;
    t = (u128)h1 + (uint64_t)(t >> 64);
    uint64_t g1 = (uint64_t)t;
    uint64_t g2 = h2 + (uint64_t)(t >> 64);
    uint64_t mask = 0 - (g2 >> 2);   /* all ones when h + 5 >= 2^130, i.e. h >= p */
    h0 = (h0 & ~mask) | (g0 & mask);
    h1 = (h1 & ~mask) | (g1 & mask);
    t = (u128)h0 + p->k0;
    h0 = (uint64_t)t;
    h1 = h1 + p->k1 + (uint64_t)(t >> 64);
    st64(tag, h0);
    st64(tag + 8, h1);
    wipe(p, sizeof *p);
}

/* The AEAD's final block: le64(aad_len) || le64(ct_len). */
static void poly_lengths(poly_st *p, uint64_t aad_len, uint64_t ct_len)
{
    uint8_t b[16];
    st64(b, aad_len);
    st64(b + 8, ct_len);
    poly_blocks(p, b, 1, 1);
}

/* ------------------------------------------------------------- interface */

int cb_chacha_ctx_init(cb_chacha_ctx *ctx, int path, const uint8_t *key, size_t key_len)
{
    if (ctx == NULL || key == NULL || key_len != 32)
        return CB_CHACHA_ERR_ARG;
    int ok = cb_chacha_path_supported(path);
    if (ok < 0)
        return ok;
    if (!ok)
        return CB_CHACHA_ERR_CPU;
    for (int i = 0; i < 8; i++)
        ctx->key[i] = ld32(key + 4 * i);
    ctx->path = path;
    ctx->magic = CB_CHACHA_CTX_MAGIC;
    return CB_CHACHA_OK;
}

void cb_chacha_ctx_wipe(cb_chacha_ctx *ctx)
{
    if (ctx != NULL)
        wipe(ctx, sizeof *ctx);
}

/* Blocks needed for len bytes, compared without overflow against the blocks
 * left before the 32-bit counter wraps. */
static int too_long(uint32_t counter, size_t len)
{
    uint64_t blocks = (uint64_t)(len / 64) + (len % 64 != 0);
    return blocks > (uint64_t)0x100000000ull - counter;
}

int cb_chacha20_xor(const cb_chacha_ctx *ctx, const uint8_t *nonce, size_t nonce_len, uint32_t counter,
                    const uint8_t *in, uint8_t *out, size_t len)
{
    int rc = ctx_check(ctx);
    if (rc)
        return rc;
    if (nonce == NULL || nonce_len != 12 || (len && (in == NULL || out == NULL)))
        return CB_CHACHA_ERR_ARG;
    if (too_long(counter, len))
        return CB_CHACHA_ERR_TOO_LONG;
    if (len == 0)
        return CB_CHACHA_OK;
    uint32_t st[16];
    chacha_state(st, ctx->key, counter, nonce);
    chacha_xor(ctx->path, st, in, out, len);
    wipe(st, sizeof st);
    return CB_CHACHA_OK;
}

/* Checks shared by encrypt and decrypt; text_len is the plaintext length. */
static int aead_check(const cb_chacha_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                      const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t text_len,
                      const uint8_t *out)
{
    int rc = ctx_check(ctx);
    if (rc)
        return rc;
    if (nonce == NULL || nonce_len != 12 || (aad_len && aad == NULL) || (text_len && (in == NULL || out == NULL)))
        return CB_CHACHA_ERR_ARG;
    if (too_long(1, text_len))
        return CB_CHACHA_ERR_TOO_LONG;
    return CB_CHACHA_OK;
}

int cb_chacha_aead_encrypt(const cb_chacha_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                           uint8_t *out, size_t out_len)
{
    int rc = aead_check(ctx, nonce, nonce_len, aad, aad_len, pt, pt_len, out);
    if (rc)
        return rc;
    if (out == NULL || out_len != pt_len + 16 || out_len < pt_len)
        return CB_CHACHA_ERR_ARG;

    uint32_t st[16];
    uint8_t ks[512];
    poly_st p;
    chacha_state(st, ctx->key, 0, nonce);
    /* First batch from counter 0: block 0 is the one-time key (§2.6), the
     * rest encrypts the start of the message. */
    size_t nb = chacha_first_batch(ctx->path, st, ks, pt_len);
    poly_init(&p, ks);
    /* The AAD goes through Poly1305 before anything is written to out: out
     * may be the AAD's buffer (encrypt_into), and the tag must cover the AAD
     * as given, not ciphertext written over it. */
    poly_update_pad16_path(ctx->path, &p, aad, aad_len);
    size_t done = 64 * (nb - 1);
    if (done > pt_len)
        done = pt_len;
    xor_bytes(out, pt, ks + 64, done);
    st[12] = (uint32_t)nb;
    wipe(ks, sizeof ks);

    /* Ciphertext from `pend` on is not yet authenticated. On the vector
     * paths each full chunk is encrypted while the previous one (whole
     * 16-byte blocks: the first batch is 192 or 448 bytes) goes through
     * Poly1305 (stitching). */
    const uint8_t *pend = out;
#if CB_CHACHA_X86
    if (ctx->path == CB_CHACHA_PATH_AVX2) {
        while (pt_len - done >= 512) {
            chacha_x8_mac_avx2(st, pt + done, out + done, &p, pend, (int)((size_t)(out + done - pend) / 16));
            st[12] += 8;
            pend = out + done;
            done += 512;
        }
    } else if (ctx->path == CB_CHACHA_PATH_SSSE3) {
        while (pt_len - done >= 256) {
            chacha_x4_mac_ssse3(st, pt + done, out + done, &p, pend, (int)((size_t)(out + done - pend) / 16));
            st[12] += 4;
            pend = out + done;
            done += 256;
        }
    }
#endif
    if (pt_len > done)
        chacha_xor(ctx->path, st, pt + done, out + done, pt_len - done);
    poly_update_pad16_path(ctx->path, &p, pend, (size_t)(out + pt_len - pend));
    poly_lengths(&p, aad_len, pt_len);
    poly_finish(&p, out + pt_len);
    wipe(st, sizeof st);
    return CB_CHACHA_OK;
}

int cb_chacha_aead_decrypt(const cb_chacha_ctx *ctx, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                           uint8_t *out, size_t out_len)
{
    if (in == NULL || in_len < 16)
        return CB_CHACHA_ERR_ARG;
    size_t ct_len = in_len - 16;
    int rc = aead_check(ctx, nonce, nonce_len, aad, aad_len, in, ct_len, out);
    if (rc)
        return rc;
    if (out_len != ct_len)
        return CB_CHACHA_ERR_ARG;

    uint32_t st[16];
    uint8_t ks[512];
    uint8_t tag[16];
    poly_st p;
    chacha_state(st, ctx->key, 0, nonce);
    size_t nb = chacha_first_batch(ctx->path, st, ks, ct_len);
    size_t first = 64 * (nb - 1);
    if (first > ct_len)
        first = ct_len;
    poly_init(&p, ks);
    poly_update_pad16_path(ctx->path, &p, aad, aad_len);
    int stitched = 0;
#if CB_CHACHA_X86
    if ((ctx->path == CB_CHACHA_PATH_AVX2 && ct_len >= 448 + 512) ||
        (ctx->path == CB_CHACHA_PATH_SSSE3 && ct_len >= 192 + 256)) {
        /* One pass: each chunk is authenticated while it is decrypted.
         * Plaintext reaches out before the verdict, so out is wiped below if
         * the tag is wrong. */
        stitched = 1;
        xor_bytes(out, in, ks + 64, first);
        poly_blocks(&p, in, first / 16, 1);
        st[12] = (uint32_t)nb;
        size_t done = first;
        if (ctx->path == CB_CHACHA_PATH_AVX2) {
            while (ct_len - done >= 512) {
                chacha_x8_mac_avx2(st, in + done, out + done, &p, in + done, 32);
                st[12] += 8;
                done += 512;
            }
        } else {
            while (ct_len - done >= 256) {
                chacha_x4_mac_ssse3(st, in + done, out + done, &p, in + done, 16);
                st[12] += 4;
                done += 256;
            }
        }
        if (ct_len > done)
            chacha_xor(ctx->path, st, in + done, out + done, ct_len - done);
        poly_update_pad16_path(ctx->path, &p, in + done, ct_len - done);
    } else
#endif
    {
        /* Authenticate first: nothing is written to out unless the tag matches. */
        poly_update_pad16_path(ctx->path, &p, in, ct_len);
    }
    poly_lengths(&p, aad_len, ct_len);
    poly_finish(&p, tag);
    uint8_t diff = 0;
    for (size_t i = 0; i < 16; i++)
        diff |= (uint8_t)(tag[i] ^ in[ct_len + i]);
    wipe(tag, sizeof tag);
    /* diff is public once the verdict is out: branching on it leaks nothing more */
    CB_DECLASSIFY(&diff, sizeof diff);
    if (diff != 0) {
        if (stitched)
            wipe(out, ct_len);
        wipe(ks, sizeof ks);
        wipe(st, sizeof st);
        return CB_CHACHA_ERR_TAG;
    }
    if (!stitched) {
        xor_bytes(out, in, ks + 64, first);
        st[12] = (uint32_t)nb;
        if (ct_len > first)
            chacha_xor(ctx->path, st, in + first, out + first, ct_len - first);
    }
    wipe(ks, sizeof ks);
    wipe(st, sizeof st);
    return CB_CHACHA_OK;
}

int cb_poly1305_mac(int path, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                    uint8_t *tag, size_t tag_len)
{
    int ok = cb_chacha_path_supported(path);
    if (ok < 0)
        return ok;
    if (!ok)
        return CB_CHACHA_ERR_CPU;
    if (key == NULL || key_len != 32 || tag == NULL || tag_len != 16 || (msg_len && msg == NULL))
        return CB_CHACHA_ERR_ARG;
    poly_st p;
    poly_init(&p, key);
    size_t full = msg_len / 16;
#if CB_CHACHA_X86
    if (path == CB_CHACHA_PATH_AVX2 && full >= 16) { /* 256 bytes and up, as above */
        size_t groups = full / 4;
        poly_blocks_avx2(&p, msg, groups);
        msg += 64 * groups;
        msg_len -= 64 * groups;
        full -= 4 * groups;
    }
#endif
    if (full)
        poly_blocks(&p, msg, full, 1);
    size_t rem = msg_len % 16;
    if (rem) {
        /* §2.5: the last short block gets a 0x01 byte after it, no 2^128 bit */
        uint8_t buf[16] = {0};
        memcpy(buf, msg + 16 * full, rem);
        buf[rem] = 1;
        poly_blocks(&p, buf, 1, 0);
        wipe(buf, sizeof buf);
    }
    poly_finish(&p, tag);
    return CB_CHACHA_OK;
}
