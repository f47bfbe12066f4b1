/* Stand-ins for the MULX/ADX assembly (p256_mul_adx.S) on builds that are not
 * x86-64 ELF, where the .S file assembles to nothing. They are never called:
 * cb_p256_path_ok(CB_P256_ADX) is 0 where cpuid is absent. They exist so the
 * module links. */
#if !(defined(__x86_64__) && defined(__ELF__))
#include <stdint.h>
void cb_p256_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void cb_p256_sqr_adx(uint64_t r[4], const uint64_t a[4]);
void cb_p256_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) { (void)r; (void)a; (void)b; }
void cb_p256_sqr_adx(uint64_t r[4], const uint64_t a[4]) { (void)r; (void)a; }
void cb_p256_ord_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void cb_p256_ord_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) { (void)r; (void)a; (void)b; }
void cb_p256_ord_sqr_adx(uint64_t r[4], const uint64_t a[4]);
void cb_p256_ord_sqr_adx(uint64_t r[4], const uint64_t a[4]) { (void)r; (void)a; }
#endif
