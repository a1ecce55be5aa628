/* SPDX-License-Identifier: MIT */
/* test_process.c — cio_process: echo through cat (pipes as streams, EOF
 * by write_eof), exit codes, a kill with a signal (128 + signo), pid,
 * stderr, the child's clean signal state (default dispositions, empty
 * mask, whatever the loop's thread blocks or ignores), no SIGCHLD handler
 * installed, waits that time out, a freed child reaped when it exits
 * (never left a zombie), and bad input.
 */
#include "nettest.h"

static const cio_process_opts pipes_all = {true, true, true};

/* Reads the stream to its end into buf (NUL-terminated); the length. */
static ssize_t read_all(cio_stream *s, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = cio_stream_read(s, buf + got, cap - 1 - got);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

static int main_cat(void *arg)
{
    (void)arg;
    const char *argv[] = {"cat", NULL};
    cio_process *p = cio_process_spawn(argv, &pipes_all);
    REQUIRE(p != NULL);
    CHECK(cio_process_pid(p) > 0);
    CHECK(kill(cio_process_pid(p), 0) == 0);
    cio_stream *in = cio_process_stdin(p), *out = cio_process_stdout(p);
    REQUIRE(in && out && cio_process_stderr(p));
    char line[64];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof line, "line %d\n", i);
        CHECK_CIO(cio_stream_write(in, line, (size_t)n), 0);
        char back[64];
        CHECK_CIO(cio_stream_readline(out, back, sizeof back), n);
        CHECK(strcmp(back, line) == 0);
    }
    /* The end of its input ends cat. */
    CHECK_CIO(cio_stream_write_eof(in), 0);
    CHECK_CIO(cio_stream_readline(out, line, sizeof line), 0);
    CHECK_CIO(cio_process_wait(p), 0);
    CHECK_CIO(cio_process_wait(p), 0);
    CHECK_CIO(cio_process_kill(p, SIGTERM), -ESRCH);
    cio_process_free(p);
    return 0;
}

static void test_echo_through_cat(void **state)
{
    (void)state;
    run_main(main_cat, NULL, 0);
}

static int run_sh(const char *script, const cio_process_opts *opts, cio_process **out)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    *out = cio_process_spawn(argv, opts);
    return *out ? 0 : -errno;
}

static int main_exit_codes(void *arg)
{
    (void)arg;
    int codes[] = {0, 1, 3, 255};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char script[32];
        snprintf(script, sizeof script, "exit %d", codes[i]);
        cio_process *p;
        REQUIRE_CIO(run_sh(script, NULL, &p), 0);
        CHECK_CIO(cio_process_wait(p), codes[i]);
        cio_process_free(p);
    }
    /* A signal the child sends itself counts too. */
    cio_process *p;
    REQUIRE_CIO(run_sh("kill -USR1 $$", NULL, &p), 0);
    CHECK_CIO(cio_process_wait(p), 128 + SIGUSR1);
    cio_process_free(p);
    return 0;
}

static void test_exit_codes(void **state)
{
    (void)state;
    run_main(main_exit_codes, NULL, 0);
}

static int main_kill(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "30", NULL};
    cio_process *p = cio_process_spawn(argv, NULL);
    REQUIRE(p != NULL);
    /* A wait that times out leaves the child running and watchable. */
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.05);
    CHECK_CIO(cio_process_wait(p), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    CHECK_CIO(cio_process_kill(p, SIGTERM), 0);
    CHECK_CIO(cio_process_wait(p), 128 + SIGTERM);
    cio_process_free(p);
    REQUIRE((p = cio_process_spawn(argv, NULL)) != NULL);
    CHECK_CIO(cio_process_kill(p, SIGKILL), 0);
    CHECK_CIO(cio_process_wait(p), 128 + SIGKILL);
    CHECK_CIO(cio_process_kill(p, -1), -EINVAL);
    cio_process_free(p);
    return 0;
}

static void test_kill_gives_128_plus_signal(void **state)
{
    (void)state;
    run_main(main_kill, NULL, 0);
}

static int main_stderr(void *arg)
{
    (void)arg;
    cio_process *p;
    REQUIRE_CIO(run_sh("echo out; echo err >&2; exit 7", &pipes_all, &p), 0);
    char buf[64];
    CHECK_CIO(read_all(cio_process_stdout(p), buf, sizeof buf), 4);
    CHECK(strcmp(buf, "out\n") == 0);
    CHECK_CIO(read_all(cio_process_stderr(p), buf, sizeof buf), 4);
    CHECK(strcmp(buf, "err\n") == 0);
    CHECK_CIO(cio_process_wait(p), 7);
    cio_process_free(p);
    /* Only the pipes asked for exist. */
    REQUIRE_CIO(run_sh("true", &(cio_process_opts){.pipe_stdout = true}, &p), 0);
    CHECK(cio_process_stdin(p) == NULL && cio_process_stderr(p) == NULL);
    CHECK(cio_process_stdout(p) != NULL);
    CHECK_CIO(cio_process_wait(p), 0);
    cio_process_free(p);
    return 0;
}

static void test_stdout_and_stderr_pipes(void **state)
{
    (void)state;
    run_main(main_stderr, NULL, 0);
}

/* The hexadecimal mask after `key` in /proc/PID/status text. */
static unsigned long long status_mask(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtoull(p + strlen(key), NULL, 16) : ~0ull;
}

