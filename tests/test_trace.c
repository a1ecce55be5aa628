/* SPDX-License-Identifier: MIT */
/* test_trace.c — CIO_TRACE: every kind of event in the narration, the
 * Chrome trace-event JSON (parsed by python3's json module), an unwritable
 * path, the CIO_TRACE_MAX_MB cap, and cio_loop_stats_get.
 *
 * Each traced run happens in a child process (run_child_with) with the
 * environment set there, so the trace goes to a captured stderr and the
 * test process itself stays untraced.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

/* ------------------------------------------------------- the scenario */

static cio_lock *story_lock;

static int sleeper(void *arg)
{
    (void)arg;
    return cio_sleep(0.01);
}

static int reader(void *arg)
{
    int fd = *(int *)arg;
    char buf[8];
    return (int)cio_read(fd, buf, sizeof buf);
}

static int blocking_job(void *arg)
{
    (void)arg;
    usleep(2000);
    return 5;
}

static int locker(void *arg)
{
    (void)arg;
    int err = cio_lock_acquire(story_lock);
    if (err)
        return err;
    cio_lock_release(story_lock);
    return 42;
}

/* Waits on an event nobody sets, under a timeout long enough that it
 * cannot expire before the wait has begun, even on a slow emulator. */
static int patient(void *arg)
{
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.2);
    int r = cio_event_wait(arg);
    cio_timeout_exit(&tm);
    return r;
}

static int yield_once(void *arg)
{
    (void)arg;
    return cio_yield();
}

static void noop_cb(void *arg) { (void)arg; }

/* Touches every kind of event: creation, start, a timer, a descriptor, a
 * thread-pool job, a lock, an await, a yield, results. */
static int story_main(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe(p) != 0)
        return -errno;
    story_lock = cio_lock_new();
    REQUIRE(story_lock);
    REQUIRE_CIO(cio_lock_acquire(story_lock), 0);
    cio_task *s = cio_create_task_opts(sleeper, NULL, &(cio_task_opts){.name = "sleeper"});
    cio_task *r = cio_create_task_opts(reader, &p[0], &(cio_task_opts){.name = "reader"});
    cio_task *l = cio_create_task_opts(locker, NULL, &(cio_task_opts){.name = "locker"});
    REQUIRE(s && r && l);
    CHECK_CIO(cio_yield(), 0);
    CHECK_CIO(cio_sleep(0.002), 0);
    CHECK_CIO(cio_write(p[1], "hi", 2), 2);
    CHECK_CIO(cio_to_thread(blocking_job, NULL), 5);
    CHECK_CIO(cio_lock_release(story_lock), 0);
    cio_task *y = cio_create_task_opts(yield_once, NULL, &(cio_task_opts){.name = "yielder"});
    REQUIRE(y);
    CHECK_CIO(cio_await(y), 0);
    CHECK_CIO(cio_await(s), 0);
    CHECK_CIO(cio_await(r), 2);
    CHECK_CIO(cio_await(l), 42);
    cio_event *never = cio_event_new();
    REQUIRE(never);
    cio_task *t = cio_create_task_opts(patient, never, &(cio_task_opts){.name = "patient"});
    REQUIRE(t);
    CHECK_CIO(cio_await(t), -ETIMEDOUT);
    cio_event_free(never);
    cio_lock_free(story_lock);
    cio_close(p[0]);
    cio_close(p[1]);
    return 0;
}

/* A child's body: runs the story with CIO_TRACE=value. */
static void traced_story(void *value)
{
    setenv("CIO_TRACE", value, 1);
    reset_failures();
    int r = cio_run(story_main, NULL);
    if (r != 0 || failure_count()) {
        fprintf(stderr, "story failed: %d %s\n", r, failure_text());
        _exit(1);
    }
}

/* Set before the child is forked: the narrated story runs with
 * CIO_TRACE_DIRECT=1 (direct switches kept). */
