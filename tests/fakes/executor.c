/* executor.c -- a small thread pool: jobs start in submission order; jobs with the same non-zero key never run
 * concurrently and run in submission order ("operations on one system execute in submission order"; callbacks
 * of one handle are delivered one at a time, in order). Jobs with key 0 are unordered. A job may carry a time
 * before which it does not start (the operations' minimum duration): it waits without holding a thread, and
 * later jobs of its key wait behind it. */
#include <stdio.h>
#include <stdlib.h>

#include "fake.h"

typedef struct job {
    uint64_t key;
    uint64_t not_before;   /* plat_monotonic_ms() value; 0: at once */
    void (*fn)(void *);
    void *arg;
    struct job *next;
} job;

#define MAX_BUSY 64

struct executor {
    plat_mutex *m;
    plat_cond *c;
    job *head, *tail;
    int threads, running;
    uint64_t busy[MAX_BUSY];   /* keys of running jobs (0 entries are free) */
};

static int key_busy(executor *ex, uint64_t key)
{
    for (int i = 0; i < ex->threads; i++)
        if (ex->busy[i] == key) return 1;
    return 0;
}

/* Picks the first runnable job: its time has come, its key is not running, and no earlier queued job has the same
 * key. *wake is lowered to the earliest time a waiting job becomes due. */
static job *take_job(executor *ex, uint64_t *wake)
{
    job *prev = NULL;
    uint64_t now = 0;
    for (job *j = ex->head; j; prev = j, j = j->next) {
        int blocked = 0;
        if (j->not_before) {
            if (!now) now = plat_monotonic_ms();
            if (j->not_before > now) {
                if (j->not_before < *wake) *wake = j->not_before;
                continue;
            }
        }
        if (j->key != 0) {
            if (key_busy(ex, j->key)) blocked = 1;
            for (job *k = ex->head; !blocked && k != j; k = k->next)
                if (k->key == j->key) blocked = 1;
        }
        if (blocked) continue;
        if (prev) prev->next = j->next;
        else ex->head = j->next;
        if (ex->tail == j) ex->tail = prev;
        return j;
    }
    return NULL;
}

static void worker_main(void *arg)
{
    executor *ex = arg;
    plat_mutex_lock(ex->m);
    for (;;) {
        uint64_t wake = UINT64_MAX;
        job *j = take_job(ex, &wake);
        int slot = -1;
        if (!j) {
            uint64_t now = wake == UINT64_MAX ? 0 : plat_monotonic_ms();
            plat_cond_wait(ex->c, ex->m, wake == UINT64_MAX ? PLAT_INFINITE
                                         : (uint32_t)(wake > now ? wake - now : 1));
            continue;
        }
        if (j->key) {
            for (int i = 0; i < ex->threads; i++)
                if (ex->busy[i] == 0) { slot = i; break; }
            ex->busy[slot] = j->key;
        }
        ex->running++;
        plat_mutex_unlock(ex->m);
        j->fn(j->arg);
        free(j);
        plat_mutex_lock(ex->m);
        ex->running--;
        if (slot >= 0) ex->busy[slot] = 0;
        plat_cond_broadcast(ex->c);
    }
}

executor *executor_create(int threads)
{
    executor *ex = calloc(1, sizeof *ex);
    if (!ex) abort();
    if (threads > MAX_BUSY) threads = MAX_BUSY;
    ex->m = plat_mutex_create();
    ex->c = plat_cond_create();
    ex->threads = threads;
    for (int i = 0; i < threads; i++)
        if (plat_thread_start(worker_main, ex) != 0) {
            fprintf(stderr, "fakehcs: cannot start a worker thread\n");
            abort();
        }
    return ex;
}

void executor_submit(executor *ex, uint64_t key, void (*fn)(void *), void *arg)
{
    executor_submit_at(ex, key, 0, fn, arg);
}

void executor_submit_at(executor *ex, uint64_t key, uint64_t not_before, void (*fn)(void *), void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->key = key;
    j->not_before = not_before;
    j->fn = fn;
    j->arg = arg;
    plat_mutex_lock(ex->m);
    if (ex->tail) ex->tail->next = j;
    else ex->head = j;
    ex->tail = j;
    plat_cond_broadcast(ex->c);
    plat_mutex_unlock(ex->m);
}

int executor_wait_idle(executor *ex, uint32_t timeout_ms)
{
    uint64_t deadline = plat_monotonic_ms() + timeout_ms;
    int idle;
    plat_mutex_lock(ex->m);
    for (;;) {
        uint64_t now;
        idle = ex->head == NULL && ex->running == 0;
        if (idle) break;
        now = plat_monotonic_ms();
        if (now >= deadline) break;
        plat_cond_wait(ex->c, ex->m, (uint32_t)(deadline - now));
    }
    plat_mutex_unlock(ex->m);
    return idle;
}
