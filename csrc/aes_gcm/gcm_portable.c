/* AES-128/256-GCM in portable C, constant-time (FIPS 197; NIST SP 800-38D
 * §6.2-6.5, §7.1 GCM-AE, §7.2 GCM-AD).
 *
 * AES: the S-box is computed, not looked up: SubBytes inverts 8 bytes at a
 * time in GF(2^8) (x^254 by 4 shift-and-mask SWAR multiplications and 3
 * Frobenius maps x^(2^k), which are fixed bit matrices applied with masks and
 * multiplications by public constants) and applies the affine map
 * of FIPS 197 §5.1.1 with byte rotations.  ShiftRows and MixColumns use fixed
 * positions.  No table is indexed by secret data and no branch depends on it.
 *
 * GHASH: the same reflected representation as the x86 paths (gcm_x86.inc):
 * a 64x64 carry-less product is built from 25 integer multiplications of
 * operands masked to every fifth bit ("multiplication with holes": each
 * column sums at most 13 bits, so carries never reach the next bit of the
 * same class), Karatsuba for 128 bits, and the reduction modulo
 * x^128 + x^7 + x^2 + x + 1 by shifts.  This relies on the CPU's 64x64->128
 * integer multiply being constant-time (true on x86-64 and on the common
 * 64-bit ARM cores) and on the compiler's unsigned __int128.
 *
 * Speed is secondary here: a few hundred cycles per byte. */
#include "gcm_common.inc"

#define PATH CB_AESGCM_PATH_PORTABLE
#define CB_ENTRY(x) cb_aesgcm_portable_##x

/* plain C: runs on any CPU */
static inline int cpu_ok(void) { return 1; }
#define M01 0x0101010101010101ULL

typedef unsigned __int128 u128;

static inline uint64_t ld64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void st64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t ld64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void st64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* ---- AES (FIPS 197) ---------------------------------------------------- */

/* xtime on 8 bytes at once (FIPS 197 §4.2.1). */
static inline uint64_t xt8(uint64_t a)
{
    return ((a & 0x7f7f7f7f7f7f7f7fULL) << 1) ^ (((a >> 7) & M01) * 0x1b);
}

/* Bytewise product in GF(2^8) mod x^8 + x^4 + x^3 + x + 1, 8 lanes. */
static inline uint64_t gm8(uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= a & (((b >> i) & M01) * 0xff);
        a = xt8(a);
    }
    return r;
}

static inline uint64_t rotb(uint64_t x, int n)
{
    uint64_t hi = M01 * ((0xffu << n) & 0xffu), lo = M01 * (0xffu >> (8 - n));
    return ((x << n) & hi) | ((x >> (8 - n)) & lo);
}

/* x -> x^(2^k) is GF(2)-linear: a fixed 8x8 bit matrix applied to each byte,
 * column i being (x^i)^(2^k) mod x^8 + x^4 + x^3 + x + 1. */
static const uint8_t FROB1[8] = {0x01, 0x04, 0x10, 0x40, 0x1b, 0x6c, 0xab, 0x9a}; /* x^2 */
static const uint8_t FROB2[8] = {0x01, 0x10, 0x1b, 0xab, 0x5e, 0x97, 0xb3, 0xc5}; /* x^4 */
static const uint8_t FROB4[8] = {0x01, 0x5e, 0xe4, 0xe8, 0x4d, 0x91, 0x1d, 0x6c}; /* x^16 */

static inline uint64_t lin8(uint64_t a, const uint8_t col[8])
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r ^= ((a >> i) & M01) * col[i]; /* bit i of each byte times column i (public) */
    return r;
}

/* S-box of FIPS 197 §5.1.1 on 8 bytes: affine(x^254), x^254 = x^-1 (0 -> 0)
 * by x^2, x^3, x^12 = (x^3)^4, x^15, x^240 = (x^15)^16, x^252, x^254. */
static uint64_t sbox8(uint64_t x)
{
    uint64_t x2 = lin8(x, FROB1), x3 = gm8(x2, x), x12 = lin8(x3, FROB2);
    uint64_t x15 = gm8(x12, x3), x240 = lin8(x15, FROB4);
    uint64_t t = gm8(gm8(x240, x12), x2);
    return t ^ rotb(t, 1) ^ rotb(t, 2) ^ rotb(t, 3) ^ rotb(t, 4) ^ (M01 * 0x63);
}

