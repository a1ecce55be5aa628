/* SPDX-License-Identifier: MIT */
/* overflow.c — a stack overflow that faults: name the task, stop.
 *
 * A SIGSEGV handler, installed once per process on an alternate signal
 * stack, checks whether the task running on this thread overflowed: the
 * faulting address lies in its guard page, or (a canary stack, which has
 * none) its canary is gone or the address lies below its stack, where the
 * overflow ran over the stacks packed below it and on past its chunk. If so
 * it writes a message naming the task and its stack size (with
 * async-signal-safe calls only) and aborts. Any
 * other fault goes to the handler that was there before, or kills the
 * process as SIGSEGV would have. Sanitizer builds leave SIGSEGV to the
 * sanitizer, which reports overflows itself.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "core/overflow.h"
#include "text.h"

#if !CIO__ASAN && !CIO__TSAN
static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static __thread void *alt_stack;
static __thread stack_t old_alt_stack;

__attribute__((noreturn)) static void report(cio_task *t, const char *how)
{
    char buf[256];
    cio__text msg = cio__text_on(buf, sizeof buf);
    char label[32];
    cio__text_str(&msg, "cio: fatal: stack overflow in task '");
    cio__text_str(&msg, cio__task_label(t, label));
    cio__text_str(&msg, "' (stack size ");
    cio__text_u64(&msg, cio__stack_size(&t->live->stack));
    cio__text_str(&msg, " bytes): ");
    cio__text_str(&msg, how);
    cio__text_str(&msg, "; give it a larger cio_task_opts.stack_size\n");
    ssize_t w = write(STDERR_FILENO, msg.buf, msg.len);
    (void)w;
    abort();
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    cio_loop *loop = cio__context_loop;
    cio_task *t = loop ? loop->current : NULL;
    /* t->live is at the top of t's stack, which an overflow leaves alone. */
    if (t && t->live && cio__stack_in_guard(&t->live->stack, info->si_addr))
        report(t, "it ran into its guard page");
    if (t && t->live && cio__stack_overrun(&t->live->stack, info->si_addr))
        report(t, "it ran past the canary below its stack, over whatever lies below");
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uctx);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        /* Returning re-runs the faulting instruction, which now kills the
         * process the ordinary way (and dumps core where enabled). */
        signal(SIGSEGV, SIG_DFL);
    }
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous);
}

void cio__overflow_guard_begin(void)
{
    pthread_once(&install_once, install);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE))
        return; /* the application gave this thread one already */
#ifdef _SC_SIGSTKSZ
    size_t size = CIO__MAX((size_t)sysconf(_SC_SIGSTKSZ), (size_t)64 * 1024);
#else
    size_t size = CIO__MAX((size_t)SIGSTKSZ, (size_t)64 * 1024); /* musl, glibc < 2.34 */
#endif
    alt_stack = malloc(size);
    if (!alt_stack)
        return;
    stack_t ss = {.ss_sp = alt_stack, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, &old_alt_stack) != 0) {
        free(alt_stack);
        alt_stack = NULL;
    }
}

void cio__overflow_guard_end(void)
{
    if (!alt_stack)
        return;
    sigaltstack(&old_alt_stack, NULL);
    free(alt_stack);
    alt_stack = NULL;
}
#else
void cio__overflow_guard_begin(void) {}
void cio__overflow_guard_end(void) {}
#endif
