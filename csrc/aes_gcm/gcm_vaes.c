/* AES-128/256-GCM with VAES + VPCLMULQDQ on 256-bit AVX2 registers (FIPS 197,
 * NIST SP 800-38D §7.1 GCM-AE and §7.2 GCM-AD), for CPUs with or without
 * AVX-512 (no AVX-512 instruction or zmm register is used).
 *
 * Each ymm holds two counter blocks; 8 ymm = 16 blocks are in flight per
 * iteration.  The GHASH of the previous 16 ciphertext blocks (decrypt: the
 * current 16) is interleaved with the AES rounds: per ymm, one 2-lane
 * Karatsuba product against the pair (H^(16-2j), H^(15-2j)), all 16 products
 * summed unreduced and reduced once per 16 blocks.  Tails shorter than 16
 * blocks, the AAD and the IV hash use the xmm helpers of gcm_x86.inc (VEX
 * encoded here).
 *
 * Constant-time: no secret-dependent branches or memory indices.  Functions
 * carry target("vaes,vpclmulqdq,avx2,aes,pclmul"); every entry point checks
 * cpuid (cached) for all of them before running any. */
#define GCM_TARGET __attribute__((target("vaes,vpclmulqdq,avx2,aes,pclmul")))
#define GCM_RK_STRIDE 32
#include "gcm_x86.inc"

#define PATH CB_AESGCM_PATH_VAES

#define RK256(ctx, i) _mm256_loadu_si256((const __m256i *)((ctx)->rk + 32 * (i)))
#define POW256(ctx, j) _mm256_loadu_si256((const __m256i *)((ctx)->htab + 32 * (j)))
#define KAR256(ctx, j) _mm256_loadu_si256((const __m256i *)((ctx)->htab + 256 + 32 * (j)))

static int cpu_ok(void)
{
    return cb_cpu_is_x86() &&
           (cb_aesgcm_cpu_features_cached() & CB_AESGCM_NEED_VAES) == CB_AESGCM_NEED_VAES;
}

GCM_INLINE __m256i bswap256(__m256i x)
{
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                                  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

GCM_INLINE void gf_acc256(__m256i *lo, __m256i *hi, __m256i *mid, __m256i a, __m256i h, __m256i hk)
{
    *lo = _mm256_xor_si256(*lo, _mm256_clmulepi64_epi128(a, h, 0x00));
    *hi = _mm256_xor_si256(*hi, _mm256_clmulepi64_epi128(a, h, 0x11));
    __m256i af = _mm256_xor_si256(a, _mm256_shuffle_epi32(a, 0x4e));
    *mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(af, hk, 0x00));
}

GCM_INLINE __m128i fold256(__m256i v)
{
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

GCM_INLINE __m128i gf_reduce256(__m256i lo, __m256i hi, __m256i mid)
{
    return gf_reduce(fold256(lo), fold256(hi), fold256(mid));
}

/* 16 blocks at p: y <- (y + X1) H^16 + X2 H^15 + ... + X16 H. */
GCM_INLINE __m128i gh16(const cb_aesgcm_ctx *ctx, __m128i y, const uint8_t *p)
{
    __m256i lo = _mm256_setzero_si256(), hi = lo, mid = lo;
    for (int j = 1; j <= 8; j++) { /* Y (in ymm 0) last: shorter dependency chain */
        const int i = j & 7;
        __m256i x = bswap256(_mm256_loadu_si256((const __m256i *)(p + 32 * i)));
        if (i == 0)
            x = _mm256_xor_si256(x, _mm256_zextsi128_si256(y));
        gf_acc256(&lo, &hi, &mid, x, POW256(ctx, i), KAR256(ctx, i));
    }
    return gf_reduce256(lo, hi, mid);
}

GCM_INLINE __m128i gh_blocks_wide(const cb_aesgcm_ctx *ctx, __m128i y, const uint8_t *p, size_t n)
{
    while (n >= 16) {
        y = gh16(ctx, y, p);
        p += 256;
        n -= 16;
    }
    return gh_blocks(ctx, y, p, n);
}

/* The AES rounds of 16 blocks in b0..b7 (2 per ymm), written out so the
 * compiler keeps everything in the 16 ymm registers. */
#define V_R(i)                                                                             \
    do {                                                                                   \
        const __m256i k_ = RK256(ctx, i);                                                  \
        b0 = _mm256_aesenc_epi128(b0, k_);                                                 \
        b1 = _mm256_aesenc_epi128(b1, k_);                                                 \
        b2 = _mm256_aesenc_epi128(b2, k_);                                                 \
        b3 = _mm256_aesenc_epi128(b3, k_);                                                 \
        b4 = _mm256_aesenc_epi128(b4, k_);                                                 \
        b5 = _mm256_aesenc_epi128(b5, k_);                                                 \
        b6 = _mm256_aesenc_epi128(b6, k_);                                                 \
        b7 = _mm256_aesenc_epi128(b7, k_);                                                 \
    } while (0)

#define V_CTR()                                                                            \
    do {                                                                                   \
        const __m256i k_ = RK256(ctx, 0);                                                  \
        b0 = _mm256_xor_si256(bswap256(ctr), k_);                                          \
        b1 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c2)), k_);                    \
        b2 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c4)), k_);                    \
        b3 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c6)), k_);                    \
        ctr = _mm256_add_epi32(ctr, c8);                                                   \
        b4 = _mm256_xor_si256(bswap256(ctr), k_);                                          \
        b5 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c2)), k_);                    \
        b6 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c4)), k_);                    \
        b7 = _mm256_xor_si256(bswap256(_mm256_add_epi32(ctr, c6)), k_);                    \
        ctr = _mm256_add_epi32(ctr, c8);                                                   \
    } while (0)

