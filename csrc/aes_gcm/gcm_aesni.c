/* AES-128/256-GCM with AES-NI + PCLMULQDQ on xmm registers (FIPS 197,
 * NIST SP 800-38D §7.1 GCM-AE and §7.2 GCM-AD).
 *
 * 8 counter blocks are in flight per iteration (CTR, §6.5; inc32, §6.2); the
 * GHASH of the previous 8 ciphertext blocks is interleaved with their AES
 * rounds (one carry-less Karatsuba product per round, H^8..H^1 from the
 * table) and reduced once per 8 blocks.  Decryption hashes the 8 ciphertext
 * blocks it is decrypting in the same way.
 *
 * Constant-time: no secret-dependent branches or memory indices.  Functions
 * carry target("aes,pclmul,ssse3,sse4.1") so the module builds for baseline
 * x86-64; every entry point checks cpuid (cached) before running them. */
#define GCM_TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1")))
#define GCM_RK_STRIDE 16
#include "gcm_x86.inc"

#define PATH CB_AESGCM_PATH_AESNI

static int cpu_ok(void)
{
    return cb_cpu_is_x86() &&
           (cb_aesgcm_cpu_features_cached() & CB_AESGCM_NEED_AESNI) == CB_AESGCM_NEED_AESNI;
}

#define X_R(i)                                                                             \
    do {                                                                                   \
        const __m128i k_ = RK(ctx, i);                                                     \
        b0 = _mm_aesenc_si128(b0, k_);                                                     \
        b1 = _mm_aesenc_si128(b1, k_);                                                     \
        b2 = _mm_aesenc_si128(b2, k_);                                                     \
        b3 = _mm_aesenc_si128(b3, k_);                                                     \
        b4 = _mm_aesenc_si128(b4, k_);                                                     \
        b5 = _mm_aesenc_si128(b5, k_);                                                     \
        b6 = _mm_aesenc_si128(b6, k_);                                                     \
        b7 = _mm_aesenc_si128(b7, k_);                                                     \
    } while (0)

#define X_CB(i) _mm_xor_si128(bswap128(_mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, i))), k_)
#define X_CTR()                                                                            \
    do {                                                                                   \
        const __m128i k_ = RK(ctx, 0);                                                     \
        b0 = X_CB(0); b1 = X_CB(1); b2 = X_CB(2); b3 = X_CB(3);                            \
        b4 = X_CB(4); b5 = X_CB(5); b6 = X_CB(6); b7 = X_CB(7);                            \
        ctr = _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, 8));                               \
    } while (0)

#define X_OUT1(bj, j)                                                                      \
    _mm_storeu_si128((__m128i *)(out + 16 * (j)),                                          \
                     _mm_xor_si128(_mm_aesenclast_si128(bj, k_),                           \
                                   _mm_loadu_si128((const __m128i *)(in + 16 * (j)))))
#define X_LAST()                                                                           \
    do {                                                                                   \
        const __m128i k_ = RK(ctx, nr);                                                    \
        X_OUT1(b0, 0); X_OUT1(b1, 1); X_OUT1(b2, 2); X_OUT1(b3, 3);                        \
        X_OUT1(b4, 4); X_OUT1(b5, 5); X_OUT1(b6, 6); X_OUT1(b7, 7);                        \
    } while (0)

/* GHASH step for block j of the 8 at hp, times H^(8-j) (j = 0 carries Y). */
#define X_GH(j)                                                                            \
    do {                                                                                   \
        __m128i x_ = bswap128(_mm_loadu_si128((const __m128i *)(hp + 16 * (j))));          \
        if ((j) == 0)                                                                      \
            x_ = _mm_xor_si128(x_, y);                                                     \
        gf_acc(&lo, &hi, &mid, x_, POW(ctx, 8 + (j)), KAR(ctx, 8 + (j)));                  \
    } while (0)

/* nb whole 8-block batches; encrypt hashes the previous batch's ciphertext
 * during the current batch's rounds, decrypt hashes the batch it decrypts.
 * Y enters at the last GHASH step (short chain between batches). nr is a
 * compile-time constant after inlining. */
