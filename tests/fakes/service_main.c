/* service_main.c -- fakehcs-service, the fake HCS as a service process (as vmcompute.exe is HCS's). Built by
 * tests/fakes/build.py (POSIX) and build_windows.py (fakehcs-service.exe); started and stopped by
 * tests/fakes/service.py. Clients are processes that load the fake (libfakehcs.so / computecore.dll) with
 * PYHCS_FAKE_SERVICE set to the endpoint.
 *
 *   fakehcs-service ENDPOINT [--exit-with-pid PID] [--quiet]
 *       Serves at ENDPOINT (POSIX: a Unix socket path; Windows: a pipe name, \\.\pipe\NAME or NAME) until asked to
 *       stop: the STOP request (--stop), SIGTERM/SIGINT/Ctrl-C, or the end of process PID. Prints one line on
 *       stdout once it listens ("fakehcs-service: listening on ENDPOINT (pid N, protocol 1)"), then logs on
 *       stderr. Stopping kills every process of every compute system: a new service starts empty.
 *   fakehcs-service --stop ENDPOINT [--timeout SECONDS]
 *       Asks the service at ENDPOINT to stop and waits until it has (exit 0; 1: nothing listens there).
 *   fakehcs-service --ping ENDPOINT
 *       Exit 0 and a line on stdout when a service answers at ENDPOINT, else 1.
 * Exit status 2: bad arguments, or the endpoint cannot be served (in use, invalid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "server.h"
#include "transport.h"
#include "wire.h"

static plat_mutex *ML;
static plat_cond *MC;
static int stop_requested;
static uint32_t parent_pid;

static void request_stop(void)
{
    plat_mutex_lock(ML);
    stop_requested = 1;
    plat_cond_broadcast(MC);
    plat_mutex_unlock(ML);
}

static void watchdog_main(void *arg)
{
    (void)arg;
    while (transport_process_alive(parent_pid)) plat_sleep_ms(250);
    fprintf(stderr, "fakehcs-service: process %u ended: stopping\n", (unsigned)parent_pid);
    request_stop();
}

static int usage(void)
{
    fprintf(stderr, "usage: fakehcs-service ENDPOINT [--exit-with-pid PID] [--quiet]\n"
                    "       fakehcs-service --stop ENDPOINT [--timeout SECONDS]\n"
                    "       fakehcs-service --ping ENDPOINT\n");
    return 2;
}

/* A control connection: HELLO with WIRE_HELLO_CONTROL, then one request. Returns 0 on success. */
static int control_connect(const char *endpoint, tconn **out, uint32_t *service_pid)
{
    wire_msg m;
    tconn *t;
    int r;
    if (transport_connect(endpoint, &t) != 0) return -1;
    wire_init(&m, WIRE_HELLO, 0);
    wire_put_u32(&m, WIRE_MAGIC);
    wire_put_u16(&m, (uint16_t)WIRE_VERSION);
    wire_put_u16(&m, (uint16_t)WIRE_VERSION);
    wire_put_u32(&m, transport_self_pid());
    wire_put_u32(&m, WIRE_HELLO_CONTROL);
    r = transport_send(t, &m) == 0 ? 0 : -1;
    wire_free(&m);
    if (r == 0) r = transport_recv(t, &m, 10000);
    if (r != 0 || m.kind != WIRE_WELCOME || wire_get_u32(&m) != WIRE_MAGIC) {
        wire_free(&m);
        transport_free(t);
        return -1;
    }
    wire_get_u32(&m);
    *service_pid = wire_get_u32(&m);
    wire_free(&m);
    *out = t;
    return 0;
}

static int do_stop(const char *endpoint, uint32_t timeout_ms)
{
    tconn *t;
    uint32_t pid;
    wire_msg m;
    uint64_t deadline = plat_monotonic_ms() + timeout_ms;
    if (control_connect(endpoint, &t, &pid) != 0) {
        fprintf(stderr, "fakehcs-service: no fake HCS service answers at %s\n", endpoint);
        return 1;
    }
    wire_init(&m, WIRE_REQUEST, 1);
    wire_put_u16(&m, WIRE_OP_STOP);
    wire_put_u16(&m, 0);
    transport_send(t, &m);
    wire_free(&m);
    /* Its reply, then the end of the connection: the service process has exited. */
    for (;;) {
        uint64_t now = plat_monotonic_ms();
        int r = transport_recv(t, &m, now < deadline ? (uint32_t)(deadline - now) : 0);
        wire_free(&m);
        if (r == -1) break;
        if (r == -3 || r == -2) {
            fprintf(stderr, "fakehcs-service: the service at %s (pid %u) did not stop in time\n", endpoint,
                    (unsigned)pid);
            transport_free(t);
            return 1;
        }
    }
    transport_free(t);
    /* The connection ends when the service exits; its process may still be going away: wait for that too. */
    while (transport_process_alive(pid) && plat_monotonic_ms() < deadline) plat_sleep_ms(10);
    printf("fakehcs-service: the service at %s (pid %u) stopped\n", endpoint, (unsigned)pid);
    return 0;
}

static int do_ping(const char *endpoint)
{
    tconn *t;
    uint32_t pid;
    if (control_connect(endpoint, &t, &pid) != 0) {
        fprintf(stderr, "fakehcs-service: no fake HCS service answers at %s\n", endpoint);
        return 1;
    }
    transport_free(t);
    printf("fakehcs-service: pid %u answers at %s (protocol %u)\n", (unsigned)pid, endpoint, WIRE_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *action = "serve";
    uint32_t timeout_ms = 30000;
    int quiet = 0;
    uint32_t e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--stop") == 0 || strcmp(a, "--ping") == 0) && i + 1 < argc) {
            action = a + 2;
            endpoint = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            timeout_ms = (uint32_t)(atof(argv[++i]) * 1000);
        } else if (strcmp(a, "--exit-with-pid") == 0 && i + 1 < argc) {
            parent_pid = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (a[0] != '-' && !endpoint) {
            endpoint = a;
        } else {
            return usage();
        }
    }
    if (!endpoint || !endpoint[0]) return usage();
    if (strcmp(action, "stop") == 0) return do_stop(endpoint, timeout_ms);
    if (strcmp(action, "ping") == 0) return do_ping(endpoint);

    ML = plat_mutex_create();
    MC = plat_cond_create();
    transport_on_stop_signal(request_stop);
    e = server_start(endpoint, request_stop, quiet);
    if (e) {
        fprintf(stderr, "fakehcs-service: cannot serve at %s: %s\n", endpoint,
                e == ERROR_ALREADY_EXISTS ? "a fake HCS service is already listening there"
                : e == ERROR_BAD_PATHNAME ? "not a valid endpoint (POSIX: a socket path of at most 107 bytes)"
                                          : "the endpoint cannot be created");
        return 2;
    }
    if (parent_pid && plat_thread_start(watchdog_main, NULL) != 0) abort();
    printf("fakehcs-service: listening on %s (pid %u, protocol %u)\n", endpoint, (unsigned)transport_self_pid(),
           WIRE_VERSION);
    fflush(stdout);
    transport_detach_stdout();
    plat_mutex_lock(ML);
    while (!stop_requested) plat_cond_wait(MC, ML, PLAT_INFINITE);
    plat_mutex_unlock(ML);
    if (!quiet) fprintf(stderr, "fakehcs-service[%u]: stopping\n", (unsigned)transport_self_pid());
    server_stop();
    transport_exit(0);
    return 0;
}
