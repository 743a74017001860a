/* c_driver.c -- the physical floor of the HCS callback path: the same calls as the Python benchmarks, from C.
 *
 * Built by benchmarks/_cdriver.py as a shared library linked against the fake HCS .so, and loaded into the
 * benchmark process itself, so the C figures come from the same process, the same loaded fake and the same run as
 * the Python figures they are compared with. Every entry point returns the elapsed time of its measured section in
 * nanoseconds (negative: an HRESULT-ish failure code), and leaves no handle or result string behind.
 */
#include <stdint.h>
#include <uchar.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#define WINAPI
#include "windows_types.h"
#include "computedefs.h"
#include "computecore.h"
#include "kernel32.h"
#include "fakehcs_control.h"

#define INFINITE_MS 0xFFFFFFFFu
#define DRV_API __attribute__((visibility("default")))

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ASCII/UTF-8 without multibyte sequences -> UTF-16 (the driver only builds ids and small documents). */
static char16_t *wide(const char *s)
{
    size_t n = strlen(s);
    char16_t *w = malloc((n + 1) * sizeof *w);
    if (!w) abort();
    for (size_t i = 0; i < n; i++) w[i] = (unsigned char)s[i];
    w[n] = 0;
    return w;
}

/* Waits on c/m until *have >= want; a benchmark that hangs helps nobody, so after 120 s it aborts with a message. */
static void wait_for(pthread_cond_t *c, pthread_mutex_t *m, const int64_t *have, int64_t want, const char *what)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 120;
    pthread_mutex_lock(m);
    while (*have < want) {
        if (pthread_cond_timedwait(c, m, &deadline) != 0 && *have < want) {
            fprintf(stderr, "c_driver: %s: only %lld of %lld callbacks after 120 s\n", what, (long long)*have,
                    (long long)want);
            abort();
        }
    }
    pthread_mutex_unlock(m);
}

static void free_result(PWSTR doc)
{
    if (doc) LocalFree(doc);
}

/* create op -> call -> wait -> free result -> close op */
static HRESULT run_sync(HCS_SYSTEM sys, int what, PCWSTR arg)
{
    HCS_OPERATION op = HcsCreateOperation(NULL, NULL);
    PWSTR doc = NULL;
    HRESULT hr;
    if (!op) return (HRESULT)0x8007000E;
    switch (what) {
    case 0: hr = HcsGetComputeSystemProperties(sys, op, arg); break;
    case 1: hr = HcsStartComputeSystem(sys, op, arg); break;
    default: hr = HcsTerminateComputeSystem(sys, op, arg); break;
    }
    if (hr >= 0) hr = HcsWaitForOperationResult(op, INFINITE_MS, &doc);
    free_result(doc);
    HcsCloseOperation(op);
    return hr;
}

/* ------------------------------------------------------------------ 1. synchronous round trip */

DRV_API int64_t drv_sync(HCS_SYSTEM sys, int64_t n)
{
    int64_t t0 = now_ns();
    for (int64_t i = 0; i < n; i++) {
        HRESULT hr = run_sync(sys, 0, NULL);
        if (hr < 0) return -(int64_t)(uint32_t)hr;
    }
    return now_ns() - t0;
}

/* ------------------------------------------------------------------ 2. asynchronous, k in flight */

typedef struct batch {
    pthread_mutex_t m;
    pthread_cond_t c;
    int64_t done, want;
    int failed;
} batch;

static void WINAPI on_completion(HCS_OPERATION op, void *context)
{
    batch *b = context;
    PWSTR doc = NULL;
    HRESULT hr = HcsGetOperationResult(op, &doc);
    free_result(doc);
    HcsCloseOperation(op);
    pthread_mutex_lock(&b->m);
    if (hr < 0) b->failed = 1;
    if (++b->done == b->want) pthread_cond_signal(&b->c);
    pthread_mutex_unlock(&b->m);
}

