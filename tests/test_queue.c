/* SPDX-License-Identifier: MIT */
/* test_queue.c — cio_queue as asyncio.Queue, LifoQueue and PriorityQueue
 * (Lib/test/test_asyncio/test_queues.py's cases): order of each kind, a
 * stable priority order, bounded backpressure with FIFO putters and
 * getters, the _nowait forms, task_done/join, 3.13's shutdown (immediate
 * or not), a cancelled get that loses no item and a cancelled put that
 * inserts none, bad input, freeing a queue still waited on.
 */
#include "testutil.h"

#define ITEM(n) ((void *)(intptr_t)(n))
#define NUM(p) ((int)(intptr_t)(p))

static int drain_to_log(cio_queue *q, order_log *log)
{
    void *item;
    int n = 0;
    while (cio_queue_get_nowait(q, &item) == 0) {
        log_put(log, (char)NUM(item));
        n++;
    }
    return n;
}

/* Priority by the item's tens digit only, so that equal priorities occur. */
static int by_tens(const void *a, const void *b)
{
    int x = NUM(a) / 10, y = NUM(b) / 10;
    return (x > y) - (x < y);
}

static int order_main(void *arg)
{
    order_log *log = arg;
    cio_queue *fifo = cio_queue_new(0), *lifo = cio_queue_new_lifo(0);
    const char *word = "abcdefghijklmnopqrst"; /* past the first growth */
    for (const char *c = word; *c; c++) {
        CHECK_CIO(cio_queue_put(fifo, ITEM(*c)), 0);
        CHECK_CIO(cio_queue_put_nowait(lifo, ITEM(*c)), 0);
    }
    CHECK(cio_queue_size(fifo) == 20);
    drain_to_log(fifo, log);
    log_put(log, '|');
    drain_to_log(lifo, log);
    log_put(log, '|');
    /* FIFO across the ring's wrap and growth: interleave puts and gets. */
    for (int i = 0; i < 6; i++)
        CHECK_CIO(cio_queue_put(fifo, ITEM('0' + i)), 0);
    void *item;
    for (int i = 0; i < 4; i++)
        CHECK_CIO(cio_queue_get(fifo, &item), 0);
    for (int i = 6; i < 10; i++)
        CHECK_CIO(cio_queue_put(fifo, ITEM('0' + i)), 0);
    drain_to_log(fifo, log);
    log_put(log, '|');
    cio_queue_free(fifo);
    cio_queue_free(lifo);

    cio_queue *pq = cio_queue_new_priority(0, by_tens);
    /* Items 'A'..: priority = code / 10; equal ones must keep put order. */
    int items[] = {'Z', 'P', 'F', 'Q', 'G', 'X', 'E', 'R', 'H'};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++)
        CHECK_CIO(cio_queue_put(pq, ITEM(items[i])), 0);
    drain_to_log(pq, log);
    cio_queue_free(pq);
    return 0;
}

static void test_fifo_lifo_and_stable_priority_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(order_main, &log, 0);
    /* Priorities (code / 10): E 6; F G H 7; P Q R X 8; Z 9. Within 8 the
     * put order was P Q X R, and so is the get order. */
    assert_string_equal(log.buf, "abcdefghijklmnopqrst|tsrqponmlkjihgfedcba|456789|EFGHPQXRZ");
}

typedef struct qtask {
    cio_queue *q;
    order_log *log;
    char letter;
    int result;
    void *item;
} qtask;

static int putter_body(void *arg)
{
    qtask *p = arg;
    p->result = cio_queue_put(p->q, p->item);
    if (p->result == 0)
        log_put(p->log, p->letter);
    return p->result;
}

static int getter_body(void *arg)
{
    qtask *g = arg;
    g->result = cio_queue_get(g->q, &g->item);
    if (g->result == 0)
        log_put(g->log, (char)NUM(g->item));
    return g->result;
}

