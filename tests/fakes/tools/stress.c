/* stress.c -- a multi-threaded C driver of the fake HCS, linked directly with its sources and built with
 * -fsanitize=thread or -fsanitize=address,undefined by tests/test_fake_stress.py (not part of libfakehcs.so:
 * build.py only compiles the .c files directly in tests/fakes).
 *
 * Several threads create, start, pause, resume, terminate and close systems, run processes with event callbacks,
 * close operations in flight, simulate unexpected exits, while another thread enumerates and reads counters; it
 * ends with a service disconnect and a reset. Exit status 0 and "leaks=0" when every counter is back to zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define THREADS 5
#define ROUNDS 12

static plat_mutex *stat_lock;
static int events_seen;

static char16_t *W(const char *s) { return utf8_to_utf16(s, NULL); }

static void WINAPI on_event(HCS_EVENT *ev, void *ctx)
{
    (void)ev, (void)ctx;
    plat_mutex_lock(stat_lock);
    events_seen++;
    plat_mutex_unlock(stat_lock);
}

static void WINAPI on_done_close(HCS_OPERATION op, void *ctx)
{
    PWSTR d = NULL;
    (void)ctx;
    HcsGetOperationResult(op, &d);
    LocalFree(d);
    HcsCloseOperation(op);   /* HcsCloseOperation.md: allowed inside the callback */
}

static void WINAPI on_done(HCS_OPERATION op, void *ctx) { (void)op, (void)ctx; }

static HRESULT wait_op(HCS_OPERATION op)
{
    PWSTR d = NULL;
    HRESULT hr = HcsWaitForOperationResult(op, 0xFFFFFFFFu, &d);
    LocalFree(d);
    return hr;
}

static void worker(void *arg)
{
    long n = (long)(intptr_t)arg;
    char16_t *cfg = W("{\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"Container\":{}}");
    char16_t *echo = W("{\"CommandLine\":\"echo x\",\"CreateStdOutPipe\":true}");
    char16_t *sleeper = W("{\"CommandLine\":\"sleep 0.05\"}");
    for (int round = 0; round < ROUNDS; round++) {
        char id[64];
        char16_t *wid;
        HCS_OPERATION op, early;
        HCS_SYSTEM sys = NULL;
        HCS_PROCESS procs[6];
        snprintf(id, sizeof id, "stress-%ld-%d", n, round);
        wid = W(id);
        early = HcsCreateOperation(NULL, on_done);
        if (HcsCreateComputeSystem(wid, cfg, early, NULL, &sys) != 0) {
            fprintf(stderr, "create failed\n");
            exit(2);
        }
        HcsCloseOperation(early);   /* closed in flight: the work continues */
        HcsSetComputeSystemCallback(sys, HcsEventOptionNone, NULL, on_event);
        op = HcsCreateOperation(NULL, NULL);
        HcsStartComputeSystem(sys, op, NULL);
        wait_op(op);
        for (int i = 0; i < 6; i++) {
            HCS_PROCESS_INFORMATION pi;
            PWSTR d = NULL;
            HcsCreateProcess(sys, i % 2 ? echo : sleeper, op, NULL, &procs[i]);
            HcsWaitForOperationResultAndProcessInfo(op, 0xFFFFFFFFu, &pi, &d);
            LocalFree(d);
            HcsSetProcessCallback(procs[i], HcsEventOptionNone, NULL, on_event);
            if (pi.StdOutput) plat_close(plat_handle_to_fd(pi.StdOutput));
        }
        HcsGetComputeSystemProperties(sys, HcsCreateOperation(NULL, on_done_close), NULL);
        HcsPauseComputeSystem(sys, op, NULL);
        wait_op(op);
        HcsResumeComputeSystem(sys, op, NULL);
        wait_op(op);
        if (round % 3 == 0) FakeHcsSimulateUnexpectedExit(id, (int32_t)0x80370106u);
        for (int i = 0; i < 3; i++) {
            PWSTR d = NULL;
            HcsWaitForProcessExit(procs[i], 0xFFFFFFFFu, &d);
            LocalFree(d);
        }
        HcsTerminateComputeSystem(sys, op, NULL);
        wait_op(op);
        for (int i = 0; i < 6; i++) HcsCloseProcess(procs[i]);
        HcsCloseComputeSystem(sys);
        HcsCloseOperation(op);
        free(wid);
    }
    free(cfg);
    free(echo);
    free(sleeper);
}

typedef struct joinable {
    void (*fn)(void *);
    void *arg;
    int done;
    plat_mutex *m;
    plat_cond *c;
} joinable;

static void run_joinable(void *p)
{
    joinable *j = p;
    j->fn(j->arg);
    plat_mutex_lock(j->m);
    j->done = 1;
    plat_cond_broadcast(j->c);
    plat_mutex_unlock(j->m);
}

static void enumerator(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        HCS_OPERATION op = HcsCreateOperation(NULL, NULL);
        FAKEHCS_COUNTERS c;
        HcsEnumerateComputeSystems(NULL, op);
        wait_op(op);
        HcsCloseOperation(op);
        FakeHcsGetCounters(&c);
        plat_sleep_ms(5);
    }
}

static joinable j[THREADS + 1];   /* static: still reachable at exit (not a leak for LeakSanitizer) */

int main(void)
{
    FAKEHCS_COUNTERS c;
    long long leaks;
    stat_lock = plat_mutex_create();
    FakeHcsSetLatency("HcsCreateComputeSystem", 2);
    for (int i = 0; i <= THREADS; i++) {
        j[i].fn = i == THREADS ? enumerator : worker;
        j[i].arg = (void *)(intptr_t)i;
        j[i].done = 0;
        j[i].m = plat_mutex_create();
        j[i].c = plat_cond_create();
        plat_thread_start(run_joinable, &j[i]);
    }
    for (int i = 0; i <= THREADS; i++) {
        plat_mutex_lock(j[i].m);
        while (!j[i].done) plat_cond_wait(j[i].c, j[i].m, PLAT_INFINITE);
        plat_mutex_unlock(j[i].m);
    }
    FakeHcsWaitIdle(10000);
    FakeHcsGetCounters(&c);
    leaks = c.OpenOperations + c.OpenSystemHandles + c.OpenProcessHandles + c.OutstandingStrings + c.LiveSystems +
            c.RunningProcesses;
    printf("events=%d leaks=%lld\n", events_seen, leaks);
    FakeHcsSimulateServiceDisconnect();
    FakeHcsReset();
    return leaks == 0 ? 0 : 1;
}
