/* SPDX-License-Identifier: MIT */
/* curl.c — cio_curl_perform: libcurl transfers that suspend their task.
 *
 * One curl multi handle per loop (made on first use, an addon closed with
 * the loop) runs every transfer. curl says which sockets to watch through
 * its socket callback, which become standing watches of the loop (fd.c),
 * and when to call it back through its timer callback, which becomes a
 * loop timer; both call curl_multi_socket_action on the loop's own stack.
 * A finished transfer wakes the task that waits for it.
 */
#include "internal.h"

#include <pthread.h>

#include "cio_curl.h"
#include "loop.h"

/* The loop's multi handle and what it runs. */
typedef struct curl_driver {
    /* Links the driver into the loop's addons, keyed by &driver_key. */
    cio__loop_addon addon;
    CURLM *multi;
    /* The loop timer curl asked for (0: none). */
    uint64_t timer;
    /* The waiters (cio__waiter.node, object: the easy handle) of the tasks
     * in cio_curl_perform. */
    cio__list transfers;
    /* The sockets curl has us watch (curl_socket.node). */
    cio__list sockets;
} curl_driver;

/* A socket curl has us watch; curl keeps it as the socket's pointer
 * (curl_multi_assign) and tells us when to forget it (CURL_POLL_REMOVE). */
typedef struct curl_socket {
    cio__fd_watch watch;
    cio__list node;
    curl_driver *drv;
} curl_socket;

static const char driver_key;

/* curl_global_init is not to be raced, and is never undone: other code of
 * the process may use curl too. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result;

static void global_init(void) { global_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* --------------------------------------------------- finished transfers */

/* Wakes the task of every transfer curl reports done. */
static void collect_done(curl_driver *drv)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(drv->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        /* Gone from the multi before its task runs again: the task may
         * reuse or free the handle at once. (msg dies here.) */
        curl_multi_remove_handle(drv->multi, easy);
        /* A linear search: a thousand transfers finishing cost half a
         * million comparisons, a millisecond. */
        for (cio__list *n = drv->transfers.next; n != &drv->transfers; n = n->next) {
            cio__waiter *w = CIO__CONTAINER_OF(n, cio__waiter, node);
            if (w->object == easy) {
                cio__list_remove(n);
                cio__sched_wake(w, (int)result);
                break;
            }
        }
    }
}

/* ------------------------------------------------------ curl's callbacks */

/* A watched socket became ready: tell curl. */
static void socket_ready(cio__fd_watch *w, unsigned reported)
{
    curl_socket *cs = CIO__CONTAINER_OF(w, curl_socket, watch);
    curl_driver *drv = cs->drv;
    int flags = (reported & CIO__EV_READ ? CURL_CSELECT_IN : 0) |
                (reported & CIO__EV_WRITE ? CURL_CSELECT_OUT : 0) |
                (reported & CIO__EV_ERROR ? CURL_CSELECT_ERR : 0);
    int running;
    /* May free cs (CURL_POLL_REMOVE). */
    curl_multi_socket_action(drv->multi, w->fd, flags, &running);
    collect_done(drv);
}

static void socket_free(curl_socket *cs)
{
    (void)cio__fd_watch_set(&cs->watch, cs->watch.fd, 0);
    cio__list_remove(&cs->node);
    free(cs);
}

/* CURLMOPT_SOCKETFUNCTION: what to watch on fd. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    curl_driver *drv = userp;
    curl_socket *cs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs)
            socket_free(cs);
        /* curl closes its sockets with close(2): forget the number first. */
        cio__fd_forget(fd);
        return 0;
    }
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return -1;
        cs->watch.ready = socket_ready;
        cs->watch.fd = -1;
        cs->drv = drv;
        cio__list_push_back(&drv->sockets, &cs->node);
        curl_multi_assign(drv->multi, fd, cs);
    }
    unsigned events = (what & CURL_POLL_IN ? CIO__EV_READ : 0) |
                      (what & CURL_POLL_OUT ? CIO__EV_WRITE : 0);
    return cio__fd_watch_set(&cs->watch, fd, events) == 0 ? 0 : -1;
}