static int backpressure_main(void *arg)
{
    order_log *log = arg;
    cio_queue *q = cio_queue_new(2);
    CHECK_CIO(cio_queue_put_nowait(q, ITEM('1')), 0);
    CHECK_CIO(cio_queue_put_nowait(q, ITEM('2')), 0);
    CHECK_CIO(cio_queue_put_nowait(q, ITEM('x')), -EAGAIN);
    qtask p[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        p[i] = (qtask){q, log, (char)('a' + i), 1, ITEM('3' + i)};
        t[i] = cio_create_task(putter_body, &p[i]);
    }
    settle();
    CHECK(log->n == 0 && cio_queue_size(q) == 2);
    /* Each get frees a slot that the first waiting putter fills. */
    void *item;
    for (int i = 0; i < 5; i++) {
        CHECK_CIO(cio_queue_get(q, &item), 0);
        log_put(log, (char)NUM(item));
        settle();
    }
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    CHECK(cio_queue_size(q) == 0);
    CHECK_CIO(cio_queue_get_nowait(q, &item), -EAGAIN);
    /* Getters wait FIFO; a put goes to the first of them. */
    qtask g[3];
    for (int i = 0; i < 3; i++) {
        g[i] = (qtask){q, log, 0, 1, NULL};
        t[i] = cio_create_task(getter_body, &g[i]);
    }
    settle();
    log_put(log, '|');
    CHECK_CIO(cio_queue_put(q, ITEM('x')), 0);
    CHECK_CIO(cio_queue_put_nowait(q, ITEM('y')), 0);
    CHECK_CIO(cio_queue_put(q, ITEM('z')), 0);
    CHECK(cio_queue_size(q) == 0); /* handed over, never stored */
    for (int i = 0; i < 3; i++)
        CHECK_CIO(cio_await(t[i]), 0);
    CHECK(NUM(g[0].item) == 'x' && NUM(g[1].item) == 'y' && NUM(g[2].item) == 'z');
    cio_queue_free(q);
    return 0;
}

static void test_bounded_queue_backpressure_in_fifo_order(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(backpressure_main, &log, 0);
    /* get 1 → a's 3 goes in; get 2 → b's 4; get 3 → c's 5; get 4, 5. */
    assert_string_equal(log.buf, "1a2b3c45|xyz");
}

static int cancel_get_main(void *arg)
{
    order_log *log = arg;
    cio_queue *q = cio_queue_new(0);
    qtask g[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        g[i] = (qtask){q, log, 0, 1, NULL};
        t[i] = cio_create_task(getter_body, &g[i]);
    }
    settle();
    /* Cancelled while waiting: it takes nothing; the item goes to the next
     * getter (asyncio's test_cancelled_getters_not_being_held_in_self). */
    CHECK_CIO(cio_cancel(t[0]), 0);
    CHECK_CIO(cio_queue_put(q, ITEM('m')), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    CHECK(g[0].item == NULL);
    CHECK_CIO(cio_await(t[1]), 0);
    CHECK(NUM(g[1].item) == 'm');
    /* Handed an item, then cancelled before it ran: it keeps the item
     * (asyncio's test_get_cancelled_race: nothing lost). */
    CHECK_CIO(cio_queue_put(q, ITEM('n')), 0);
    CHECK_CIO(cio_cancel(t[2]), 0);
    CHECK_CIO(cio_await(t[2]), 0);
    CHECK(NUM(g[2].item) == 'n');
    CHECK(cio_queue_size(q) == 0);
    /* A timed-out get takes nothing either. */
    void *item = ITEM(7);
    cio_timeout tm;
    cio_timeout_enter(&tm, 0.01);
    CHECK_CIO(cio_queue_get(q, &item), -ETIMEDOUT);
    cio_timeout_exit(&tm);
    CHECK(NUM(item) == 7);
    cio_queue_free(q);
    return 0;
}

static void test_cancelled_get_loses_no_item(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_get_main, &log, 0);
    assert_string_equal(log.buf, "mn");
}

