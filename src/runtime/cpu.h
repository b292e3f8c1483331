/*
 * cpu.h - what the CPU we run on can do, as far as the kernels care.
 *
 * A feature counts only when both the CPU has it and the operating system
 * saves the registers it needs (XGETBV on x86), so a kernel chosen from
 * these flags never faults with an illegal instruction.
 */
#ifndef BN_CPU_H
#define BN_CPU_H

typedef struct {
    int avx2;         /* x86: AVX2 + F16C, YMM state enabled by the OS */
    int avx512bw;     /* x86: AVX-512 F + BW, ZMM and opmask state enabled */
    int avx512vnni;   /* x86: avx512bw and AVX-512 VNNI (vpdpbusd) */
    int avxvnni;      /* x86: avx2 and AVX-VNNI (VEX-encoded vpdpbusd on YMM) */
    int neon;         /* aarch64: Advanced SIMD */
    int neon_dotprod; /* aarch64: neon and the dot product extension (sdot) */
} bn_cpu_features;

/* Detects the features of the running CPU (cheap; call at startup). */
bn_cpu_features bn_cpu_detect(void);

#endif
