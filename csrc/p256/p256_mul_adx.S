/* P-256 field multiplication modulo p = 2^256 - 2^224 + 2^192 + 2^96 - 1
 * (FIPS 186-4 §D.1.2.3), Montgomery form with R = 2^256, 4x64-bit limbs,
 * little-endian limb order.  Hand-written x86-64 (System V ABI, AT&T syntax)
 * using MULX (BMI2) and the two independent carry chains ADCX/ADOX (ADX).
 *
 *   void cb_p256_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
 *   void cb_p256_sqr_adx(uint64_t r[4], const uint64_t a[4]);
 *   void cb_p256_ord_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);  (mod n, below)
 *   void cb_p256_ord_sqr_adx(uint64_t r[4], const uint64_t a[4]);                      (mod n, below)
 *
 * r = a*b*2^-256 mod p, fully reduced (< p) for inputs a, b < p (a < 2^256
 * with b < p also works).  r may alias a or b: every input limb is read
 * before the result is stored.  Straight-line code, no secret-dependent
 * branches or memory addresses: constant-time.
 *
 * Method: the 512-bit product T = a*b by rows (row 0 with one carry chain,
 * rows 1..3 with MULX and the ADCX/ADOX dual chains), then four Montgomery
 * reduction steps on the low half.  -p^-1 mod 2^64 = 1, so the step's
 * multiplier is m = t0 itself, and m*p = m*2^256 - m*2^224 + m*2^192 + m*2^96 - m
 * needs only m<<32, m>>32 and one MULX by p[3] = 2^64 - 2^32 + 1.  Each step
 * keeps a four-limb window (it never exceeds 2^256 because p + 2^192 < 2^256);
 * the window is then added to the high half and one conditional subtraction
 * of p (CMOV) gives the canonical result.
 *
 * Only called when cpuid reports BMI2 and ADX (checked in p256.c).
 */

#if defined(__x86_64__) && defined(__ELF__)

        .section .rodata
        .p2align 3
.Lp256_p3:
        .quad 0xffffffff00000001
.Lp256_p1:
        .quad 0x00000000ffffffff
.Lp256_n0:
        .quad 0xccd1c8aaee00bc4f
.Lp256_n:
        .quad 0xf3b9cac2fc632551, 0xbce6faada7179e84, 0xffffffffffffffff, 0xffffffff00000000

        .text

/* One row i >= 1 of the schoolbook product: T[i..i+4] += a * rdx.
 * t0..t3 are T[i..i+3]; t4 receives the new top limb T[i+4].
 * Uses rax, rbx as scratch and rbp as a zero register. */
.macro PROW t0, t1, t2, t3, t4
        xorl    %ebp, %ebp              /* rbp = 0, CF = OF = 0 */
        mulx    (%rsi), %rax, %rbx
        adcx    %rax, \t0
        adox    %rbx, \t1
        mulx    8(%rsi), %rax, %rbx
        adcx    %rax, \t1
        adox    %rbx, \t2
        mulx    16(%rsi), %rax, %rbx
        adcx    %rax, \t2
        adox    %rbx, \t3
        mulx    24(%rsi), %rax, \t4
        adcx    %rax, \t3
        adox    %rbp, \t4
        adcx    %rbp, \t4
.endm

/* One Montgomery step on the window (w0, w1, w2, w3): m = w0;
 * (w1, w2, w3, w0) <- (window + m*p) / 2^64.  Scratch: rax, rbx, rcx, rdx. */
.macro PRED w0, w1, w2, w3
        movq    \w0, %rdx
        movq    \w0, %rax
        shlq    $32, %rax
        movq    \w0, %rbx
        shrq    $32, %rbx
        mulx    .Lp256_p3(%rip), %rcx, \w0
        addq    %rax, \w1
        adcq    %rbx, \w2
        adcq    %rcx, \w3
        adcq    $0, \w0
.endm

.macro PUSH_ALL
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbx, -16
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -24
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r12, -32
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r13, -40
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r14, -48
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r15, -56
.endm

.macro POP_ALL_RET
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        ret
.endm

