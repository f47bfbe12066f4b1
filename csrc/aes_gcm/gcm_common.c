/* Shared pieces of csrc/aes_gcm: the cached CPU features and path support. */
#include "gcm_common.inc"

static volatile int64_t cb_aesgcm_features_cache = -1;

uint32_t cb_aesgcm_cpu_features_cached(void)
{
    int64_t f = cb_aesgcm_features_cache;
    if (f < 0) {
        f = (int64_t)cb_cpu_features();
        cb_aesgcm_features_cache = f; /* benign race: every writer stores the same value */
    }
    return (uint32_t)f;
}

int cb_aesgcm_path_supported(int path)
{
    uint32_t f = cb_aesgcm_cpu_features_cached();
    switch (path) {
    case CB_AESGCM_PATH_PORTABLE:
        return 1;
    case CB_AESGCM_PATH_AESNI:
        return cb_cpu_is_x86() && (f & CB_AESGCM_NEED_AESNI) == CB_AESGCM_NEED_AESNI;
    case CB_AESGCM_PATH_VAES:
        return cb_cpu_is_x86() && (f & CB_AESGCM_NEED_VAES) == CB_AESGCM_NEED_VAES;
    default:
        return 0;
    }
}
