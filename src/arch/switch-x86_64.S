/* SPDX-License-Identifier: MIT */
/* switch-x86_64.S — the context switch for x86-64, System V ABI.
 *
 * Contract (see ctx.h):
 *   void  cio__ctx_switch(void **save_sp, void *load_sp);   rdi, rsi
 *   void *cio__ctx_prepare(void *top, void (*entry)(void *), void *arg);
 *
 * What is saved: exactly what the System V ABI makes callee-saved (rbx, rbp,
 * r12-r15, rsp) plus the floating-point control state (the MXCSR control
 * bits and the x87 control word), which the ABI also says a callee must
 * preserve: without it a task that changes the rounding mode would change
 * it for every task it switches to. Everything else is caller-saved, so the
 * C compiler has already spilled what it needs before calling us.
 * Reference: System V AMD64 ABI, section 3.2.1 "Registers and the Stack
 * Frame", and 3.2.3 on the control bits of MXCSR and the x87 control word.
 *
 * A switched-out stack, from the saved stack pointer upwards:
 *
 *   offset  contents
 *   +0      MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes unused
 *   +8      r15
 *   +16     r14
 *   +24     r13
 *   +32     r12
 *   +40     rbx
 *   +48     rbp
 *   +56     return address
 *
 * A new context is that same frame, built by cio__ctx_prepare, with r12 =
 * entry, r13 = arg and the return address pointing at cio__ctx_trampoline.
 */
    .text

    .globl  cio__ctx_switch
    .hidden cio__ctx_switch
    .type   cio__ctx_switch, @function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    /* Loaded unconditionally: comparing first means reading back what
     * stmxcsr/fnstcw just stored, a store-forwarding stall on the critical
     * path that costs more than the loads (about 1 ns per switch, measured
     * with bench/cio_w2 on an AMD EPYC). */
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   cio__ctx_switch, .-cio__ctx_switch

    /* void cio__ctx_restart(void *stack_top, void (*entry)(void *), void *arg)
     *
     * Starts entry(arg) on the stack the caller is running on, at its top,
     * abandoning every frame there: what a finishing task does to hand its
     * stack straight to a new one. Leaves the state cio__ctx_prepare's
     * frame would after the first switch into it (sp at the rounded top
     * minus 16, default MXCSR and x87 control word, rbp = 0), then enters
     * the same trampoline. Writes nothing below the new sp, so the frames
     * it abandons may be anywhere. */
    .globl  cio__ctx_restart
    .hidden cio__ctx_restart
    .type   cio__ctx_restart, @function
    .p2align 4
cio__ctx_restart:
    .cfi_startproc
    andq    $-16, %rdi
    leaq    -16(%rdi), %rsp
    movl    $0x1F80, (%rsp)          /* as in cio__ctx_prepare */
    ldmxcsr (%rsp)
    movw    $0x037F, 4(%rsp)
    fldcw   4(%rsp)
    movq    %rsi, %r12
    movq    %rdx, %r13
    xorl    %ebp, %ebp
    jmp     cio__ctx_trampoline
    .cfi_endproc
    .size   cio__ctx_restart, .-cio__ctx_restart

    .globl  cio__ctx_prepare
    .hidden cio__ctx_prepare
    .type   cio__ctx_prepare, @function
    .p2align 4
cio__ctx_prepare:
    .cfi_startproc
    /* rax = top rounded down to 16, minus 80: the frame's 64 bytes, with
     * 16 spare above the return address so that after the final `ret` the
     * stack pointer is 16-aligned, as a `call` in the trampoline needs. */
    movq    %rdi, %rax
    andq    $-16, %rax
    subq    $80, %rax
    movl    $0x1F80, (%rax)          /* MXCSR: all exceptions masked, round to nearest */
    movw    $0x037F, 4(%rax)         /* x87: all exceptions masked, 64-bit precision */
    movw    $0, 6(%rax)
    movq    $0, 8(%rax)              /* r15 */
    movq    $0, 16(%rax)             /* r14 */
    movq    %rdx, 24(%rax)           /* r13 = arg */
    movq    %rsi, 32(%rax)           /* r12 = entry */
    movq    $0, 40(%rax)             /* rbx */
    movq    $0, 48(%rax)             /* rbp = 0 ends frame-pointer walks */
    leaq    cio__ctx_trampoline(%rip), %rcx
    movq    %rcx, 56(%rax)
    ret
    .cfi_endproc
    .size   cio__ctx_prepare, .-cio__ctx_prepare

    .type   cio__ctx_trampoline, @function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    /* The bottom of a task's call stack: tell unwinders there is no caller. */
    .cfi_undefined rip
    movq    %r13, %rdi
    callq   *%r12
    ud2                              /* entry never returns */
    .cfi_endproc
    .size   cio__ctx_trampoline, .-cio__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
