/* SPDX-License-Identifier: MIT */
/* ctx.h — switching the CPU from one stack to another.
 *
 * The architecture files (arch/switch-*.S, arch/switch-ucontext.c) provide
 * the two primitives below; this header wraps them with the sanitizer fiber
 * hooks, so that AddressSanitizer and ThreadSanitizer know which stack is
 * live after every switch (without them ASan reports false stack overflows
 * and TSan loses track of happens-before). In normal builds the hooks
 * compile to nothing.
 */
#ifndef CIO_CTX_H
#define CIO_CTX_H

#include "internal.h"

#if CIO__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if CIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* A place execution can be switched away from and back to: a task, or the
 * loop itself (which runs on the thread's own stack). */
typedef struct cio__ctx {
    /* The stack pointer saved by the last switch away from this context
     * (on ucontext builds: the address of the saved ucontext_t). */
    void *sp;
#if CIO__ASAN
    /* ASan's fake stack for this context while it is switched out. */
    void *asan_fake_stack;
    /* Lowest address and size of the stack, for __sanitizer_start_switch_fiber. */
    const void *stack_bottom;
    size_t stack_size;
#endif
#if CIO__TSAN
    /* TSan's fiber for this context. */
    void *tsan_fiber;
#endif
} cio__ctx;

/* Saves the callee-saved registers and the floating-point control state on
 * the current stack, stores the stack pointer in *save_sp, loads load_sp and
 * restores what that stack had saved. Returns when something switches back. */
void cio__ctx_switch(void **save_sp, void *load_sp);

/* Lays out a first frame below stack_top (16-byte aligned by the callee) so
 * that switching to the returned stack pointer calls entry(arg) with the
 * default floating-point environment. entry must never return. */
void *cio__ctx_prepare(void *stack_top, void (*entry)(void *), void *arg);

/* Starts entry(arg) at the top of the stack the caller runs on, abandoning
 * all of that stack's frames, as if switched into a cio__ctx_prepare frame
 * there: a finishing task hands its stack straight to a new one. Only the
 * assembly switches have it: ucontext cannot reset the stack it runs on,
 * and under the sanitizers every change of stack must be a switch they are
 * told about. */
#if !CIO__UCONTEXT && !CIO__ASAN && !CIO__TSAN
#define CIO__CTX_HAS_RESTART 1
__attribute__((noreturn)) void cio__ctx_restart(void *stack_top, void (*entry)(void *), void *arg);
#else
#define CIO__CTX_HAS_RESTART 0
#endif

/* Switches from `from` to `to`. `from_dies` says that the from-context will
 * never run again (a finished task), so ASan can drop its fake stack. */
static inline void cio__ctx_jump(cio__ctx *from, cio__ctx *to, bool from_dies)
{
#if CIO__ASAN
    __sanitizer_start_switch_fiber(from_dies ? NULL : &from->asan_fake_stack, to->stack_bottom,
                                   to->stack_size);
#else
    (void)from_dies;
#endif
#if CIO__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    cio__ctx_switch(&from->sp, to->sp);
#if CIO__ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

/* The first thing a new context does on its own stack. */
static inline void cio__ctx_entered(void)
{
#if CIO__ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

#endif
