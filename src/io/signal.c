/* SPDX-License-Identifier: MIT */
/* signal.c — cio_signal_wait: a task waits for a signal through a
 * signalfd, with no signal handler installed.
 *
 * A signalfd only sees signals that are blocked, so the first wait for a
 * signal blocks it on the loop's thread, and it stays blocked until
 * cio_run returns and restores the thread's mask (loop.c): a signal that
 * arrives between two waits is then pending for the next one instead of
 * taking its default action (often: killing the process).
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

int cio_signal_wait(int signo)
{
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
        return -EINVAL;
    if (!cio_current_task())
        return -EPERM;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    int err = -pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err)
        return err;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        struct signalfd_siginfo info;
        if (read(fd, &info, sizeof info) == (ssize_t)sizeof info)
            break;
        if (errno != EAGAIN && errno != EINTR) {
            err = -errno;
            break;
        }
        if ((err = cio_wait_readable(fd)))
            break;
    }
    cio_close(fd);
    return err;
}