DRV_API int64_t drv_async(HCS_SYSTEM sys, int64_t n, int64_t k)
{
    batch b;
    int64_t t0, left = n;
    pthread_mutex_init(&b.m, NULL);
    pthread_cond_init(&b.c, NULL);
    b.failed = 0;
    t0 = now_ns();
    while (left > 0) {
        int64_t this_batch = left < k ? left : k;
        b.done = 0;
        b.want = this_batch;
        for (int64_t i = 0; i < this_batch; i++) {
            HCS_OPERATION op = HcsCreateOperation(&b, on_completion);
            HRESULT hr = HcsGetComputeSystemProperties(sys, op, NULL);
            if (hr < 0) return -(int64_t)(uint32_t)hr;   /* (benchmark driver: no recovery) */
        }
        wait_for(&b.c, &b.m, &b.done, b.want, "drv_async");
        left -= this_batch;
    }
    t0 = now_ns() - t0;
    pthread_mutex_destroy(&b.m);
    pthread_cond_destroy(&b.c);
    return b.failed ? -1 : t0;
}

/* ------------------------------------------------------------------ 3. event delivery */

typedef struct counter {
    pthread_mutex_t m;
    pthread_cond_t c;
    int64_t seen, want, t_last;
    HCS_EVENT_TYPE type;
} counter;

static void WINAPI on_event(HCS_EVENT *event, void *context)
{
    counter *k = context;
    if (event->Type != k->type) return;
    pthread_mutex_lock(&k->m);
    if (++k->seen == k->want) {
        k->t_last = now_ns();
        pthread_cond_signal(&k->c);
    }
    pthread_mutex_unlock(&k->m);
}

static void counter_init(counter *k, int64_t want, HCS_EVENT_TYPE type)
{
    pthread_mutex_init(&k->m, NULL);
    pthread_cond_init(&k->c, NULL);
    k->seen = 0;
    k->want = want;
    k->t_last = 0;
    k->type = type;
}

static void counter_wait(counter *k)
{
    wait_for(&k->c, &k->m, &k->seen, k->want, "events");
}

/* The trigger shared by every variant of the event benchmarks (called from Python too, GIL released): each named
 * system stops by itself (FakeHcsSimulateUnexpectedExit), its processes killed. Returns how many were found. */
DRV_API int64_t drv_trigger_exits(const char *const *ids, int64_t n)
{
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++)
        if (FakeHcsSimulateUnexpectedExit(ids[i], 1) == 0) found++;
    return found;
}

static HRESULT create_started(const char *id, HCS_SYSTEM *out)
{
    static const char doc[] = "{\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"Container\":{}}";
    char16_t *wid = wide(id), *wdoc = wide(doc);
    HCS_OPERATION op = HcsCreateOperation(NULL, NULL);
    PWSTR res = NULL;
    HRESULT hr = HcsCreateComputeSystem(wid, wdoc, op, NULL, out);
    if (hr >= 0) hr = HcsWaitForOperationResult(op, INFINITE_MS, &res);
    free_result(res);
    HcsCloseOperation(op);
    free(wid);
    free(wdoc);
    if (hr >= 0) hr = run_sync(*out, 1, NULL);
    return hr;
}

/* n systems named ids[i] are created and started, each with an event callback; then (timed) every one is made to
 * exit and the n SystemExited callbacks are counted; then every handle is closed. */
DRV_API int64_t drv_system_events(const char *const *ids, int64_t n)
{
    HCS_SYSTEM *systems = calloc((size_t)n, sizeof *systems);
    counter k;
    int64_t t0, result;
    HRESULT hr = 0;
    counter_init(&k, n, HcsEventSystemExited);
    for (int64_t i = 0; i < n && hr >= 0; i++) {
        hr = create_started(ids[i], &systems[i]);
        if (hr >= 0) hr = HcsSetComputeSystemCallback(systems[i], HcsEventOptionNone, &k, on_event);
    }
    if (hr < 0) {
        result = -(int64_t)(uint32_t)hr;
    } else {
        t0 = now_ns();
        drv_trigger_exits(ids, n);
        counter_wait(&k);
        result = k.t_last - t0;
    }
    for (int64_t i = 0; i < n; i++)
        if (systems[i]) HcsCloseComputeSystem(systems[i]);
    free(systems);
    return result;
}