static bool narrate_direct;

/* A child's body: the story narrated into the file at log_path (the
 * narration can outgrow child_result's buffer on a slow machine, where
 * the loop polls more often). */
static void narrated_story(void *log_path)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(2);
    close(fd);
    if (narrate_direct)
        setenv("CIO_TRACE_DIRECT", "1", 1);
    char narrate[] = "1";
    traced_story(narrate);
}

/* The whole of a file, NUL-terminated, malloc'd. */
static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n;
    while ((n = fread(text + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len == cap - 1) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* A fresh path for a JSON trace, removed by the caller. */
static void temp_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/cio-test-trace-%d-%s.json", (int)getpid(), tag);
    unlink(buf);
}

/* Runs python3 on the JSON file with a check script; returns its status. */
static int python_check(const char *path, const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 - '%s' <<'EOF'\n%s\nEOF\n", path, script);
    return system(cmd);
}

/* --------------------------------------------------------------- tests */

/* Narrates the story (with direct switches kept if `direct`) and checks
 * that every kind of event is in the narration. */
static void check_narration(bool direct)
{
    narrate_direct = direct;
    char log[128];
    snprintf(log, sizeof log, "/tmp/cio-test-trace-%d-narration.txt", (int)getpid());
    child_result r;
    run_child_with(narrated_story, log, &r);
    char *e = read_whole(log);
    unlink(log);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("the child failed (status 0x%x); its stderr:\n%s", r.status, e);
    assert_contains(e, "task#1 \"main\" created by cio_run");
    assert_contains(e, "task#1 \"main\" started");
    assert_contains(e, "task#2 \"sleeper\" created by task#1 \"main\"");
    assert_contains(e, "task#2 \"sleeper\" suspended: waits for timer due at ");
    assert_contains(e, "task#3 \"reader\" suspended: waits for fd ");
    assert_contains(e, "task#4 \"locker\" suspended: waits for a lock");
    assert_contains(e, "task#1 \"main\" yielded");
    assert_contains(e, "task#1 \"main\" resumed (its turn again after yielding)");
    assert_contains(e, "loop: polling ");
    const char *backend = getenv("CIO_BACKEND");
    if (backend) {
        char want[64];
        snprintf(want, sizeof want, "loop: polling %s, timeout ", backend);
        assert_contains(e, want);
        snprintf(want, sizeof want, "loop: %s reported fd ", backend);
        assert_contains(e, want);
    }
    /* Readiness backends report the descriptor readable; io_uring reports
     * the read itself done. */
    if (backend && strcmp(backend, "io_uring") == 0)
        assert_contains(e, ": its operation completed -> task#3 \"reader\" ready");
    else
        assert_contains(e, " readable -> task#3 ready");
    assert_contains(e, "task#3 \"reader\" resumed (woken by fd ");
    assert_contains(e, "loop: timer due -> task#2 \"sleeper\" ready");
    assert_contains(e, "task#2 \"sleeper\" resumed (woken by its timer)");
    assert_contains(e, "task#1 \"main\" suspended: waits for a thread-pool job");
    assert_contains(e, "loop: thread-pool job done -> task#1 \"main\" ready");
    assert_contains(e, "task#4 \"locker\" resumed (woken by task#1, through a lock)");
    assert_contains(e, "task#1 \"main\" suspended: waits for task#5 to finish");
    assert_contains(e, "task#1 \"main\" resumed (woken by task#5, which finished)");
    assert_contains(e, "task#3 \"reader\" finished: result 2");
    assert_contains(e, "task#4 \"locker\" finished: result 42");
    assert_contains(e, "task#6 \"patient\" suspended: waits for an event (0x");
    assert_contains(e, ", timeout at ");
    assert_contains(e, "loop: timeout expired -> task#6 \"patient\" ready");
    assert_contains(e, "task#6 \"patient\" resumed (woken by its timeout)");
    assert_contains(e, "task#6 \"patient\" finished: result -110 (");
    assert_contains(e, "task#1 \"main\" finished: result 0");
    /* One event a line, each stamped. */
    for (const char *line = e; *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, "[cio ", 5) != 0 || !strstr(line, " ms] "))
            fail_msg("unstamped line in the narration: %.*s", (int)(end ? end - line : 80), line);
        line = end ? end + 1 : line + strlen(line);
    }
    free(e);
}