/* The loop timer curl asked for has come. */
static void timer_fired(void *arg)
{
    curl_driver *drv = arg;
    drv->timer = 0;
    int running;
    curl_multi_socket_action(drv->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(drv);
}

/* CURLMOPT_TIMERFUNCTION: call curl back in ms milliseconds (-1: never).
 * Even at 0 the call waits for the loop's next iteration, never inside
 * this callback (a timer set by a timer callback always does). */
static int on_timer(CURLM *multi, long ms, void *userp)
{
    (void)multi;
    curl_driver *drv = userp;
    if (drv->timer)
        cio__callback_cancel(drv->timer);
    drv->timer = 0;
    if (ms < 0)
        return 0;
    drv->timer = cio__callback_timer_start(cio__context_clock_ns() + (int64_t)ms * 1000000,
                                           timer_fired, drv);
    return drv->timer ? 0 : -1;
}

/* ------------------------------------------------------------ the driver */

static void driver_close(cio__loop_addon *a)
{
    curl_driver *drv = CIO__CONTAINER_OF(a, curl_driver, addon);
    /* Every task has finished, so no transfer is left; this closes the
     * cached connections (telling on_socket) and the timer. */
    curl_multi_cleanup(drv->multi);
    while (!cio__list_empty(&drv->sockets))
        socket_free(CIO__CONTAINER_OF(drv->sockets.next, curl_socket, node));
    if (drv->timer)
        cio__callback_cancel(drv->timer);
    free(drv);
}

/* The running loop's driver, made on first use; NULL when out of memory
 * or curl cannot start. */
static curl_driver *driver_get(void)
{
    cio__loop_addon *a = cio__context_addon_find(&driver_key);
    if (a)
        return CIO__CONTAINER_OF(a, curl_driver, addon);
    pthread_once(&global_once, global_init);
    if (global_result != CURLE_OK)
        return NULL;
    curl_driver *drv = calloc(1, sizeof *drv);
    if (!drv)
        return NULL;
    drv->multi = curl_multi_init();
    if (!drv->multi) {
        free(drv);
        return NULL;
    }
    curl_multi_setopt(drv->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(drv->multi, CURLMOPT_SOCKETDATA, drv);
    curl_multi_setopt(drv->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(drv->multi, CURLMOPT_TIMERDATA, drv);
    cio__list_init(&drv->transfers);
    cio__list_init(&drv->sockets);
    drv->addon.key = &driver_key;
    drv->addon.close = driver_close;
    cio__context_addon_add(&drv->addon);
    return drv;
}

/* ----------------------------------------------------------- the call */

/* The code a wait's error becomes. */
static CURLcode wait_error_code(int err)
{
    switch (err) {
    case -ETIMEDOUT:
        return CURLE_OPERATION_TIMEDOUT;
    case -ECANCELED:
        return CURLE_ABORTED_BY_CALLBACK;
    case -ENOMEM:
        return CURLE_OUT_OF_MEMORY;
    default:
        return CURLE_BAD_FUNCTION_ARGUMENT;
    }
}

static void unlink_transfer(cio__waiter *w) { cio__list_remove(&w->node); }

CURLcode cio_curl_perform(CURL *easy)
{
    if (!easy)
        return CURLE_BAD_FUNCTION_ARGUMENT;
    int err = cio__sched_checkpoint();
    if (err)
        return wait_error_code(err);
    curl_driver *drv = driver_get();
    if (!drv)
        return CURLE_OUT_OF_MEMORY;
    CURLMcode mc = curl_multi_add_handle(drv->multi, easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_BAD_FUNCTION_ARGUMENT;
    cio__waiter w;
    cio__waiter_init(&w, CIO__WAIT_TRANSFER, easy, unlink_transfer);
    cio__list_push_back(&drv->transfers, &w.node);
    /* Only the OS (and curl's timers) can end this wait: cio__sched_wait counts
     * it (CIO__COUNT_OS). */
    err = cio__sched_wait(&w);
    if (err >= 0)
        return (CURLcode)err;
    /* Cancelled or timed out: stop the transfer before the caller may
     * touch the handle again. */
    curl_multi_remove_handle(drv->multi, easy);
    return wait_error_code(err);
}