/* One block; state bytes s[r + 4c] as in FIPS 197 §3.4, held in 2 words. */
static void aes_block(const uint8_t *rk, int nr, const uint8_t in[16], uint8_t out[16])
{
    uint8_t s[16], t[16];
    uint64_t w0 = ld64le(in) ^ ld64le(rk), w1 = ld64le(in + 8) ^ ld64le(rk + 8);
    for (int r = 1; r <= nr; r++) {
        w0 = sbox8(w0);
        w1 = sbox8(w1);
        st64le(s, w0);
        st64le(s + 8, w1);
        for (int c = 0; c < 4; c++) /* ShiftRows (§5.1.2) */
            for (int row = 0; row < 4; row++)
                t[row + 4 * c] = s[row + 4 * ((c + row) & 3)];
        w0 = ld64le(t);
        w1 = ld64le(t + 8);
        if (r != nr) { /* MixColumns (§5.1.3); r is public */
            uint64_t *w[2] = {&w0, &w1};
            for (int k = 0; k < 2; k++) {
                uint64_t a = *w[k];
                /* rotate each 32-bit column by 1, 2, 3 bytes: row i <- row i+n */
                uint64_t r1 = ((a >> 8) & 0x00ffffff00ffffffULL) | ((a << 24) & 0xff000000ff000000ULL);
                uint64_t r2 = ((a >> 16) & 0x0000ffff0000ffffULL) | ((a << 16) & 0xffff0000ffff0000ULL);
                uint64_t r3 = ((a >> 24) & 0x000000ff000000ffULL) | ((a << 8) & 0xffffff00ffffff00ULL);
                *w[k] = xt8(a ^ r1) ^ r1 ^ r2 ^ r3;
            }
        }
        w0 ^= ld64le(rk + 16 * r);
        w1 ^= ld64le(rk + 16 * r + 8);
    }
    st64le(out, w0);
    st64le(out + 8, w1);
    cb_aesgcm_wipe(s, sizeof s);
    cb_aesgcm_wipe(t, sizeof t);
}

/* KeyExpansion (FIPS 197 §5.2) into 16-byte round keys; words as bytes. */
static void key_expand(uint8_t *rk, const uint8_t *key, size_t key_len)
{
    static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
    const int nk = (int)key_len / 4, nr = nk + 6, total = 4 * (nr + 1);
    memcpy(rk, key, key_len);
    for (int i = nk; i < total; i++) {
        uint8_t tmp[4];
        memcpy(tmp, rk + 4 * (i - 1), 4);
        if (i % nk == 0 || (nk == 8 && i % nk == 4)) {
            uint8_t b[8] = {0};
            int rot = (i % nk == 0);
            for (int j = 0; j < 4; j++)
                b[j] = tmp[(j + rot) & 3]; /* RotWord when rot (public) */
            uint64_t v = sbox8(ld64le(b));
            for (int j = 0; j < 4; j++)
                tmp[j] = (uint8_t)(v >> (8 * j));
            if (rot)
                tmp[0] ^= rcon[i / nk - 1]; /* public index */
            cb_aesgcm_wipe(b, sizeof b);
        }
        for (int j = 0; j < 4; j++)
            rk[4 * i + j] = rk[4 * (i - nk) + j] ^ tmp[j];
        cb_aesgcm_wipe(tmp, sizeof tmp);
    }
}

/* ---- GHASH (SP 800-38D §6.3, §6.4) ------------------------------------ */

static const uint64_t HOLES[5] = {0x1084210842108421ULL, 0x2108421084210842ULL, 0x4210842108421084ULL,
                                  0x8421084210842108ULL, 0x0842108421084210ULL};

