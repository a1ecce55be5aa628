/* SPDX-License-Identifier: MIT */
/* switch-aarch64.S — the context switch for AArch64, AAPCS64 (Linux, LP64).
 *
 * Contract (see ctx.h):
 *   void  cio__ctx_switch(void **save_sp, void *load_sp);   x0, x1
 *   void *cio__ctx_prepare(void *top, void (*entry)(void *), void *arg);
 *                                                            x0, x1, x2
 *
 * What is saved: exactly what AAPCS64 makes callee-saved — x19-x28, x29
 * (the frame pointer), x30 (the link register, which is where we return
 * to), the low 64 bits of v8-v15 (d8-d15) and sp — plus FPCR, the
 * floating-point control register (rounding mode, flush-to-zero, default
 * NaN, trap enables). AAPCS64 calls FPCR global state that "specific
 * support functions" such as fesetround may change; cio makes it per task,
 * as switch-x86_64.S does with MXCSR, so that a task which changes the
 * rounding mode does not change it for every task it switches to.
 * Reference: "Procedure Call Standard for the Arm 64-bit Architecture"
 * (AAPCS64), section 6.1 "Machine Registers": 6.1.1 "General-purpose
 * Registers" (r19-r29 and SP preserved) and 6.1.2 "SIMD and Floating-Point
 * Registers" (the bottom 64 bits of v8-v15 preserved; FPSR and FPCR).
 *
 * What is not saved, and why:
 *   x0-x18, the upper 64 bits of v8-v15, v0-v7, v16-v31: caller-saved, so
 *     the C compiler has already spilled what it needs before calling us.
 *     (x18 is the platform register; on Linux it is an ordinary temporary.)
 *   FPSR (the cumulative exception flags): AAPCS64 says they "are not
 *     preserved across a public interface", so a task may see flags raised
 *     by another. Code that tests flags clears them first (feclearexcept).
 *   NZCV: undefined across a call.
 *   TPIDR_EL0 (the thread pointer): every task of a loop runs on one
 *     thread and shares its thread-local storage.
 *   SVE z/p registers and SME state (streaming mode, ZA): a normal-PCS call
 *     needs only d8-d15 preserved, and cio is not built for SME; a task must
 *     not switch while in streaming mode or with ZA live.
 *
 * A switched-out stack, from the saved stack pointer upwards (176 bytes,
 * a multiple of 16 as sp must always be):
 *
 *   offset  contents
 *   +0      x29 (fp)      +8      x30 (lr: where the switch returns to)
 *   +16     x19           +24     x20
 *   +32     x21           +40     x22
 *   +48     x23           +56     x24
 *   +64     x25           +72     x26
 *   +80     x27           +88     x28
 *   +96     d8            +104    d9
 *   +112    d10           +120    d11
 *   +128    d12           +136    d13
 *   +144    d14           +152    d15
 *   +160    FPCR          +168    unused
 *
 * x29 and x30 come first so that the saved area is an ordinary AAPCS64
 * frame record at the saved sp. A new context is that same frame, built by
 * cio__ctx_prepare, with x19 = entry, x20 = arg, x30 = cio__ctx_trampoline,
 * x29 = 0 (ends frame-pointer walks), FPCR = 0 (the Linux default: round to
 * nearest, no flush-to-zero, no traps) and everything else zero.
 *
 * Branch protection: not needed, and not enabled. BTI constrains only
 * indirect branches (br/blr); cio__ctx_switch and cio__ctx_prepare are
 * hidden, so C reaches them with a direct `bl`, and the trampoline is
 * entered by `ret`, which BTI does not check. PAC would sign the saved x30
 * against sp (pacia x30, sp before saving, autia after loading: each stack's
 * sp is the same at both points); we do not, so a saved return address on a
 * switched-out stack is as exposed as a setjmp buffer. This object carries
 * no GNU_PROPERTY_AARCH64_FEATURE_1_AND note, so a program built with
 * -mbranch-protection=standard links fine but is not marked BTI-enforced;
 * turning it on would take `bti c` at the two entry points, paciasp/autiasp
 * around the frame, and that note.
 */
    .text

    .globl  cio__ctx_switch
    .hidden cio__ctx_switch
    .type   cio__ctx_switch, %function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    .cfi_def_cfa_offset 176
    stp     x29, x30, [sp, #0]
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    /* Both stacks hold the same frame from here to the `ret`, so this one
     * description serves before and after sp changes. */
    .cfi_offset x29, -176
    .cfi_offset x30, -168
    mrs     x9, fpcr                 /* this context's FPCR */
    str     x9, [sp, #160]
    mov     x10, sp
    str     x10, [x0]
    mov     sp, x1
    /* Writing FPCR can be slow (on some cores it serialises the FP
     * pipeline), and tasks almost never change it: write it only when the
     * context we switch to had a different one. */
    ldr     x10, [sp, #160]
    cmp     x9, x10
    b.ne    .Lload_fpcr
.Lrestore_regs:
    ldp     d14, d15, [sp, #144]
    ldp     d12, d13, [sp, #128]
    ldp     d10, d11, [sp, #112]
    ldp     d8, d9, [sp, #96]
    ldp     x27, x28, [sp, #80]
    ldp     x25, x26, [sp, #64]
    ldp     x23, x24, [sp, #48]
    ldp     x21, x22, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp, #0]
    add     sp, sp, #176
    .cfi_remember_state
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_restore_state
.Lload_fpcr:
    msr     fpcr, x10
    b       .Lrestore_regs
    .cfi_endproc
    .size   cio__ctx_switch, .-cio__ctx_switch

    /* void cio__ctx_restart(void *stack_top, void (*entry)(void *), void *arg)
     *
     * Starts entry(arg) on the stack the caller is running on, at its top,
     * abandoning every frame there: what a finishing task does to hand its
     * stack straight to a new one. Leaves the state cio__ctx_prepare's
     * frame would after the first switch into it (sp at the rounded top,
     * FPCR = 0, x29 = 0), then enters the same trampoline. */
    .globl  cio__ctx_restart
    .hidden cio__ctx_restart
    .type   cio__ctx_restart, %function
    .p2align 4
cio__ctx_restart:
    .cfi_startproc
    and     x0, x0, #~15
    mov     sp, x0
    msr     fpcr, xzr
    mov     x19, x1
    mov     x20, x2
    mov     x29, xzr
    b       cio__ctx_trampoline
    .cfi_endproc
    .size   cio__ctx_restart, .-cio__ctx_restart

    .globl  cio__ctx_prepare
    .hidden cio__ctx_prepare
    .type   cio__ctx_prepare, %function
    .p2align 4
cio__ctx_prepare:
    .cfi_startproc
    /* x0 = top rounded down to 16, minus the frame. When the first switch
     * pops the frame, sp is back at the rounded top: 16-aligned, as AAPCS64
     * requires at all times (no return address is pushed here, unlike on
     * x86-64, so no spare slot is needed). */
    and     x0, x0, #~15
    sub     x0, x0, #176
    adr     x9, cio__ctx_trampoline
    stp     xzr, x9, [x0, #0]        /* x29 = 0 ends frame-pointer walks; x30 */
    stp     x1, x2, [x0, #16]        /* x19 = entry, x20 = arg */
    stp     xzr, xzr, [x0, #32]      /* x21, x22 */
    stp     xzr, xzr, [x0, #48]      /* x23, x24 */
    stp     xzr, xzr, [x0, #64]      /* x25, x26 */
    stp     xzr, xzr, [x0, #80]      /* x27, x28 */
    stp     xzr, xzr, [x0, #96]      /* d8, d9 */
    stp     xzr, xzr, [x0, #112]     /* d10, d11 */
    stp     xzr, xzr, [x0, #128]     /* d12, d13 */
    stp     xzr, xzr, [x0, #144]     /* d14, d15 */
    stp     xzr, xzr, [x0, #160]     /* FPCR = 0: the default environment; unused */
    ret
    .cfi_endproc
    .size   cio__ctx_prepare, .-cio__ctx_prepare

    .type   cio__ctx_trampoline, %function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    /* The bottom of a task's call stack: tell unwinders there is no caller. */
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    udf     #0                       /* entry never returns */
    .cfi_endproc
    .size   cio__ctx_trampoline, .-cio__ctx_trampoline

    .section .note.GNU-stack,"",%progbits
