/* SPDX-License-Identifier: MIT */
/* process.c — child processes: posix_spawn with pipes as streams, exit
 * noticed through a pidfd, wait, kill.
 *
 * No SIGCHLD handler: the loop waits for the pidfd to become readable
 * (the kernel marks it so when the child exits) and reaps exactly that
 * child with waitid(P_PIDFD), so an application's own SIGCHLD handling is
 * left alone. Streams are stream.c's.
 */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#if __has_include(<sys/pidfd.h>)
#include <sys/pidfd.h>
#else
/* musl (1.2.3) declares no pidfd calls: the system calls themselves
 * (Linux 5.3). */
#include <sys/syscall.h>
#include <unistd.h>
static int pidfd_open(pid_t pid, unsigned int flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}
static int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}
#endif
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "io/stream.h"

extern char **environ;

/* The child's three standard descriptors, in the order of the streams. */
enum { STDIN_I, STDOUT_I, STDERR_I, NSTD };

struct cio_process {
    /* The child's id, and a pidfd naming it (never a recycled pid). */
    pid_t pid;
    int pidfd;
    /* Our ends of the pipes asked for (NULL where none). */
    cio_stream *std[NSTD];
    /* Once reaped: the status cio_process_wait returns (exit code or 128 +
     * signal), and that it is known. */
    int status;
    bool reaped;
};

/* The pipes the options ask for: child[i] is the child's end, ours[i] the
 * parent's; -1 where none. */
static int make_pipes(const cio_process_opts *opts, int child[NSTD], int ours[NSTD])
{
    bool want[NSTD] = {opts && opts->pipe_stdin, opts && opts->pipe_stdout,
                       opts && opts->pipe_stderr};
    for (int i = 0; i < NSTD; i++) {
        child[i] = ours[i] = -1;
        if (!want[i])
            continue;
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            return -errno;
        /* The child reads its stdin from p[0] and writes the others to p[1]. */
        child[i] = i == STDIN_I ? p[0] : p[1];
        ours[i] = i == STDIN_I ? p[1] : p[0];
    }
    return 0;
}