/* 64x64 -> 128 carry-less product, constant-time. */
static inline u128 clmul64(uint64_t a, uint64_t b)
{
    uint64_t ai[5], bi[5];
    u128 z[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        ai[i] = a & HOLES[i];
        bi[i] = b & HOLES[i];
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            z[(i + j) % 5] ^= (u128)ai[i] * bi[j];
    u128 r = 0;
    for (int c = 0; c < 5; c++) {
        u128 mask = ((u128)HOLES[(c + 1) % 5] << 64) | HOLES[c];
        r |= z[c] & mask;
    }
    return r;
}

/* (yh:yl) <- R(y * H) given R(H x^-1) = (hh:hl); see gcm_x86.inc. */
static inline void gf_mul(uint64_t *yh, uint64_t *yl, uint64_t hh, uint64_t hl)
{
    u128 lo = clmul64(*yl, hl), hi = clmul64(*yh, hh), mid = clmul64(*yl ^ *yh, hl ^ hh);
    mid ^= lo ^ hi;
    uint64_t z0 = (uint64_t)lo, z1 = (uint64_t)(lo >> 64) ^ (uint64_t)mid;
    uint64_t z2 = (uint64_t)hi ^ (uint64_t)(mid >> 64), z3 = (uint64_t)(hi >> 64);
    uint64_t a = z0;
    z1 ^= (a << 57) ^ (a << 62) ^ (a << 63);
    z2 ^= a ^ (a >> 7) ^ (a >> 2) ^ (a >> 1);
    a = z1;
    z2 ^= (a << 57) ^ (a << 62) ^ (a << 63);
    z3 ^= a ^ (a >> 7) ^ (a >> 2) ^ (a >> 1);
    *yh = z3;
    *yl = z2;
}

typedef struct {
    uint64_t h, l;
} g128;

static inline g128 hkey(const cb_aesgcm_ctx *ctx)
{
    g128 k;
    memcpy(&k.h, ctx->htab, 8);
    memcpy(&k.l, ctx->htab + 8, 8);
    return k;
}

static void set_h(cb_aesgcm_ctx *ctx, const uint8_t h16[16])
{
    uint64_t hh = ld64be(h16), hl = ld64be(h16 + 8);
    uint64_t m = 0 - (hh >> 63);
    hh = (hh << 1) | (hl >> 63);
    hl <<= 1;
    hh ^= m & 0xC200000000000000ULL;
    hl ^= m & 1;
    memcpy(ctx->htab, &hh, 8);
    memcpy(ctx->htab + 8, &hl, 8);
}

static void gh_padded(g128 k, g128 *y, const uint8_t *p, size_t len)
{
    while (len >= 16) {
        y->h ^= ld64be(p);
        y->l ^= ld64be(p + 8);
        gf_mul(&y->h, &y->l, k.h, k.l);
        p += 16;
        len -= 16;
    }
    if (len) {
        uint8_t b[16] = {0};
        memcpy(b, p, len);
        y->h ^= ld64be(b);
        y->l ^= ld64be(b + 8);
        gf_mul(&y->h, &y->l, k.h, k.l);
    }
}

static inline void gh_lengths(g128 k, g128 *y, uint64_t a_bytes, uint64_t c_bytes)
{
    y->h ^= a_bytes * 8;
    y->l ^= c_bytes * 8;
    gf_mul(&y->h, &y->l, k.h, k.l);
}

/* ---- CTR (SP 800-38D §6.5) ---------------------------------------------- */

static void ctr_xor(const cb_aesgcm_ctx *ctx, uint8_t cb[16], const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t ks[16];
    uint32_t c = ((uint32_t)cb[12] << 24) | ((uint32_t)cb[13] << 16) | ((uint32_t)cb[14] << 8) | cb[15];
    while (len) {
        cb[12] = (uint8_t)(c >> 24);
        cb[13] = (uint8_t)(c >> 16);
        cb[14] = (uint8_t)(c >> 8);
        cb[15] = (uint8_t)c;
        aes_block(ctx->rk, (int)ctx->rounds, cb, ks);
        size_t n = len < 16 ? len : 16;
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] ^ ks[i];
        in += n;
        out += n;
        len -= n;
        c++; /* inc32 (§6.2): wraps mod 2^32 */
    }
    cb[12] = (uint8_t)(c >> 24);
    cb[13] = (uint8_t)(c >> 16);
    cb[14] = (uint8_t)(c >> 8);
    cb[15] = (uint8_t)c;
    cb_aesgcm_wipe(ks, sizeof ks);
}