static void test_narration_names_every_event_kind(void **state)
{
    (void)state;
    check_narration(false);
}

/* CIO_TRACE_DIRECT=1: the tasks switch straight to one another, and the
 * switches' events, emitted on that path, narrate the same story. */
static void test_narration_with_direct_switches_names_every_event_kind(void **state)
{
    (void)state;
    check_narration(true);
}

/* The JSON parses, and holds the contract's events: a name per track,
 * run and wait slices, polls on the loop's track, created/finished with
 * the result, and wake arrows whose two ends match. */
static const char json_checks[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "ev = d['traceEvents']\n"
    "assert d['displayTimeUnit'] == 'ms' and d['otherData']['backend'], d.get('otherData')\n"
    "names = {e['tid']: e['args']['name'] for e in ev if e['ph'] == 'M'}\n"
    "assert names[0] == 'loop' and names[1] == 'task#1 main' and names[3] == 'task#3 reader', names\n"
    "assert all(e['tid'] in names for e in ev), 'an event on an unnamed track'\n"
    "cats = {(e['ph'], e.get('cat')) for e in ev}\n"
    "for want in [('X','run'), ('X','wait'), ('X','poll'), ('i','task'), ('s','wake'), ('f','wake')]:\n"
    "    assert want in cats, (want, cats)\n"
    "assert any(e['ph'] == 'X' and e['name'].startswith('wait: fd ') and e['tid'] == 3 for e in ev)\n"
    "assert any(e['ph'] == 'X' and e['name'].startswith('wait: timer due') for e in ev)\n"
    "assert any(e['name'] == 'finished' and e['tid'] == 4 and e['args']['result'] == 42 for e in ev)\n"
    "assert all(e['tid'] == 0 and e['name'].startswith('poll ') and 'timeout_ms' in e['args']\n"
    "           for e in ev if e.get('cat') == 'poll')\n"
    "starts = {e['id']: e for e in ev if e['ph'] == 's'}\n"
    "ends = {e['id']: e for e in ev if e['ph'] == 'f'}\n"
    "assert starts.keys() == ends.keys(), 'unmatched wake arrows'\n"
    "assert all(ends[k]['ts'] >= starts[k]['ts'] and ends[k]['bp'] == 'e' for k in ends)\n"
    "assert any(starts[k]['tid'] == 0 and ends[k]['tid'] == 3 for k in ends), 'no fd arrow'\n"
    "assert any(starts[k]['tid'] == 1 and ends[k]['tid'] == 4 for k in ends), 'no lock arrow'\n"
    "assert all(e['dur'] >= 0 and e['ts'] >= 0 for e in ev if e['ph'] == 'X')\n";

static void test_json_trace_parses_and_holds_the_events(void **state)
{
    (void)state;
    char path[128], value[160];
    temp_path(path, sizeof path, "story");
    snprintf(value, sizeof value, "1,%s", path);
    child_result r;
    run_child_with(traced_story, value, &r);
    assert_child_ok(&r);
    /* Both destinations at once. */
    assert_contains(r.err, "task#1 \"main\" started");
    int status = python_check(path, json_checks);
    unlink(path);
    assert_int_equal(status, 0);
}

static void test_unwritable_path_says_so_and_runs_untraced(void **state)
{
    (void)state;
    child_result r;
    char path[] = "/nonexistent-cio-dir/trace.json";
    run_child_with(traced_story, path, &r);
    assert_child_ok(&r);
    assert_contains(r.err, "cio: trace: cannot write /nonexistent-cio-dir/trace.json");
    /* One line, then nothing: no narration was asked for. */
    const char *nl = strchr(r.err, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
}

static int yield_a_lot(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++)
        cio_yield();
    return 0;
}

static int many_events_main(void *arg)
{
    (void)arg;
    enum { N = 400 };
    cio_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = cio_create_task(yield_a_lot, NULL);
    for (int i = 0; i < N; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    return 0;
}

static void capped_run(void *path)
{
    setenv("CIO_TRACE", path, 1);
    setenv("CIO_TRACE_MAX_MB", "1", 1);
    reset_failures();
    if (cio_run(many_events_main, NULL) != 0 || failure_count())
        _exit(1);
}

static void test_trace_max_mb_stops_recording_and_keeps_json_valid(void **state)
{
    (void)state;
    char path[128];
    temp_path(path, sizeof path, "cap");
    child_result r;
    run_child_with(capped_run, path, &r);
    assert_child_ok(&r);
    assert_contains(r.err, "reached CIO_TRACE_MAX_MB (1 MiB): recording stopped");
    /* Said once. */
    assert_null(strstr(strstr(r.err, "reached") + 1, "reached"));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size <= 1 << 20);
    assert_true(sb.st_size > (1 << 20) - 4096);
    int status = python_check(path, "import json, sys\n"
                                    "d = json.load(open(sys.argv[1]))\n"
                                    "assert len(d['traceEvents']) > 1000\n");
    unlink(path);
    assert_int_equal(status, 0);
}

/* ----------------------------------------------------------- loop stats */

static int stats_from_thread(void *loop)
{
    cio_loop_stats st;
    return cio_loop_stats_get(loop, &st);
}

static int stats_main(void *arg)
{
    (void)arg;
    cio_loop *loop = cio_running_loop();
    cio_loop_stats st;
    CHECK_CIO(cio_loop_stats_get(NULL, &st), -EINVAL);
    CHECK_CIO(cio_loop_stats_get(loop, NULL), -EINVAL);
    CHECK_CIO(cio_to_thread(stats_from_thread, loop), -EPERM);
    cio_task *t[10];
    for (int i = 0; i < 10; i++)
        t[i] = cio_create_task(return_arg, (void *)(intptr_t)i);
    for (int i = 0; i < 10; i++)
        CHECK_CIO(cio_await(t[i]), i);
    CHECK_CIO(cio_sleep(0.01), 0);
    cio_call_soon(noop_cb, NULL);
    CHECK_CIO(cio_yield(), 0);
    REQUIRE_CIO(cio_loop_stats_get(loop, &st), 0);
    CHECK(st.tasks_created == 11);
    CHECK(st.tasks_finished == 10);
    CHECK(st.tasks_live == 1);
    /* main's runs and each child's one run, at least. */
    CHECK(st.switches >= 12);
    CHECK(st.callbacks >= 2); /* the sleep's timer and the call_soon */
    CHECK(st.iterations >= 2);
    CHECK(st.polls >= 1);
    CHECK(st.idle_ns > 0); /* the sleep was spent in the OS */
    CHECK(st.busy_ns > 0);
    CHECK(st.busy_ns + st.idle_ns == st.elapsed_ns);
    return 0;
}

static void test_loop_stats_count_what_the_loop_did(void **state)
{
    (void)state;
    run_ok(stats_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_narration_names_every_event_kind),
        cmocka_unit_test(test_narration_with_direct_switches_names_every_event_kind),
        cmocka_unit_test(test_json_trace_parses_and_holds_the_events),
        cmocka_unit_test(test_unwritable_path_says_so_and_runs_untraced),
        cmocka_unit_test(test_trace_max_mb_stops_recording_and_keeps_json_valid),
        cmocka_unit_test(test_loop_stats_count_what_the_loop_did),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
