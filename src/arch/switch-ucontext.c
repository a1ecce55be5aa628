/* SPDX-License-Identifier: MIT */
/* switch-ucontext.c — the portable context switch: getcontext, makecontext
 * and swapcontext, for architectures without a switch-*.S (and for
 * -DCIO_UCONTEXT=ON, to test the fallback on machines that have one).
 *
 * Contract (see ctx.h). Here a context's "stack pointer" is the address of
 * a ucontext_t:
 *  - a new context's lives just below stack_top (cio__ctx_prepare puts it
 *    there; the task's stack proper starts below it);
 *  - a switched-out context's lives in the frame of the cio__ctx_switch call
 *    that switched it out, on its own stack, until that call returns.
 *
 * Slow, and a fallback only. Every switch costs two system calls, because
 * swapcontext also saves and restores the signal mask (rt_sigprocmask), and
 * the mask must first be copied into the target (it is the thread's, not
 * the task's); getcontext in cio__ctx_prepare costs another. Each task gives up
 * 2 * sizeof(ucontext_t) of its stack to this file: one at the top for its
 * first switch, one in every switched-out frame. That is 968 bytes each on
 * x86-64 and 4,560 on AArch64 (glibc 2.36), so stacks of a few KiB that
 * work with the assembly switches overflow here.
 *
 * What glibc saves besides the callee-saved registers: the floating-point
 * environment. On x86-64 swapcontext stores the x87 environment (fnstenv:
 * control word, status word, tag word) in uc_mcontext.fpregs and the whole
 * MXCSR, and loads both back (fldenv, ldmxcsr) on every switch (glibc's
 * sysdeps/unix/sysv/linux/x86_64/swapcontext.S). On AArch64 it saves FPSR,
 * FPCR and all 128 bits of q8-q15, and writes FPSR and FPCR back every time
 * (getcontext.S, setcontext.S). So with this file each task keeps its own
 * rounding mode, as with the assembly switches, and also its own exception
 * flags, which the assembly switches do not keep. A new context would
 * inherit the environment, and the signal mask, of whichever context
 * prepared it (getcontext copies them): the trampoline resets the
 * environment to FE_DFL_ENV, so that every task starts with the default one
 * as the contract says.
 */
#include "internal.h"

#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "core/ctx.h"

/* Where cio__ctx_prepare puts a new context's ucontext_t: aligned for the
 * type, and for the 16-byte stack alignment every supported ABI wants. */
#define UCONTEXT_ALIGN (_Alignof(ucontext_t) > 16 ? _Alignof(ucontext_t) : 16)

/* The first function on a new context. makecontext passes only int
 * arguments, so entry and arg arrive as two 32-bit halves each. */
static void ucontext_start(int entry_hi, int entry_lo, int arg_hi, int arg_lo)
{
    uint64_t entry_bits = (uint64_t)(uint32_t)entry_hi << 32 | (uint32_t)entry_lo;
    uint64_t arg_bits = (uint64_t)(uint32_t)arg_hi << 32 | (uint32_t)arg_lo;
    void (*entry)(void *) = (void (*)(void *))(uintptr_t)entry_bits;
    void *arg = (void *)(uintptr_t)arg_bits;
    /* getcontext copied the preparing context's environment; start from
     * the default one instead. */
    fesetenv(FE_DFL_ENV);
    entry(arg);
    CIO__PANIC("a context's entry function returned");
}

void *cio__ctx_prepare(void *stack_top, void (*entry)(void *), void *arg)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    ucontext_t *uc = (ucontext_t *)((top - sizeof(ucontext_t)) & ~(uintptr_t)(UCONTEXT_ALIGN - 1));
    if (getcontext(uc) != 0)
        CIO__PANIC("getcontext failed: %s", strerror(errno));
    uc->uc_link = NULL;
    /* The stack proper ends where the ucontext_t begins. ctx.h does not tell
     * us where it starts, but glibc's makecontext (on every architecture
     * it supports) uses only ss_sp + ss_size, the top, from which the new
     * context's stack grows down. A size of 0 also keeps ASan's swapcontext
     * interceptor from unpoisoning a range nobody knows (newer runtimes skip
     * it; GCC 12's unpoisons just the page the ucontext_t is in). */
    uc->uc_stack.ss_sp = uc;
    uc->uc_stack.ss_size = 0;
    uc->uc_stack.ss_flags = 0;
    uint64_t entry_bits = (uint64_t)(uintptr_t)entry;
    uint64_t arg_bits = (uint64_t)(uintptr_t)arg;
    /* The cast to void (*)(void) is the one makecontext's prototype wants;
     * glibc calls the function with the four int arguments given here. */
    makecontext(uc, (void (*)(void))ucontext_start, 4, (int)(uint32_t)(entry_bits >> 32),
                (int)(uint32_t)entry_bits, (int)(uint32_t)(arg_bits >> 32),
                (int)(uint32_t)arg_bits);
    return uc;
}

/* Not instrumented by ASan: it would put redzones around `here`, and a
 * finished task's last switch never returns to unpoison them, so the next
 * task given that stack would trip over them. */
__attribute__((no_sanitize_address)) void cio__ctx_switch(void **save_sp, void *load_sp)
{
    ucontext_t here;
    /* swapcontext does not write uc_stack; give it a defined value, which
     * says "no known stack" to the ASan interceptor when this context is
     * switched back to. */
    here.uc_stack.ss_sp = NULL;
    here.uc_stack.ss_size = 0;
    here.uc_stack.ss_flags = 0;
    *save_sp = &here;
    /* The signal mask belongs to the thread, not to a task: the assembly
     * switches leave it alone, so here the target takes the current mask
     * instead of the one it was switched out with (cio_signal_wait blocks
     * a signal from inside a task, and that must hold after the switch). */
    ucontext_t *to = load_sp;
    pthread_sigmask(SIG_SETMASK, NULL, &to->uc_sigmask);
    if (swapcontext(&here, load_sp) != 0)
        CIO__PANIC("swapcontext failed: %s", strerror(errno));
}