static int main_signal_state(void *arg)
{
    (void)arg;
    /* The loop's thread blocks SIGPIPE (and, here, SIGUSR2) and ignores
     * SIGINT: the child gets none of that. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGINT, &ign, &old);
    const char *argv[] = {"cat", "/proc/self/status", NULL};
    cio_process *p = cio_process_spawn(argv, &(cio_process_opts){.pipe_stdout = true});
    sigaction(SIGINT, &old, NULL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    REQUIRE(p != NULL);
    static char text[8192];
    CHECK(read_all(cio_process_stdout(p), text, sizeof text) > 0);
    /* Bit n-1 stands for signal n. The standard signals (1-31) only:
     * glibc's posix_spawn leaves its two internal ones (32, 33) ignored. */
    unsigned long long standard = (1ull << 31) - 1;
    CHECK((status_mask(text, "SigBlk:") & standard) == 0);
    CHECK((status_mask(text, "SigIgn:") & standard) == 0);
    CHECK_CIO(cio_process_wait(p), 0);
    cio_process_free(p);
    /* And no SIGCHLD handler was installed here. */
    struct sigaction chld;
    sigaction(SIGCHLD, NULL, &chld);
    CHECK(chld.sa_handler == SIG_DFL);
    return 0;
}

static void test_child_gets_clean_signal_state(void **state)
{
    (void)state;
    run_main(main_signal_state, NULL, 0);
}

static int main_free_unwaited(void *arg)
{
    (void)arg;
    /* Freed with data still buffered for its stdin and the child running:
     * everything of ours is released (test_run checks the descriptors). */
    const char *argv[] = {"sleep", "30", NULL};
    cio_process *p = cio_process_spawn(argv, &pipes_all);
    REQUIRE(p != NULL);
    static char junk[1 << 20];
    CHECK_CIO(cio_stream_set_high_water(cio_process_stdin(p), sizeof junk * 2), 0);
    CHECK_CIO(cio_stream_write(cio_process_stdin(p), junk, sizeof junk), 0);
    pid_t pid = cio_process_pid(p);
    cio_process_free(p);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

static void test_free_releases_streams_with_data_pending(void **state)
{
    (void)state;
    run_main(main_free_unwaited, NULL, 0);
}

/* True once pid names no process at all: not even a zombie. */
static bool gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

static int main_free_reaps(void *arg)
{
    (void)arg;
    /* One child still running when freed: the loop reaps it when it
     * exits. */
    const char *sleeper[] = {"sleep", "0.2", NULL};
    cio_process *running = cio_process_spawn(sleeper, NULL);
    REQUIRE(running != NULL);
    pid_t running_pid = cio_process_pid(running);
    cio_process_free(running);
    CHECK(!gone(running_pid));
    /* One that has exited, unwaited, when freed: reaped there and then. */
    const char *quick[] = {"true", NULL};
    cio_process *exited = cio_process_spawn(quick, NULL);
    REQUIRE(exited != NULL);
    pid_t exited_pid = cio_process_pid(exited);
    char stat_path[64], stat[256] = "";
    snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", (int)exited_pid);
    for (int i = 0; i < 500 && !strstr(stat, ") Z "); i++) {
        FILE *f = fopen(stat_path, "r");
        REQUIRE(f != NULL);
        REQUIRE(fgets(stat, sizeof stat, f) != NULL);
        fclose(f);
        CHECK_CIO(cio_sleep(0.01), 0);
    }
    REQUIRE(strstr(stat, ") Z ") != NULL);
    cio_process_free(exited);
    CHECK(gone(exited_pid));
    for (int i = 0; i < 500 && !gone(running_pid); i++)
        CHECK_CIO(cio_sleep(0.01), 0);
    CHECK(gone(running_pid));
    return 0;
}

static void test_free_reaps_the_child_when_it_exits(void **state)
{
    (void)state;
    run_main(main_free_reaps, NULL, 0);
}

static int main_bad_input(void *arg)
{
    (void)arg;
    errno = 0;
    const char *missing[] = {"/no/such/program", NULL};
    /* qemu-user runs posix_spawn's vfork as a fork, so the child's exec
     * failure never reaches the parent there (scripts/test-aarch64.sh sets
     * CIO_TEST_QEMU): the program "starts" and exits 127. */
    if (!getenv("CIO_TEST_QEMU"))
        CHECK(cio_process_spawn(missing, &pipes_all) == NULL && errno == ENOENT);
    const char *empty[] = {"", NULL};
    CHECK(cio_process_spawn(empty, NULL) == NULL && errno == EINVAL);
    const char *none[] = {NULL};
    CHECK(cio_process_spawn(none, NULL) == NULL && errno == EINVAL);
    CHECK(cio_process_spawn(NULL, NULL) == NULL && errno == EINVAL);
    CHECK_CIO(cio_process_wait(NULL), -EINVAL);
    CHECK_CIO(cio_process_kill(NULL, SIGTERM), -EINVAL);
    CHECK_CIO(cio_process_pid(NULL), -EINVAL);
    CHECK(cio_process_stdout(NULL) == NULL);
    cio_process_free(NULL);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run_main(main_bad_input, NULL, 0);
}

static void test_spawn_outside_a_loop_is_eperm(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    errno = 0;
    assert_null(cio_process_spawn(argv, NULL));
    assert_int_equal(errno, EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_through_cat),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_kill_gives_128_plus_signal),
        cmocka_unit_test(test_stdout_and_stderr_pipes),
        cmocka_unit_test(test_child_gets_clean_signal_state),
        cmocka_unit_test(test_free_releases_streams_with_data_pending),
        cmocka_unit_test(test_free_reaps_the_child_when_it_exits),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_spawn_outside_a_loop_is_eperm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
