/* Timing loop of `cryptobench leakcheck` (dudect-style) and the deliberately
 * leaky T-table AES.  See leakcheck.h.
 *
 * The measurement follows dudect (Reparaz, Balasch, Verbauwhede, "Dude, is
 * my code constant time?", DATE 2017): inputs of both classes are prepared
 * before measuring and interleaved in random order by the caller; here each
 * call is bracketed by serialising TSC reads and nothing else. */
#include "leakcheck.h"

#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CB_LEAK_HAVE_TSC 1
#else
#define CB_LEAK_HAVE_TSC 0
#endif

/* ------------------------------------------------------------------ timer */

#if CB_LEAK_HAVE_TSC
static inline uint64_t tsc_begin(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

static inline uint64_t tsc_end(void)
{
    unsigned int aux;
    uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
}
#else
static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define tsc_begin mono_ns
#define tsc_end mono_ns
#endif

int cb_leak_uses_tsc(void) { return CB_LEAK_HAVE_TSC; }

/* ------------------------------------------------------------------ calls */

typedef int (*aead_fn)(const void *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_arg);
typedef int (*aesgcm_init_fn)(void *ctx, const uint8_t *key, size_t key_len);
typedef int (*chacha_init_fn)(void *ctx, int path, const uint8_t *key, size_t key_len);
typedef int (*p256_sign_fn)(int path, uint8_t *out, const uint8_t *d, const uint8_t *digest,
                            const uint8_t *k, int der);
typedef int (*p256_base_fn)(int path, uint8_t *out, const uint8_t *k);

static uint8_t evict_buf[64 * 1024];
static volatile uint8_t evict_sink;

static void evict(void)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < sizeof evict_buf; i += 64) {
        evict_buf[i] += 1;
        acc ^= evict_buf[i];
    }
    evict_sink = acc;
}

static inline int one_call(const cb_leak_target *t, const uint8_t *in, size_t in_len)
{
    switch (t->kind) {
    case CB_LEAK_NOOP:
        return 0;
    case CB_LEAK_TTABLE_BLOCK:
        cb_leak_ttable_encrypt((const cb_leak_ttable_ctx *)t->ctx, in, t->out);
        return 0;
    case CB_LEAK_AEAD_ENCRYPT:
        return ((aead_fn)t->fn)(t->ctx, t->nonce, t->nonce_len, t->aad, t->aad_len, in, t->msg_len,
                                t->out, t->out_arg);
    case CB_LEAK_AEAD_KEY: {
        int rc = t->abi == CB_LEAK_AEAD_CHACHA
                     ? ((chacha_init_fn)t->init)(t->ctx, t->path, in, in_len)
                     : ((aesgcm_init_fn)t->init)(t->ctx, in, in_len);
        if (rc < 0)
            return rc;
        return ((aead_fn)t->fn)(t->ctx, t->nonce, t->nonce_len, t->aad, t->aad_len, t->msg, t->msg_len,
                                t->out, t->out_arg);
    }
    case CB_LEAK_P256_SIGN_K: /* input = k || digest */
        return ((p256_sign_fn)t->fn)(t->path, t->out, t->fixed, in + 32, in, 0);
    case CB_LEAK_P256_SIGN_D: /* input = d || digest */
        return ((p256_sign_fn)t->fn)(t->path, t->out, in, in + 32, NULL, 0);
    case CB_LEAK_P256_BASE_MUL:
        return ((p256_base_fn)t->fn)(t->path, t->out, in);
    case CB_LEAK_AEAD_FORGERY: { /* the tag is already in data (see cb_leak_measure) */
        int rc = ((aead_fn)t->fn)(t->ctx, t->nonce, t->nonce_len, t->aad, t->aad_len, t->data,
                                  t->msg_len + 16, t->out, t->out_arg);
        return rc == t->expect_rc ? 0 : rc < 0 ? rc : CB_LEAK_FORGERY_ACCEPTED;
    }
    default:
        return -1000;
    }
}

int cb_leak_measure(const cb_leak_target *t, const uint8_t *inputs, size_t input_len, size_t n,
                    uint64_t *times, uint32_t flags)
{
    int first = 0;
    if (t == NULL || times == NULL || (n && inputs == NULL && t->kind != CB_LEAK_NOOP))
        return -1001;
    if (t->kind != CB_LEAK_NOOP && t->kind != CB_LEAK_TTABLE_BLOCK && t->fn == NULL)
        return -1002;
    if ((t->kind == CB_LEAK_P256_SIGN_K || t->kind == CB_LEAK_P256_SIGN_D) && input_len < 64)
        return -1003;
    if (t->kind == CB_LEAK_TTABLE_BLOCK && input_len < 16)
        return -1003;
    if (t->kind == CB_LEAK_AEAD_KEY && t->init == NULL)
        return -1002;
    if (t->kind == CB_LEAK_AEAD_FORGERY && (t->data == NULL || input_len < 16))
        return -1003;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *in = inputs ? inputs + i * input_len : NULL;
        if (t->kind == CB_LEAK_AEAD_FORGERY)
            memcpy(t->data + t->msg_len, in, 16);
        if (flags & CB_LEAK_EVICT)
            evict();
        uint64_t t0 = tsc_begin();
        int rc = one_call(t, in, input_len);
        uint64_t t1 = tsc_end();
        times[i] = t1 - t0;
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

/* ------------------------------------------------------------------ leaky AES */

static uint8_t sbox[256];
static uint32_t te[4][256];
static volatile int tables_ready;

static uint8_t xtime(uint8_t a) { return (uint8_t)((a << 1) ^ ((a >> 7) * 0x1b)); }

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1)
            r ^= a;
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