#define V_OUT1(bj, j)                                                                      \
    _mm256_storeu_si256((__m256i *)(out + 32 * (j)),                                       \
                        _mm256_xor_si256(_mm256_aesenclast_epi128(bj, k_),                 \
                                         _mm256_loadu_si256((const __m256i *)(in + 32 * (j)))))
#define V_LAST()                                                                           \
    do {                                                                                   \
        const __m256i k_ = RK256(ctx, nr);                                                 \
        V_OUT1(b0, 0); V_OUT1(b1, 1); V_OUT1(b2, 2); V_OUT1(b3, 3);                        \
        V_OUT1(b4, 4); V_OUT1(b5, 5); V_OUT1(b6, 6); V_OUT1(b7, 7);                        \
    } while (0)

/* GHASH step for ymm j of the 16 blocks at hp (j = 0 carries Y). */
#define V_GH(j)                                                                            \
    do {                                                                                   \
        __m256i x_ = bswap256(_mm256_loadu_si256((const __m256i *)(hp + 32 * (j))));       \
        if ((j) == 0)                                                                      \
            x_ = _mm256_xor_si256(x_, _mm256_zextsi128_si256(y));                          \
        gf_acc256(&lo, &hi, &mid, x_, POW256(ctx, j), KAR256(ctx, j));                     \
    } while (0)

/* nb whole 16-block batches. Encrypt hashes the previous batch's ciphertext
 * during the current batch's rounds; decrypt hashes the batch it decrypts.
 * Y enters at the last GHASH step, so the reduction chain from one batch to
 * the next is short. nr is a compile-time constant after inlining. */
GCM_INLINE __m128i bulk16(const cb_aesgcm_ctx *ctx, const int nr, const int enc, __m128i *pctr,
                          __m128i y, const uint8_t *in, uint8_t *out, size_t nb)
{
    __m256i ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(*pctr), _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
    const __m256i c2 = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2), c4 = _mm256_add_epi32(c2, c2);
    const __m256i c6 = _mm256_add_epi32(c4, c2), c8 = _mm256_add_epi32(c4, c4);
    __m256i b0, b1, b2, b3, b4, b5, b6, b7;
    const uint8_t *hp = in;
    size_t it = 0;
    *pctr = _mm_add_epi32(*pctr, _mm_set_epi32(0, 0, 0, (int)(16 * nb)));
    if (enc) { /* first batch: nothing to hash yet */
        V_CTR();
        for (int r = 1; r < nr; r++)
            V_R(r);
        V_LAST();
        hp = out;
        in += 256;
        out += 256;
        it = 1;
    }
    for (; it < nb; it++) {
        __m256i lo = _mm256_setzero_si256(), hi = lo, mid = lo;
        V_CTR();
        V_R(1); V_GH(1);
        V_R(2); V_GH(2);
        V_R(3); V_GH(3);
        V_R(4); V_GH(4);
        V_R(5); V_GH(5);
        V_R(6); V_GH(6);
        V_R(7); V_GH(7);
        V_R(8); V_GH(0);
        V_R(9);
        if (nr == 14) {
            V_R(10); V_R(11); V_R(12); V_R(13);
        }
        V_LAST();
        y = gf_reduce256(lo, hi, mid);
        hp = enc ? out : in + 256;
        in += 256;
        out += 256;
    }
    if (enc)
        y = gh16(ctx, y, hp);
    return y;
}

