/* CPU feature detection and the time-stamp counter.
 *
 * The block between CFFI_BEGIN and CFFI_END is read by csrc/build.py as the
 * cffi declarations (one source of truth for each C entry point). */
#ifndef CRYPTOBENCH_CPU_H
#define CRYPTOBENCH_CPU_H

#include <stdint.h>

/* CFFI_BEGIN */
#define CB_CPU_AESNI      1
#define CB_CPU_PCLMULQDQ  2
#define CB_CPU_SSSE3      4
#define CB_CPU_AVX2       8
#define CB_CPU_VAES       16
#define CB_CPU_VPCLMULQDQ 32
#define CB_CPU_BMI2       64
#define CB_CPU_ADX        128
#define CB_CPU_SHA        256
#define CB_CPU_AVX512F    512
#define CB_CPU_OSXSAVE_YMM 1024

/* Bit set of CB_CPU_* features this CPU (and OS, for AVX state) supports. */
uint32_t cb_cpu_features(void);
/* 1 on x86-64 builds, 0 elsewhere (cpuid and rdtsc are then unavailable). */
int cb_cpu_is_x86(void);
/* CPU brand string (up to 48 bytes + NUL) into buf; returns length. */
int cb_cpu_brand(char *buf, int buflen);
/* Read the time-stamp counter (TSC cycles, not core cycles). 0 when absent. */
uint64_t cb_rdtsc(void);
/* rdtscp-style ordered read: serialised against earlier instructions. */
uint64_t cb_rdtsc_ordered(void);
/* 1 if CPUID says the TSC is invariant (constant rate across P-states). */
int cb_tsc_invariant(void);
/* Build-time description: compiler version and flags. */
const char *cb_build_info(void);
/* CFFI_END */

#endif