static void close_all(int fds[NSTD])
{
    for (int i = 0; i < NSTD; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* posix_spawnp with the child's ends on 0, 1, 2, default signal
 * dispositions and an empty mask (the loop's thread blocks SIGPIPE and
 * whatever cio_signal_wait waits for: the child must not inherit that). */
static int spawn(const char *const argv[], const int child[NSTD], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc)
        goto destroy_actions;
    for (int i = 0; i < NSTD && !rc; i++) {
        /* dup2 onto 0-2 clears close-on-exec on the copy (glibc does the
         * same when the numbers are equal). */
        if (child[i] >= 0)
            rc = posix_spawn_file_actions_adddup2(&fa, child[i], i);
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    /* posix_spawnp's argv is char *const[] for history's sake; it does not
     * write to the strings. */
    if (!rc)
        rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)(uintptr_t)argv, environ);
    posix_spawnattr_destroy(&attr);
destroy_actions:
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

/* A child that spawning could not finish setting up: killed and reaped at
 * once (SIGKILL takes effect at once, so the loop blocks only briefly, and
 * only on this error path) rather than left running unwatched. */
static void stop_child(cio_process *p)
{
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

cio_process *cio_process_spawn(const char *const argv[], const cio_process_opts *opts)
{
    if (!argv || !argv[0] || !argv[0][0]) {
        errno = EINVAL;
        return NULL;
    }
    if (!cio__context_loop) {
        errno = EPERM;
        return NULL;
    }
    cio_process *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    p->pidfd = -1;
    int child[NSTD], ours[NSTD];
    int err = make_pipes(opts, child, ours);
    if (!err)
        err = spawn(argv, child, &p->pid);
    close_all(child);
    if (err)
        goto fail;
    /* A pidfd is close-on-exec from birth. The child cannot have been
     * reaped yet unless SIGCHLD is SIG_IGN or a handler reaps every child
     * (ESRCH); it is then stopped rather than left running unseen. */
    p->pidfd = pidfd_open(p->pid, 0);
    if (p->pidfd < 0) {
        err = -errno;
        stop_child(p);
        goto fail;
    }
    for (int i = 0; i < NSTD; i++) {
        if (ours[i] < 0)
            continue;
        /* cio_stream_new takes the descriptor even when it fails. */
        int fd = ours[i];
        ours[i] = -1;
        if (!(p->std[i] = cio_stream_new(fd))) {
            err = -errno;
            goto fail_streams;
        }
    }
    return p;

fail_streams:
    stop_child(p);
    cio_process_free(p);
    close_all(ours);
    errno = -err;
    return NULL;
fail:
    close_all(ours);
    free(p);
    errno = -err;
    return NULL;
}

cio_stream *cio_process_stdin(cio_process *p) { return p ? p->std[STDIN_I] : NULL; }
cio_stream *cio_process_stdout(cio_process *p) { return p ? p->std[STDOUT_I] : NULL; }
cio_stream *cio_process_stderr(cio_process *p) { return p ? p->std[STDERR_I] : NULL; }

int cio_process_pid(const cio_process *p) { return p ? p->pid : -EINVAL; }

/* Reaps the child if it has exited: 1 when it has, 0 if it still runs,
 * -errno. */
static int try_reap(cio_process *p)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    for (;;) {
        if (waitid(P_PIDFD, (id_t)p->pidfd, &info, WEXITED | WNOHANG) == 0)
            break;
        if (errno != EINTR)
            return -errno;
    }
    if (info.si_pid == 0)
        return 0;
    p->status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
    p->reaped = true;
    return 1;
}

int cio_process_wait(cio_process *p)
{
    if (!p)
        return -EINVAL;
    for (;;) {
        if (p->reaped)
            return p->status;
        int r = try_reap(p);
        if (r < 0)
            return r;
        if (r == 0 && (r = cio_wait_readable(p->pidfd)))
            return r;
    }
}

int cio_process_kill(cio_process *p, int signo)
{
    if (!p || signo < 0 || signo >= NSIG)
        return -EINVAL;
    /* Once reaped, the pid may name another process already. */
    if (p->reaped)
        return -ESRCH;
    if (pidfd_send_signal(p->pidfd, signo, NULL, 0) != 0)
        return -errno;
    return 0;
}

/* The body of the task that reaps a freed child once it exits (arg: its
 * pidfd, which the task owns). Cancelled (cio_run shutting down), it lets
 * go: the child is then the process's to reap, as it would be without us. */
static int reap_in_background(void *arg)
{
    int pidfd = (int)(intptr_t)arg;
    siginfo_t info;
    int err;
    for (;;) {
        memset(&info, 0, sizeof info);
        if (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) != 0) {
            err = errno == EINTR ? 0 : -errno;
            if (err)
                break;
            continue;
        }
        if (info.si_pid != 0) {
            err = 0;
            break;
        }
        if ((err = cio_wait_readable(pidfd)) != 0)
            break;
    }
    cio_close(pidfd);
    return err;
}

/* A child freed before it was waited for: reaped now if it has exited,
 * else by a detached task when it does, so that it never lingers as a
 * zombie. Takes the pidfd. */
static void reap_later(cio_process *p)
{
    if (!p->reaped && try_reap(p) == 0 && cio_current_task()) {
        cio_task_opts opts = {.name = "process reaper"};
        cio_task *t = cio_create_task_opts(reap_in_background, (void *)(intptr_t)p->pidfd, &opts);
        if (t) {
            cio_detach(t);
            return;
        }
    }
    cio_close(p->pidfd);
}

void cio_process_free(cio_process *p)
{
    if (!p)
        return;
    for (int i = 0; i < NSTD; i++) {
        if (p->std[i])
            cio__stream_destroy(p->std[i]);
    }
    if (p->pidfd >= 0)
        reap_later(p);
    free(p);
}