static int cancel_put_main(void *arg)
{
    order_log *log = arg;
    cio_queue *q = cio_queue_new(1);
    CHECK_CIO(cio_queue_put(q, ITEM('1')), 0);
    qtask p[3];
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        p[i] = (qtask){q, log, (char)('a' + i), 1, ITEM('2' + i)};
        t[i] = cio_create_task(putter_body, &p[i]);
    }
    settle();
    /* Cancelled while waiting: its item is never inserted. */
    CHECK_CIO(cio_cancel(t[0]), 0);
    CHECK_CIO(cio_await(t[0]), -ECANCELED);
    void *item;
    CHECK_CIO(cio_queue_get(q, &item), 0);
    CHECK(NUM(item) == '1');
    /* b's item went in when the slot freed; b is cancelled before it runs:
     * its put still succeeded (asyncio's test_put_cancelled_race). */
    CHECK_CIO(cio_cancel(t[1]), 0);
    CHECK_CIO(cio_await(t[1]), 0);
    CHECK_CIO(cio_queue_get(q, &item), 0);
    CHECK(NUM(item) == '3');
    CHECK_CIO(cio_await(t[2]), 0);
    CHECK_CIO(cio_queue_get(q, &item), 0);
    CHECK(NUM(item) == '4');
    CHECK(cio_queue_size(q) == 0);
    cio_queue_free(q);
    return 0;
}

static void test_cancelled_put_inserts_nothing(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(cancel_put_main, &log, 0);
    assert_string_equal(log.buf, "bc");
}

typedef struct worker {
    cio_queue *q;
    int processed;
} worker;

static int worker_body(void *arg)
{
    worker *w = arg;
    void *item;
    int err;
    while ((err = cio_queue_get(w->q, &item)) == 0) {
        CHECK_CIO(cio_sleep(0.001), 0);
        w->processed++;
        CHECK_CIO(cio_queue_task_done(w->q), 0);
    }
    return err == -EPIPE ? 0 : err;
}

static int join_main(void *arg)
{
    (void)arg;
    cio_queue *q = cio_queue_new(0);
    /* Nothing put: join returns at once. */
    CHECK_CIO(cio_queue_join(q), 0);
    worker w = {q, 0};
    cio_task *t[2] = {cio_create_task(worker_body, &w), cio_create_task(worker_body, &w)};
    for (int i = 0; i < 10; i++)
        CHECK_CIO(cio_queue_put(q, ITEM(i)), 0);
    CHECK_CIO(cio_queue_join(q), 0);
    CHECK(w.processed == 10);
    CHECK_CIO(cio_queue_task_done(q), -EINVAL); /* once too many */
    cio_queue_shutdown(q, false);
    CHECK_CIO(cio_await(t[0]), 0);
    CHECK_CIO(cio_await(t[1]), 0);
    cio_queue_free(q);
    return 0;
}

static void test_task_done_and_join(void **state)
{
    (void)state;
    run_main(join_main, NULL, 0);
}

static int joiner_body(void *arg) { return cio_queue_join(arg); }

static int shutdown_main(void *arg)
{
    order_log *log = arg;
    /* Not immediate: waiting putters fail, gets drain what is left. */
    cio_queue *q = cio_queue_new(2);
    CHECK_CIO(cio_queue_put(q, ITEM('1')), 0);
    CHECK_CIO(cio_queue_put(q, ITEM('2')), 0);
    qtask p = {q, log, 'p', 1, ITEM('3')};
    cio_task *pt = cio_create_task(putter_body, &p);
    cio_task *jt = cio_create_task(joiner_body, q);
    settle();
    cio_queue_shutdown(q, false);
    CHECK_CIO(cio_await(pt), -EPIPE);
    CHECK_CIO(cio_queue_put(q, ITEM('x')), -EPIPE);
    CHECK_CIO(cio_queue_put_nowait(q, ITEM('x')), -EPIPE);
    void *item;
    CHECK_CIO(cio_queue_get(q, &item), 0);
    log_put(log, (char)NUM(item));
    CHECK_CIO(cio_queue_get_nowait(q, &item), 0);
    log_put(log, (char)NUM(item));
    CHECK_CIO(cio_queue_get(q, &item), -EPIPE);
    CHECK_CIO(cio_queue_get_nowait(q, &item), -EPIPE);
    /* join still waits for task_done on what was taken. */
    settle();
    CHECK(!cio_task_done(jt));
    CHECK_CIO(cio_queue_task_done(q), 0);
    CHECK_CIO(cio_queue_task_done(q), 0);
    CHECK_CIO(cio_await(jt), 0);
    cio_queue_free(q);
    log_put(log, '|');

    /* Immediate: items dropped and counted done, waiting getters fail. */
    q = cio_queue_new(0);
    qtask g = {q, log, 0, 1, NULL};
    cio_task *gt = cio_create_task(getter_body, &g);
    settle();
    cio_queue_shutdown(q, true);
    CHECK_CIO(cio_await(gt), -EPIPE);
    cio_queue_free(q);
    q = cio_queue_new(0);
    CHECK_CIO(cio_queue_put(q, ITEM('a')), 0);
    CHECK_CIO(cio_queue_put(q, ITEM('b')), 0);
    CHECK_CIO(cio_queue_get(q, &item), 0); /* taken, not yet done */
    jt = cio_create_task(joiner_body, q);
    settle();
    cio_queue_shutdown(q, true);
    CHECK(cio_queue_size(q) == 0);
    CHECK_CIO(cio_queue_get(q, &item), -EPIPE);
    settle();
    CHECK(!cio_task_done(jt)); /* 'a' is still unfinished */
    CHECK_CIO(cio_queue_task_done(q), 0);
    CHECK_CIO(cio_await(jt), 0);
    CHECK_CIO(cio_queue_task_done(q), -EINVAL);
    cio_queue_free(q);
    return 0;
}

