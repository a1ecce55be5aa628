/* SPDX-License-Identifier: MIT */
/* peers.h — real peers for the TLS and curl tests: a scratch directory
 * with a certificate authority and a server certificate made by the
 * openssl command, and peer processes (openssl s_server, nginx) started on
 * free loopback ports, waited for, and stopped.
 *
 * Start peers before cio_run (plain posix_spawn, while the test process
 * has no other threads) and stop them after it. Header-only: each test
 * file is its own program. Include it instead of nettest.h.
 */
#ifndef CIO_PEERS_H
#define CIO_PEERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <spawn.h>
#include <sys/stat.h>
#include <time.h>

#include "nettest.h"

extern char **environ;

/* A scratch directory holding the certificates: ca.pem (the authority),
 * server.pem and server.key (CN localhost, names localhost and 127.0.0.1,
 * signed by ca.pem). */
typedef struct peer_dir {
    char path[64];
    char ca[128], cert[128], key[128];
} peer_dir;

/* Runs a shell command in dir, its output to dir/commands.log. */
static inline void peer_shell(const peer_dir *d, const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof line, "cd '%s' && (%s) >>commands.log 2>&1", d->path, cmd);
    if (system(line) != 0)
        fail_msg("peer setup failed: %s (see %s/commands.log)", cmd, d->path);
}

/* Makes the directory and the certificates (EC keys: quick to make). */
static inline void peer_dir_make(peer_dir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/cio-peers-XXXXXX");
    assert_non_null(mkdtemp(d->path));
    snprintf(d->ca, sizeof d->ca, "%s/ca.pem", d->path);
    snprintf(d->cert, sizeof d->cert, "%s/server.pem", d->path);
    snprintf(d->key, sizeof d->key, "%s/server.key", d->path);
    peer_shell(d, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                  " -keyout ca.key -out ca.pem -days 2 -subj /CN=cio-test-ca");
    peer_shell(d, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                  " -keyout server.key -out server.csr -subj /CN=localhost");
    peer_shell(d, "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n"
                  "basicConstraints=CA:FALSE\\n' >server.ext");
    peer_shell(d, "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1"
                  " -days 2 -extfile server.ext -out server.pem");
}

/* Removes the directory and everything in it. */
static inline void peer_dir_remove(const peer_dir *d)
{
    char line[128];
    snprintf(line, sizeof line, "rm -rf '%s'", d->path);
    if (system(line) != 0)
        fprintf(stderr, "could not remove %s\n", d->path);
}

/* The test program's scratch directory: made by peers_setup, removed by
 * peers_teardown (cmocka group setup and teardown). */
static peer_dir peers;

static inline int peers_setup(void **state)
{
    (void)state;
    peer_dir_make(&peers);
    return 0;
}

static inline int peers_teardown(void **state)
{
    (void)state;
    peer_dir_remove(&peers);
    return 0;
}

/* A loopback TCP port that was free a moment ago (blocking calls: for
 * use before cio_run). */
static inline int peer_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Two different free ports. */
static inline void peer_free_ports(int *a, int *b)
{
    *a = peer_free_port();
    do
        *b = peer_free_port();
    while (*b == *a);
}

/* Whether something accepts connections on 127.0.0.1:port now. */
static inline bool peer_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts argv[0] (searched in PATH) with stdin from /dev/null and its
 * output to dir/<log>, and waits (up to 20 s) until each of the ports
 * accepts connections. Returns the pid. The peer gets SIGTERM if the test
 * process dies first (setpriv --pdeathsig, util-linux's), so a test killed
 * by its timeout leaves no peer behind. */
static inline pid_t peer_start(const peer_dir *d, const char *log, const char *const argv[],
                               const int *ports, int nports)
{
    const char *full[16] = {"setpriv", "--pdeathsig", "TERM", "--"};
    int n = 4;
    for (int i = 0; argv[i]; i++) {
        assert_true(n < 15);
        full[n++] = argv[i];
    }
    full[n] = NULL;
    /* posix_spawn's argv is not const-qualified, though it is not written. */
    union {
        const char *const *c;
        char *const *m;
    } args = {full};
    char logpath[160];
    snprintf(logpath, sizeof logpath, "%s/%s", d->path, log);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, logpath, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    int err = posix_spawnp(&pid, full[0], &fa, NULL, args.m, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        fail_msg("cannot start %s: %s", argv[0], strerror(err));
    for (int i = 0; i < nports; i++) {
        int tries = 0;
        while (!peer_port_open(ports[i])) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid)
                fail_msg("%s exited (status 0x%x) before listening: see %s", argv[0], status,
                         logpath);
            if (++tries > 2000) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                fail_msg("%s does not listen on port %d after 20 s: see %s", argv[0], ports[i],
                         logpath);
            }
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
    }
    return pid;
}

