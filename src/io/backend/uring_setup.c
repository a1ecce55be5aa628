/* SPDX-License-Identifier: MIT */
/* uring_setup.c — the io_uring backend's start: whether io_uring may be
 * used at all (sysctl), which features CIO_URING_DISABLE masks, making the
 * ring (or taking the one the thread kept, uring_keep.c), probing the
 * kernel for the opcodes the backend needs and the fast paths it may use,
 * and the features' description. What each feature changes at run time,
 * and each one's fallback, is io_uring.c's.
 */
#include "internal.h"

#include <string.h>

#include "io/backend/uring_setup.h"

#define RING_ENTRIES 256
/* What CIO_URING_DISABLE=all masks: every fast path (not NODROP). */
#define FAST_PATHS (~FEATURE(NODROP))

static const char *const feature_names[] = {
#define URING_FEATURE_NAME(name, text) text,
    URING_FEATURES(URING_FEATURE_NAME)
#undef URING_FEATURE_NAME
};
#define FEATURE_COUNT (sizeof feature_names / sizeof feature_names[0])

/* The features CIO_URING_DISABLE masks ("all" or names, comma-separated):
 * how the suite tests every fallback on a kernel that has the features. */
static unsigned masked_features(void)
{
    const char *env = getenv("CIO_URING_DISABLE");
    unsigned mask = 0;
    while (env && *env) {
        size_t len = strcspn(env, ",");
        bool known = false;
        if (len == 3 && strncmp(env, "all", 3) == 0) {
            mask |= FAST_PATHS;
            known = true;
        }
        for (size_t i = 0; i < FEATURE_COUNT; i++) {
            if (strlen(feature_names[i]) == len && strncmp(env, feature_names[i], len) == 0) {
                mask |= 1u << i;
                known = true;
            }
        }
        if (!known && len)
            fprintf(stderr, "cio: CIO_URING_DISABLE: no io_uring feature is called '%.*s'\n",
                    (int)len, env);
        env += len + (env[len] == ',');
    }
    return mask;
}

/* sysctl kernel.io_uring_disabled: 2 refuses io_uring to every process
 * (6.6+); 1 only to those outside kernel.io_uring_group, which
 * io_uring_setup itself then refuses. */
bool cio__uring_setup_disabled(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
    if (!f)
        return false;
    int value = 0;
    bool disabled = fscanf(f, "%d", &value) == 1 && value == 2;
    fclose(f);
    return disabled;
}

/* The opcodes every operation needs (5.6): without one, the ring cannot
 * replace epoll, and the loop falls back to it. */
static const int required_ops[] = {
    IORING_OP_READ,    IORING_OP_WRITE,       IORING_OP_SEND,     IORING_OP_RECV,
    IORING_OP_SENDMSG, IORING_OP_RECVMSG,     IORING_OP_ACCEPT,   IORING_OP_CONNECT,
    IORING_OP_OPENAT,  IORING_OP_FSYNC,       IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
    IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL,
};

static int check_kernel(uring_backend *b, const struct io_uring_params *p, unsigned masked)
{
    /* Without NODROP (before 5.5) a full CQ drops completions, and a lost
     * CQE is a task parked for ever. Every kernel with the opcodes below
     * has it; masking it shows the refusal. */
    if (!(p->features & IORING_FEAT_NODROP) || (masked & FEATURE(NODROP)))
        return -ENOSYS;
    b->features |= FEATURE(NODROP);
    struct io_uring_probe *probe = io_uring_get_probe_ring(&b->ring);
    if (!probe)
        return -ENOSYS;
    int err = 0;
    for (size_t i = 0; i < sizeof required_ops / sizeof required_ops[0]; i++) {
        if (!io_uring_opcode_supported(probe, required_ops[i]))
            err = -ENOSYS;
    }
    /* The fast paths have no probe bit of their own: each came with an
     * opcode that can be probed (multishot poll in 5.13, MKDIRAT 5.15;
     * multishot accept and SOCKET in 5.19; multishot recv and SEND_ZC in
     * 6.0). A kernel that still refuses one is caught at its first use. */
    if (io_uring_opcode_supported(probe, IORING_OP_MKDIRAT))
        b->features |= FEATURE(MULTISHOT_POLL);
    if (io_uring_opcode_supported(probe, IORING_OP_SOCKET))
        b->features |= FEATURE(MULTISHOT_ACCEPT);
    if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC))
        b->features |= FEATURE(BUFRING);
    io_uring_free_probe(probe);
    return err;
}

void cio__uring_setup_describe(uring_backend *b)
{
    char *text = b->features_text;
    size_t at = (size_t)snprintf(text, sizeof b->features_text, "io_uring:");
    for (size_t i = 0; i < FEATURE_COUNT && at < sizeof b->features_text; i++)
        at += (size_t)snprintf(text + at, sizeof b->features_text - at, " %s%s",
                               b->features & (1u << i) ? "" : "no-", feature_names[i]);
}

/* Makes b's ring for b->key and detects its features. */
static int ring_open(uring_backend *b)
{
    unsigned masked = b->key.masked;
    struct io_uring_params p = {0};
    /* The loop's thread is the only one that submits, and completions run
     * in its own enter rather than interrupting it (6.1). */
    if (!(masked & FEATURE(DEFER_TASKRUN)))
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int err = io_uring_queue_init_params(b->key.entries, &b->ring, &p);
    if (err == -EINVAL && p.flags) {
        memset(&p, 0, sizeof p);
        err = io_uring_queue_init_params(b->key.entries, &b->ring, &p);
    } else if (err == 0 && p.flags) {
        b->features |= FEATURE(DEFER_TASKRUN);
    }
    if (err)
        return err;
    if ((err = check_kernel(b, &p, masked))) {
        io_uring_queue_exit(&b->ring);
        return err;
    }
    b->features &= ~masked;
    if (!(masked & FEATURE(RING_FD)) && io_uring_register_ring_fd(&b->ring) == 1)
        b->features |= FEATURE(RING_FD);
    if (!(masked & FEATURE(BATCH)))
        b->features |= FEATURE(BATCH);
    b->keepable = p.features & IORING_FEAT_EXT_ARG;
    return 0;
}

int cio__uring_setup_ring(uring_backend *b)
{
    /* CIO_URING_ENTRIES: a smaller ring, for the tests of a full SQ and
     * an overflowing CQ. */
    const char *env = getenv("CIO_URING_ENTRIES");
    b->key.entries = env && atoi(env) > 0 ? (unsigned)atoi(env) : RING_ENTRIES;
    b->key.masked = masked_features();
    if (cio__uring_keep_take(&b->ring, b->key, &b->features)) {
        b->keepable = true;
        return 0;
    }
    return ring_open(b);
}