static void test_shutdown_as_in_asyncio_3_13(void **state)
{
    (void)state;
    order_log log = {.n = 0};
    run_main(shutdown_main, &log, 0);
    assert_string_equal(log.buf, "12|");
}

static void test_bad_input(void **state)
{
    (void)state;
    void *item;
    errno = 0;
    assert_null(cio_queue_new_priority(0, NULL));
    assert_int_equal(errno, EINVAL);
    assert_cio(cio_queue_put(NULL, NULL), -EINVAL);
    assert_cio(cio_queue_get(NULL, &item), -EINVAL);
    assert_cio(cio_queue_put_nowait(NULL, NULL), -EINVAL);
    assert_cio(cio_queue_get_nowait(NULL, &item), -EINVAL);
    assert_cio(cio_queue_task_done(NULL), -EINVAL);
    assert_cio(cio_queue_join(NULL), -EINVAL);
    assert_int_equal(cio_queue_size(NULL), 0);
    cio_queue_shutdown(NULL, true);
    cio_queue_free(NULL);
    cio_queue *q = cio_queue_new(1);
    assert_cio(cio_queue_get_nowait(q, NULL), -EINVAL);
    assert_cio(cio_queue_get(q, NULL), -EINVAL);
    /* The _nowait forms work outside a task; the waiting ones do not. */
    assert_cio(cio_queue_put_nowait(q, ITEM(1)), 0);
    assert_cio(cio_queue_put(q, ITEM(2)), -EPERM);
    assert_cio(cio_queue_get(q, &item), -EPERM);
    assert_cio(cio_queue_get_nowait(q, &item), 0);
    assert_int_equal(NUM(item), 1);
    assert_cio(cio_queue_task_done(q), 0);
    assert_cio(cio_queue_task_done(q), -EINVAL);
    cio_queue_free(q);
}

static void *make_queue(void) { return cio_queue_new(0); }
static void free_queue(void *q) { cio_queue_free(q); }

static int get_one(void *q)
{
    void *item;
    return cio_queue_get(q, &item);
}

static void test_free_while_waited_on_aborts(void **state)
{
    (void)state;
    assert_free_in_use_aborts(make_queue, get_one, free_queue,
                              "cio_queue_free: 1 task(s) still wait on a queue (get)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_lifo_and_stable_priority_order),
        cmocka_unit_test(test_bounded_queue_backpressure_in_fifo_order),
        cmocka_unit_test(test_cancelled_get_loses_no_item),
        cmocka_unit_test(test_cancelled_put_inserts_nothing),
        cmocka_unit_test(test_task_done_and_join),
        cmocka_unit_test(test_shutdown_as_in_asyncio_3_13),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_free_while_waited_on_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