/* Reduce T = r15:...:r8 (< 2^256 * p) to T/2^256 mod p, store at (%rdi). */
.macro PREDUCE_STORE
        /* T = r15:r14:r13:r12:r11:r10:r9:r8; reduce the low half */
        PRED    %r8, %r9, %r10, %r11
        PRED    %r9, %r10, %r11, %r8
        PRED    %r10, %r11, %r8, %r9
        PRED    %r11, %r8, %r9, %r10

        /* window (r8..r11) + high half (r12..r15), carry in rbp */
        xorl    %ebp, %ebp
        addq    %r12, %r8
        adcq    %r13, %r9
        adcq    %r14, %r10
        adcq    %r15, %r11
        adcq    $0, %rbp

        /* conditional subtraction of p */
        movq    %r8, %rax
        movq    %r9, %rbx
        movq    %r10, %rcx
        movq    %r11, %rdx
        subq    $-1, %r8
        sbbq    .Lp256_p1(%rip), %r9
        sbbq    $0, %r10
        sbbq    .Lp256_p3(%rip), %r11
        sbbq    $0, %rbp
        cmovcq  %rax, %r8
        cmovcq  %rbx, %r9
        cmovcq  %rcx, %r10
        cmovcq  %rdx, %r11
        movq    %r8, (%rdi)
        movq    %r9, 8(%rdi)
        movq    %r10, 16(%rdi)
        movq    %r11, 24(%rdi)

.endm

/* T = r15:...:r8 = a^2 for a at (%rsi): the six cross products once,
 * doubled (ADCX chain), plus the four squares (ADOX chain). */
.macro SQR_PRODUCT
        /* cross products a0*(a1,a2,a3) -> T1..T4 */
        movq    (%rsi), %rdx
        mulx    8(%rsi), %r9, %r10
        mulx    16(%rsi), %rax, %r11
        addq    %rax, %r10
        mulx    24(%rsi), %rax, %r12
        adcq    %rax, %r11
        adcq    $0, %r12
        /* a1*(a2,a3) -> T3..T5 */
        movq    8(%rsi), %rdx
        xorl    %ebp, %ebp
        mulx    16(%rsi), %rax, %rbx
        adcx    %rax, %r11
        adox    %rbx, %r12
        mulx    24(%rsi), %rax, %r13
        adcx    %rax, %r12
        adox    %rbp, %r13
        adcx    %rbp, %r13
        /* a2*a3 -> T5..T6 */
        movq    16(%rsi), %rdx
        mulx    24(%rsi), %rax, %r14
        addq    %rax, %r13
        adcq    $0, %r14
        /* double T1..T6 (CF chain) into T1..T7, add the squares (OF chain) */
        xorl    %r15d, %r15d
        adcx    %r9, %r9
        adcx    %r10, %r10
        adcx    %r11, %r11
        adcx    %r12, %r12
        adcx    %r13, %r13
        adcx    %r14, %r14
        adcx    %r15, %r15
        movq    (%rsi), %rdx
        mulx    %rdx, %r8, %rax
        adox    %rax, %r9
        movq    8(%rsi), %rdx
        mulx    %rdx, %rax, %rbx
        adox    %rax, %r10
        adox    %rbx, %r11
        movq    16(%rsi), %rdx
        mulx    %rdx, %rax, %rbx
        adox    %rax, %r12
        adox    %rbx, %r13
        movq    24(%rsi), %rdx
        mulx    %rdx, %rax, %rbx
        adox    %rax, %r14
        adox    %rbx, %r15

.endm

        .globl  cb_p256_mul_adx
        .hidden cb_p256_mul_adx
        .type   cb_p256_mul_adx, @function
        .p2align 5
cb_p256_mul_adx:
        .cfi_startproc
        PUSH_ALL
        movq    %rdx, %rcx              /* rcx = b */

        /* row 0: T[0..4] = a * b[0] */
        movq    (%rcx), %rdx
        mulx    (%rsi), %r8, %r9
        mulx    8(%rsi), %rax, %r10
        addq    %rax, %r9
        mulx    16(%rsi), %rax, %r11
        adcq    %rax, %r10
        mulx    24(%rsi), %rax, %r12
        adcq    %rax, %r11
        adcq    $0, %r12

        movq    8(%rcx), %rdx
        PROW    %r9, %r10, %r11, %r12, %r13
        movq    16(%rcx), %rdx
        PROW    %r10, %r11, %r12, %r13, %r14
        movq    24(%rcx), %rdx
        PROW    %r11, %r12, %r13, %r14, %r15

        PREDUCE_STORE

        POP_ALL_RET
        .cfi_endproc
        .size   cb_p256_mul_adx, .-cb_p256_mul_adx

        .globl  cb_p256_sqr_adx
        .hidden cb_p256_sqr_adx
        .type   cb_p256_sqr_adx, @function
        .p2align 5
/* r = a^2 / 2^256 mod p: the six cross products once, doubled (ADCX chain),
 * plus the four squares (ADOX chain); then the same reduction. */
