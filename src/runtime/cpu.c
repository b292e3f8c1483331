/*
 * cpu.c - CPU feature detection (cpu.h): CPUID and XGETBV on x86-64,
 * the HWCAP bits the kernel publishes in the auxiliary vector on
 * Linux/aarch64. Other systems report no features (scalar kernels only).
 */
#include "cpu.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

/* CPUID leaf 1, ECX */
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_ECX_AVX (1u << 28)
#define CPUID1_ECX_F16C (1u << 29)
/* CPUID leaf 7 subleaf 0 */
#define CPUID7_EBX_AVX2 (1u << 5)
#define CPUID7_EBX_AVX512F (1u << 16)
#define CPUID7_EBX_AVX512BW (1u << 30)
#define CPUID7_ECX_AVX512VNNI (1u << 11)
/* CPUID leaf 7 subleaf 1 (present when subleaf 0's EAX, the last
 * subleaf, is at least 1) */
#define CPUID7_1_EAX_AVXVNNI (1u << 4)
/* XCR0: register state the OS saves on context switches */
#define XCR0_SSE_AVX 0x06u /* XMM and upper YMM halves */
#define XCR0_AVX512 0xe0u  /* opmask, upper ZMM halves, ZMM16-31 */

static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    /* xgetbv written as an instruction so no target attribute is needed */
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

bn_cpu_features bn_cpu_detect(void)
{
    bn_cpu_features f;
    memset(&f, 0, sizeof f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    /* without OSXSAVE, XGETBV faults and AVX state is not saved: no AVX */
    if (!(c & CPUID1_ECX_OSXSAVE) || !(c & CPUID1_ECX_AVX)) return f;
    const int f16c = (c & CPUID1_ECX_F16C) != 0;
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & XCR0_SSE_AVX) != XCR0_SSE_AVX) return f;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    f.avx2 = (b & CPUID7_EBX_AVX2) && f16c;
    f.avx512bw = f.avx2 && (b & CPUID7_EBX_AVX512F) && (b & CPUID7_EBX_AVX512BW) &&
                 (xcr0 & XCR0_AVX512) == XCR0_AVX512;
    f.avx512vnni = f.avx512bw && (c & CPUID7_ECX_AVX512VNNI);
    const unsigned last_subleaf = a;
    if (f.avx2 && last_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
        f.avxvnni = (a & CPUID7_1_EAX_AVXVNNI) != 0;
    return f;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

/* AT_HWCAP bits (Linux arch/arm64 uapi hwcap.h) */
#define HWCAP_BIT_ASIMD (1ul << 1)
#define HWCAP_BIT_ASIMDDP (1ul << 20)

bn_cpu_features bn_cpu_detect(void)
{
    bn_cpu_features f;
    memset(&f, 0, sizeof f);
    const unsigned long hwcap = getauxval(AT_HWCAP);
    f.neon = (hwcap & HWCAP_BIT_ASIMD) != 0;
    f.neon_dotprod = f.neon && (hwcap & HWCAP_BIT_ASIMDDP);
    return f;
}

#else

bn_cpu_features bn_cpu_detect(void)
{
    bn_cpu_features f;
    memset(&f, 0, sizeof f);
    return f;
}

#endif