GCM_INLINE __m128i bulk8(const cb_aesgcm_ctx *ctx, const int nr, const int enc, __m128i *pctr,
                         __m128i y, const uint8_t *in, uint8_t *out, size_t nb)
{
    __m128i ctr = *pctr;
    __m128i b0, b1, b2, b3, b4, b5, b6, b7;
    const uint8_t *hp = in;
    size_t it = 0;
    if (enc) { /* first batch: nothing to hash yet */
        X_CTR();
        for (int r = 1; r < nr; r++)
            X_R(r);
        X_LAST();
        hp = out;
        in += 128;
        out += 128;
        it = 1;
    }
    for (; it < nb; it++) {
        __m128i lo = _mm_setzero_si128(), hi = lo, mid = lo;
        X_CTR();
        X_R(1); X_GH(1);
        X_R(2); X_GH(2);
        X_R(3); X_GH(3);
        X_R(4); X_GH(4);
        X_R(5); X_GH(5);
        X_R(6); X_GH(6);
        X_R(7); X_GH(7);
        X_R(8); X_GH(0);
        X_R(9);
        if (nr == 14) {
            X_R(10); X_R(11); X_R(12); X_R(13);
        }
        X_LAST();
        y = gf_reduce(lo, hi, mid);
        hp = enc ? out : in + 128;
        in += 128;
        out += 128;
    }
    if (enc)
        y = gh_blocks(ctx, y, hp, 8);
    *pctr = ctr;
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
    __m128i y = gh_padded(ctx, _mm_setzero_si128(), aad, aad_len);
    size_t nb = len / 128, done = nb * 128;
    if (nb) {
        if (ctx->rounds == 10)
            y = enc ? bulk8(ctx, 10, 1, &ctr, y, in, out, nb) : bulk8(ctx, 10, 0, &ctr, y, in, out, nb);
        else
            y = enc ? bulk8(ctx, 14, 1, &ctr, y, in, out, nb) : bulk8(ctx, 14, 0, &ctr, y, in, out, nb);
    }
    if (len > done)
        y = gcm_tail(ctx, &ctr, y, in + done, out + done, len - done, enc);
    y = gh_lengths(ctx, y, aad_len, len);
    _mm_storeu_si128((__m128i *)tag, _mm_xor_si128(bswap128(y), ej0));
}

static GCM_TARGET void init_impl(cb_aesgcm_ctx *ctx, const uint8_t *key, size_t key_len)
{
    __m128i rk[15];
    memset(ctx, 0, sizeof *ctx);
    kx_expand(rk, key, key_len);
    ctx->rounds = key_len == 16 ? 10 : 14;
    for (unsigned i = 0; i <= ctx->rounds; i++)
        _mm_storeu_si128((__m128i *)(ctx->rk + 16 * i), rk[i]);
    ctx->path = PATH;
    ctx->magic = CB_AESGCM_MAGIC;
    ctx->has_key = 1;
    gh_table(ctx, aes_enc1(ctx, _mm_setzero_si128()));
}

static GCM_TARGET void ctr_impl(const cb_aesgcm_ctx *ctx, const uint8_t *ctr16, const uint8_t *in,
                                size_t len, uint8_t *out)
{
    ctr_xmm(ctx, bswap128(_mm_loadu_si128((const __m128i *)ctr16)), in, out, len);
}

static GCM_TARGET void ghash_impl(const cb_aesgcm_ctx *ctx, const uint8_t *data, size_t len, uint8_t *out16)
{
    __m128i y = gh_blocks(ctx, _mm_setzero_si128(), data, len / 16);
    _mm_storeu_si128((__m128i *)out16, bswap128(y));
}

static GCM_TARGET void expand_impl(uint8_t *rk, const uint8_t *key, size_t key_len)
{
    __m128i k[15];
    kx_expand(k, key, key_len);
    for (int i = 0; i <= (key_len == 16 ? 10 : 14); i++)
        _mm_storeu_si128((__m128i *)(rk + 16 * i), k[i]);
}

int cb_aesgcm_aesni_expand_key(uint8_t *rk, size_t rk_len, const uint8_t *key, size_t key_len)
{
    if (rk == NULL || rk_len < 240 || key == NULL || (key_len != 16 && key_len != 32))
        return CB_AESGCM_EARG;
    if (!cpu_ok())
        return CB_AESGCM_ECPU;
    expand_impl(rk, key, key_len);
    return CB_AESGCM_OK;
}

#define CB_ENTRY(x) cb_aesgcm_aesni_##x
#include "gcm_entry.inc"
#include "gcm_x86_entry.inc"