static void gcm_run(const cb_aesgcm_ctx *ctx, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, int enc, uint8_t tag[16])
{
    g128 k = hkey(ctx), y = {0, 0};
    uint8_t j0[16], ej0[16], cb[16];
    if (iv_len == 12) { /* §7.1 step 2 */
        memcpy(j0, iv, 12);
        j0[12] = j0[13] = j0[14] = 0;
        j0[15] = 1;
    } else {
        g128 v = {0, 0};
        gh_padded(k, &v, iv, iv_len);
        gh_lengths(k, &v, 0, iv_len);
        st64be(j0, v.h);
        st64be(j0 + 8, v.l);
    }
    aes_block(ctx->rk, (int)ctx->rounds, j0, ej0);
    memcpy(cb, j0, 16);
    uint32_t c = (((uint32_t)cb[12] << 24) | ((uint32_t)cb[13] << 16) | ((uint32_t)cb[14] << 8) | cb[15]) + 1;
    cb[12] = (uint8_t)(c >> 24);
    cb[13] = (uint8_t)(c >> 16);
    cb[14] = (uint8_t)(c >> 8);
    cb[15] = (uint8_t)c;
    gh_padded(k, &y, aad, aad_len);
    if (enc) {
        ctr_xor(ctx, cb, in, out, len);
        gh_padded(k, &y, out, len);
    } else {
        gh_padded(k, &y, in, len);
        ctr_xor(ctx, cb, in, out, len);
    }
    gh_lengths(k, &y, aad_len, len);
    st64be(tag, y.h);
    st64be(tag + 8, y.l);
    for (int i = 0; i < 16; i++)
        tag[i] ^= ej0[i];
    cb_aesgcm_wipe(ej0, sizeof ej0);
}

/* ---- entry points ------------------------------------------------------- */

int cb_aesgcm_portable_init(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len)
{
    static const uint8_t zero[16] = {0};
    uint8_t h[16];
    if (ctx == NULL || key == NULL || (key_len != 16 && key_len != 32))
        return CB_AESGCM_EARG;
    memset(ctx, 0, sizeof *ctx);
    key_expand(ctx->rk, key, key_len);
    ctx->rounds = key_len == 16 ? 10 : 14;
    ctx->path = PATH;
    ctx->magic = CB_AESGCM_MAGIC;
    ctx->has_key = 1;
    aes_block(ctx->rk, (int)ctx->rounds, zero, h);
    set_h(ctx, h);
    cb_aesgcm_wipe(h, sizeof h);
    return CB_AESGCM_OK;
}

#include "gcm_entry.inc"

int cb_aesgcm_portable_ctr(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                           size_t len, uint8_t *out)
{
    uint8_t cb[16];
    int rc = cb_aesgcm_check_ctx(ctx, PATH, 1);
    if (rc)
        return rc;
    if (ctr16 == NULL || (len && (in == NULL || out == NULL)))
        return CB_AESGCM_EARG;
    memcpy(cb, ctr16, 16);
    ctr_xor(ctx, cb, in, out, len);
    return CB_AESGCM_OK;
}

int cb_aesgcm_portable_ghash_init(cb_aesgcm_ctx *ctx, const uint8_t *h16)
{
    if (ctx == NULL || h16 == NULL)
        return CB_AESGCM_EARG;
    memset(ctx, 0, sizeof *ctx);
    ctx->path = PATH;
    ctx->magic = CB_AESGCM_MAGIC;
    set_h(ctx, h16);
    return CB_AESGCM_OK;
}

int cb_aesgcm_portable_ghash(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16)
{
    int rc = cb_aesgcm_check_ctx(ctx, PATH, 0);
    if (rc)
        return rc;
    if (out16 == NULL || len % 16 || (len && data == NULL))
        return CB_AESGCM_EARG;
    g128 y = {0, 0};
    gh_padded(hkey(ctx), &y, data, len);
    st64be(out16, y.h);
    st64be(out16 + 8, y.l);
    return CB_AESGCM_OK;
}

int cb_aesgcm_portable_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len)
{
    if (rk == NULL || rk_len < 240 || key == NULL || (key_len != 16 && key_len != 32))
        return CB_AESGCM_EARG;
    key_expand(rk, key, key_len);
    return CB_AESGCM_OK;
}