static void close_fd(HANDLE h)
{
    intptr_t fd = (intptr_t)h;
    if (h != NULL && fd != -1) close((int)fd);
}

static HRESULT create_process(HCS_SYSTEM sys, PCWSTR params, HCS_PROCESS *proc, HCS_PROCESS_INFORMATION *info)
{
    HCS_OPERATION op = HcsCreateOperation(NULL, NULL);
    PWSTR res = NULL;
    HRESULT hr;
    memset(info, 0, sizeof *info);
    *proc = NULL;
    hr = HcsCreateProcess(sys, params, op, NULL, proc);
    if (hr >= 0) hr = HcsWaitForOperationResultAndProcessInfo(op, INFINITE_MS, info, &res);
    free_result(res);
    HcsCloseOperation(op);
    return hr;
}

/* System `id` is created and started with n processes running `params` (long-running), each with an event callback;
 * then (timed) the system exits, killing them, and the n ProcessExited callbacks are counted. */
DRV_API int64_t drv_process_events(const char *id, const char16_t *params, int64_t n)
{
    HCS_SYSTEM sys = NULL;
    HCS_PROCESS *procs = calloc((size_t)n, sizeof *procs);
    counter k;
    int64_t t0, result;
    HRESULT hr;
    counter_init(&k, n, HcsEventProcessExited);
    hr = create_started(id, &sys);
    for (int64_t i = 0; i < n && hr >= 0; i++) {
        HCS_PROCESS_INFORMATION info;
        hr = create_process(sys, params, &procs[i], &info);
        close_fd(info.StdInput);
        close_fd(info.StdOutput);
        close_fd(info.StdError);
        if (hr >= 0) hr = HcsSetProcessCallback(procs[i], HcsEventOptionNone, &k, on_event);
    }
    if (hr < 0) {
        result = -(int64_t)(uint32_t)hr;
    } else {
        t0 = now_ns();
        drv_trigger_exits(&id, 1);
        counter_wait(&k);
        result = k.t_last - t0;
    }
    for (int64_t i = 0; i < n; i++)
        if (procs[i]) HcsCloseProcess(procs[i]);
    if (sys) HcsCloseComputeSystem(sys);
    free(procs);
    return result;
}

/* ------------------------------------------------------------------ 4. process create -> read stdout -> wait */

DRV_API int64_t drv_process_round_trip(HCS_SYSTEM sys, const char16_t *params, int64_t n)
{
    char buf[4096];
    int64_t t0 = now_ns();
    for (int64_t i = 0; i < n; i++) {
        HCS_PROCESS proc;
        HCS_PROCESS_INFORMATION info;
        PWSTR status = NULL;
        HRESULT hr = create_process(sys, params, &proc, &info);
        if (hr < 0) return -(int64_t)(uint32_t)hr;
        close_fd(info.StdInput);
        for (;;) {   /* stdout to EOF, then stderr (a short command: no pipe fills up) */
            ssize_t r = read((int)(intptr_t)info.StdOutput, buf, sizeof buf);
            if (r <= 0) break;
        }
        if (info.StdError != NULL && (intptr_t)info.StdError != -1)
            while (read((int)(intptr_t)info.StdError, buf, sizeof buf) > 0) {}
        close_fd(info.StdOutput);
        close_fd(info.StdError);
        hr = HcsWaitForProcessExit(proc, INFINITE_MS, &status);
        free_result(status);
        HcsCloseProcess(proc);
        if (hr < 0) return -(int64_t)(uint32_t)hr;
    }
    return now_ns() - t0;
}