cb_p256_sqr_adx:
        .cfi_startproc
        PUSH_ALL
        SQR_PRODUCT

        PREDUCE_STORE

        POP_ALL_RET
        .cfi_endproc
        .size   cb_p256_sqr_adx, .-cb_p256_sqr_adx

/* ---- scalars: Montgomery multiplication modulo the group order n ----
 *   void cb_p256_ord_mul_adx(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
 * r = a*b/2^256 mod n (a, b < n), canonical; r may alias a or b;
 * constant-time.  Same schoolbook rows; each reduction step takes
 * m = w0 * (-n^-1 mod 2^64) and adds m*n with MULX and the ADCX/ADOX chains.
 * The four-limb window stays below 2^256 because n + 2^192 < 2^256. */
.macro NRED w0, w1, w2, w3
        movq    \w0, %rdx
        imulq   .Lp256_n0(%rip), %rdx
        xorl    %ebp, %ebp
        mulx    .Lp256_n(%rip), %rax, %rbx
        adcx    %rax, \w0
        adox    %rbx, \w1
        mulx    .Lp256_n+8(%rip), %rax, %rbx
        adcx    %rax, \w1
        adox    %rbx, \w2
        mulx    .Lp256_n+16(%rip), %rax, %rbx
        adcx    %rax, \w2
        adox    %rbx, \w3
        mulx    .Lp256_n+24(%rip), %rax, \w0
        adcx    %rax, \w3
        adox    %rbp, \w0
        adcx    %rbp, \w0
.endm

/* Reduce T = r15:...:r8 modulo n (four NRED steps, add the high half,
 * one conditional subtraction of n) and store at (%rdi). */
.macro NREDUCE_STORE
        NRED    %r8, %r9, %r10, %r11
        NRED    %r9, %r10, %r11, %r8
        NRED    %r10, %r11, %r8, %r9
        NRED    %r11, %r8, %r9, %r10

        xorl    %ebp, %ebp
        addq    %r12, %r8
        adcq    %r13, %r9
        adcq    %r14, %r10
        adcq    %r15, %r11
        adcq    $0, %rbp
        movq    %r8, %rax
        movq    %r9, %rbx
        movq    %r10, %rcx
        movq    %r11, %rdx
        subq    .Lp256_n(%rip), %r8
        sbbq    .Lp256_n+8(%rip), %r9
        sbbq    .Lp256_n+16(%rip), %r10
        sbbq    .Lp256_n+24(%rip), %r11
        sbbq    $0, %rbp
        cmovcq  %rax, %r8
        cmovcq  %rbx, %r9
        cmovcq  %rcx, %r10
        cmovcq  %rdx, %r11
        movq    %r8, (%rdi)
        movq    %r9, 8(%rdi)
        movq    %r10, 16(%rdi)
        movq    %r11, 24(%rdi)
.endm

        .globl  cb_p256_ord_mul_adx
        .hidden cb_p256_ord_mul_adx
        .type   cb_p256_ord_mul_adx, @function
        .p2align 5
cb_p256_ord_mul_adx:
        .cfi_startproc
        PUSH_ALL
        movq    %rdx, %rcx
        movq    (%rcx), %rdx
        mulx    (%rsi), %r8, %r9
        mulx    8(%rsi), %rax, %r10
        addq    %rax, %r9
        mulx    16(%rsi), %rax, %r11
        adcq    %rax, %r10
        mulx    24(%rsi), %rax, %r12
        adcq    %rax, %r11
        adcq    $0, %r12
        movq    8(%rcx), %rdx
        PROW    %r9, %r10, %r11, %r12, %r13
        movq    16(%rcx), %rdx
        PROW    %r10, %r11, %r12, %r13, %r14
        movq    24(%rcx), %rdx
        PROW    %r11, %r12, %r13, %r14, %r15

        NREDUCE_STORE
        POP_ALL_RET
        .cfi_endproc
        .size   cb_p256_ord_mul_adx, .-cb_p256_ord_mul_adx

        .globl  cb_p256_ord_sqr_adx
        .hidden cb_p256_ord_sqr_adx
        .type   cb_p256_ord_sqr_adx, @function
        .p2align 5
/* r = a^2 / 2^256 mod n (a < n), canonical; constant-time. */
cb_p256_ord_sqr_adx:
        .cfi_startproc
        PUSH_ALL
        SQR_PRODUCT
        NREDUCE_STORE
        POP_ALL_RET
        .cfi_endproc
        .size   cb_p256_ord_sqr_adx, .-cb_p256_ord_sqr_adx

        .section .note.GNU-stack,"",@progbits
#endif