/* Stops a peer and waits for it. */
static inline void peer_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* The peer the running test started (0: none): a test stores it here and
 * registers peer_teardown, which stops it even when the test fails (a
 * failed cmocka assertion leaves the test function at once). */
static pid_t peer_pid;

static inline int peer_teardown(void **state)
{
    (void)state;
    if (peer_pid > 0)
        peer_stop(peer_pid);
    peer_pid = 0;
    return 0;
}

/* openssl s_server on port with the directory's certificate, in -rev mode:
 * each line received is sent back reversed ("abc\n" → "cba\n"). */
static inline pid_t peer_start_s_server(const peer_dir *d, int port)
{
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    const char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert",
                          d->cert,   "-key",     d->key, "-rev",  NULL};
    return peer_start(d, "s_server.log", argv, &port, 1);
}

/* nginx's module that can send a request's body back (nginx-light's). */
#define PEER_NGINX_ECHO_MODULE "/usr/lib/nginx/modules/ngx_http_echo_module.so"

/* nginx on 127.0.0.1, plain HTTP on `port` and HTTPS on `tls_port` with
 * the directory's certificate, everything it writes in the directory:
 *   /hello     200, "hello from nginx\n"
 *   /redirect  302 to /hello
 *   /echo      200, the request's body
 *   anything else: 404 */
static inline pid_t peer_start_nginx(const peer_dir *d, int port, int tls_port)
{
    char conf[2048];
    snprintf(conf, sizeof conf,
             "daemon off;\n"
             "master_process off;\n"
             "worker_processes 1;\n"
             "pid %1$s/nginx.pid;\n"
             "error_log %1$s/nginx-error.log;\n"
             "load_module " PEER_NGINX_ECHO_MODULE ";\n"
             "events { worker_connections 4096; }\n"
             "http {\n"
             "  access_log off;\n"
             "  default_type text/plain;\n"
             "  client_body_temp_path %1$s/body;\n"
             "  proxy_temp_path %1$s/proxy;\n"
             "  fastcgi_temp_path %1$s/fastcgi;\n"
             "  uwsgi_temp_path %1$s/uwsgi;\n"
             "  scgi_temp_path %1$s/scgi;\n"
             "  server {\n"
             "    listen 127.0.0.1:%2$d;\n"
             "    listen 127.0.0.1:%3$d ssl;\n"
             "    ssl_certificate %1$s/server.pem;\n"
             "    ssl_certificate_key %1$s/server.key;\n"
             "    location = /hello { return 200 \"hello from nginx\\n\"; }\n"
             "    location = /redirect { return 302 /hello; }\n"
             "    location = /echo { echo_read_request_body; echo -n $request_body; }\n"
             "    location / { return 404; }\n"
             "  }\n"
             "}\n",
             d->path, port, tls_port);
    char path[160];
    snprintf(path, sizeof path, "%s/nginx.conf", d->path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    char errlog[160];
    snprintf(errlog, sizeof errlog, "%s/nginx-error.log", d->path);
    const char *argv[] = {"nginx", "-p", d->path, "-e", errlog, "-c", path, NULL};
    int ports[] = {port, tls_port};
    /* Debian puts nginx in /usr/sbin, which a plain user's PATH may lack. */
    if (access("/usr/sbin/nginx", X_OK) == 0)
        argv[0] = "/usr/sbin/nginx";
    return peer_start(d, "nginx.log", argv, ports, 2);
}

#endif