static uint8_t rotl8(uint8_t x, int s) { return (uint8_t)((x << s) | (x >> (8 - s))); }
static uint32_t ror32(uint32_t x, int s) { return (x >> s) | (x << (32 - s)); }

/* FIPS 197 §5.1.1: S(x) = affine(x^-1), with x^-1 = x^254 in GF(2^8). */
static void build_tables(void)
{
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        if (x) {
            uint8_t p = (uint8_t)x, acc = 1;
            for (int e = 254; e; e >>= 1) {
                if (e & 1)
                    acc = gf_mul(acc, p);
                p = gf_mul(p, p);
            }
            inv = acc;
        }
        sbox[x] = (uint8_t)(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63);
    }
    for (int x = 0; x < 256; x++) {
        uint8_t s = sbox[x], s2 = xtime(s), s3 = (uint8_t)(s2 ^ s);
        /* column (2s, s, s, 3s): SubBytes then MixColumns of one byte (FIPS 197 §5.1.3) */
        uint32_t w = ((uint32_t)s2 << 24) | ((uint32_t)s << 16) | ((uint32_t)s << 8) | s3;
        te[0][x] = w;
        te[1][x] = ror32(w, 8);
        te[2][x] = ror32(w, 16);
        te[3][x] = ror32(w, 24);
    }
    tables_ready = 1;
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t sub_word(uint32_t w)
{
    return ((uint32_t)sbox[w >> 24] << 24) | ((uint32_t)sbox[(w >> 16) & 0xff] << 16) |
           ((uint32_t)sbox[(w >> 8) & 0xff] << 8) | sbox[w & 0xff];
}

/* FIPS 197 §5.2 key expansion for AES-128. */
int cb_leak_ttable_init(cb_leak_ttable_ctx *ctx, const uint8_t *key, size_t key_len)
{
    if (ctx == NULL || key == NULL || key_len != 16)
        return -1;
    if (!tables_ready)
        build_tables();
    uint32_t rcon = 1;
    for (int i = 0; i < 4; i++)
        ctx->rk[i] = load_be32(key + 4 * i);
    for (int i = 4; i < 44; i++) {
        uint32_t w = ctx->rk[i - 1];
        if (i % 4 == 0) {
            w = sub_word((w << 8) | (w >> 24)) ^ (rcon << 24);
            rcon = xtime((uint8_t)rcon);
        }
        ctx->rk[i] = ctx->rk[i - 4] ^ w;
    }
    return 0;
}

/* One block, 10 rounds; every table index is a secret byte (variable-time). */
void cb_leak_ttable_encrypt(const cb_leak_ttable_ctx *ctx, const uint8_t *in, uint8_t *out)
{
    const uint32_t *rk = ctx->rk;
    uint32_t s0 = load_be32(in) ^ rk[0], s1 = load_be32(in + 4) ^ rk[1];
    uint32_t s2 = load_be32(in + 8) ^ rk[2], s3 = load_be32(in + 12) ^ rk[3];
    for (int r = 1; r < 10; r++) {
        const uint32_t *k = rk + 4 * r;
        uint32_t t0 = te[0][s0 >> 24] ^ te[1][(s1 >> 16) & 0xff] ^ te[2][(s2 >> 8) & 0xff] ^ te[3][s3 & 0xff] ^ k[0];
        uint32_t t1 = te[0][s1 >> 24] ^ te[1][(s2 >> 16) & 0xff] ^ te[2][(s3 >> 8) & 0xff] ^ te[3][s0 & 0xff] ^ k[1];
        uint32_t t2 = te[0][s2 >> 24] ^ te[1][(s3 >> 16) & 0xff] ^ te[2][(s0 >> 8) & 0xff] ^ te[3][s1 & 0xff] ^ k[2];
        uint32_t t3 = te[0][s3 >> 24] ^ te[1][(s0 >> 16) & 0xff] ^ te[2][(s1 >> 8) & 0xff] ^ te[3][s2 & 0xff] ^ k[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    const uint32_t *k = rk + 40;
    store_be32(out, (((uint32_t)sbox[s0 >> 24] << 24) | ((uint32_t)sbox[(s1 >> 16) & 0xff] << 16) |
                     ((uint32_t)sbox[(s2 >> 8) & 0xff] << 8) | sbox[s3 & 0xff]) ^ k[0]);
    store_be32(out + 4, (((uint32_t)sbox[s1 >> 24] << 24) | ((uint32_t)sbox[(s2 >> 16) & 0xff] << 16) |
                         ((uint32_t)sbox[(s3 >> 8) & 0xff] << 8) | sbox[s0 & 0xff]) ^ k[1]);
    store_be32(out + 8, (((uint32_t)sbox[s2 >> 24] << 24) | ((uint32_t)sbox[(s3 >> 16) & 0xff] << 16) |
                         ((uint32_t)sbox[(s0 >> 8) & 0xff] << 8) | sbox[s1 & 0xff]) ^ k[2]);
    store_be32(out + 12, (((uint32_t)sbox[s3 >> 24] << 24) | ((uint32_t)sbox[(s0 >> 16) & 0xff] << 16) |
                          ((uint32_t)sbox[(s1 >> 8) & 0xff] << 8) | sbox[s2 & 0xff]) ^ k[3]);
}
