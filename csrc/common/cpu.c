/* CPU feature detection with cpuid (Intel SDM Vol. 2A, CPUID; AMD APM Vol. 3)
 * and TSC reads. Portable: on non-x86 builds every feature reads as absent. */
#include "cpu.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define CB_X86 1
#else
#define CB_X86 0
#endif

#ifndef CB_BUILD_FLAGS
#define CB_BUILD_FLAGS "unknown"
#endif

#if CB_X86
static uint64_t xgetbv0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

uint32_t cb_cpu_features(void)
{
    uint32_t f = 0;
#if CB_X86
    unsigned int a, b, c, d, max;
    max = __get_cpuid_max(0, 0);
    if (max < 1)
        return 0;
    __cpuid_count(1, 0, a, b, c, d);
    int osxsave = (c >> 27) & 1;
    int ymm_ok = 0, zmm_ok = 0;
    if (osxsave) {
        uint64_t xcr0 = xgetbv0();
        ymm_ok = (xcr0 & 0x6) == 0x6;
        zmm_ok = (xcr0 & 0xe6) == 0xe6;
    }
    if (c & (1u << 25)) f |= CB_CPU_AESNI;
    if (c & (1u << 1))  f |= CB_CPU_PCLMULQDQ;
    if (c & (1u << 9))  f |= CB_CPU_SSSE3;
    if (ymm_ok) f |= CB_CPU_OSXSAVE_YMM;
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if ((b & (1u << 5)) && ymm_ok)  f |= CB_CPU_AVX2;
        if (b & (1u << 8))              f |= CB_CPU_BMI2;
        if (b & (1u << 19))             f |= CB_CPU_ADX;
        if (b & (1u << 29))             f |= CB_CPU_SHA;
        if ((b & (1u << 16)) && zmm_ok) f |= CB_CPU_AVX512F;
        if ((c & (1u << 9)) && ymm_ok)  f |= CB_CPU_VAES;
        if ((c & (1u << 10)) && ymm_ok) f |= CB_CPU_VPCLMULQDQ;
    }
#endif
    return f;
}

int cb_cpu_is_x86(void) { return CB_X86; }

int cb_cpu_brand(char *buf, int buflen)
{
    if (buflen <= 0)
        return 0;
    buf[0] = 0;
#if CB_X86
    unsigned int regs[12];
    if (__get_cpuid_max(0x80000000, 0) < 0x80000004)
        return 0;
    __cpuid(0x80000002, regs[0], regs[1], regs[2], regs[3]);
    __cpuid(0x80000003, regs[4], regs[5], regs[6], regs[7]);
    __cpuid(0x80000004, regs[8], regs[9], regs[10], regs[11]);
    int n = buflen - 1 < 48 ? buflen - 1 : 48;
    memcpy(buf, regs, (size_t)n);
    buf[n] = 0;
    return (int)strlen(buf);
#else
    return 0;
#endif
}

uint64_t cb_rdtsc(void)
{
#if CB_X86
    return __rdtsc();
#else
    return 0;
#endif
}

uint64_t cb_rdtsc_ordered(void)
{
#if CB_X86
    unsigned int aux;
    _mm_lfence();
    uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return 0;
#endif
}

int cb_tsc_invariant(void)
{
#if CB_X86
    unsigned int a, b, c, d;
    if (__get_cpuid_max(0x80000000, 0) < 0x80000007)
        return 0;
    __cpuid(0x80000007, a, b, c, d);
    return (d >> 8) & 1;
#else
    return 0;
#endif
}

const char *cb_build_info(void)
{
#if defined(__clang__)
    return "clang " __clang_version__ "; flags: " CB_BUILD_FLAGS;
#elif defined(__GNUC__)
    return "gcc " __VERSION__ "; flags: " CB_BUILD_FLAGS;
#else
    return "unknown compiler; flags: " CB_BUILD_FLAGS;
#endif
}