static GCM_TARGET __attribute__((noinline)) void gcm_run(const cb_aesgcm_ctx *ctx, const uint8_t *iv,
                                                         size_t iv_len, const uint8_t *aad,
                                                         size_t aad_len, const uint8_t *in,
                                                         size_t len, uint8_t *out, int enc,
                                                         uint8_t tag[16])
{
    __m128i j0 = gcm_j0(ctx, iv, iv_len);
    __m128i ej0 = aes_enc1(ctx, j0);
    __m128i ctr = _mm_add_epi32(bswap128(j0), _mm_set_epi32(0, 0, 0, 1));
    __m128i y = gh_blocks_wide(ctx, _mm_setzero_si128(), aad, aad_len / 16);
    if (aad_len % 16)
        y = gh_padded(ctx, y, aad + (aad_len & ~(size_t)15), aad_len % 16);
    size_t nb = len / 256, done = nb * 256;
    if (nb) {
        if (ctx->rounds == 10)
            y = enc ? bulk16(ctx, 10, 1, &ctr, y, in, out, nb) : bulk16(ctx, 10, 0, &ctr, y, in, out, nb);
        else
            y = enc ? bulk16(ctx, 14, 1, &ctr, y, in, out, nb) : bulk16(ctx, 14, 0, &ctr, y, in, out, nb);
    }
    while (len > done) {
        size_t n = len - done < 128 ? len - done : 128;
        y = gcm_tail(ctx, &ctr, y, in + done, out + done, n, enc);
        done += n;
    }
    y = gh_lengths(ctx, y, aad_len, len);
    _mm_storeu_si128((__m128i *)tag, _mm_xor_si128(bswap128(y), ej0));
}

GCM_INLINE void store_rk256(uint8_t *dst, const __m128i *rk, int nr)
{
    for (int i = 0; i <= nr; i++)
        _mm256_storeu_si256((__m256i *)(dst + 32 * i), _mm256_broadcastsi128_si256(rk[i]));
}

static GCM_TARGET void init_impl(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len)
{
    __m128i rk[15];
    memset(ctx, 0, sizeof *ctx);
    kx_expand(rk, key, key_len);
    ctx->rounds = key_len == 16 ? 10 : 14;
    store_rk256(ctx->rk, rk, (int)ctx->rounds);
    ctx->path = PATH;
    ctx->magic = CB_AESGCM_MAGIC;
    ctx->has_key = 1;
    gh_table(ctx, aes_enc1(ctx, _mm_setzero_si128()));
}

GCM_INLINE void ctr_bulk16(const cb_aesgcm_ctx *ctx, const int nr, __m128i c, const uint8_t *in,
                      uint8_t *out, size_t nb)
{
    __m256i ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(c), _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
    const __m256i c2 = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2), c4 = _mm256_add_epi32(c2, c2);
    const __m256i c6 = _mm256_add_epi32(c4, c2), c8 = _mm256_add_epi32(c4, c4);
    __m256i b0, b1, b2, b3, b4, b5, b6, b7;
    for (size_t it = 0; it < nb; it++) {
        V_CTR();
        for (int r = 1; r < nr; r++)
            V_R(r);
        V_LAST();
        in += 256;
        out += 256;
    }
}

static GCM_TARGET void ctr_impl(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                                size_t len, uint8_t *out)
{
    __m128i c = bswap128(_mm_loadu_si128((const __m128i *)ctr16));
    size_t nb = len / 256;
    if (nb) {
        if (ctx->rounds == 10)
            ctr_bulk16(ctx, 10, c, in, out, nb);
        else
            ctr_bulk16(ctx, 14, c, in, out, nb);
        c = _mm_add_epi32(c, _mm_set_epi32(0, 0, 0, (int)(16 * nb)));
        in += 256 * nb;
        out += 256 * nb;
    }
    ctr_xmm(ctx, c, in, out, len % 256);
}

static GCM_TARGET void ghash_impl(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16)
{
    __m128i y = gh_blocks_wide(ctx, _mm_setzero_si128(), data, len / 16);
    _mm_storeu_si128((__m128i *)out16, bswap128(y));
}

static GCM_TARGET void expand_impl(uint8_t *rk, const uint8_t *key, size_t key_len)
{
    __m128i k[15];
    kx_expand(k, key, key_len);
    store_rk256(rk, k, key_len == 16 ? 10 : 14);
}

int cb_aesgcm_vaes_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len)
{
    if (rk == NULL || rk_len < 480 || key == NULL || (key_len != 16 && key_len != 32))
        return CB_AESGCM_EARG;
    if (!cpu_ok())
        return CB_AESGCM_ECPU;
    expand_impl(rk, key, key_len);
    return CB_AESGCM_OK;
}

#define CB_ENTRY(x) cb_aesgcm_vaes_##x
#include "gcm_entry.inc"
#include "gcm_x86_entry.inc"
