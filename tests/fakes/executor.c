/* executor.c -- a small thread pool: jobs start in submission order; jobs with the same non-zero key never run
 * concurrently and run in submission order ("operations on one system execute in submission order"; callbacks
 * of one handle are delivered one at a time, in order). Jobs with key 0 are unordered. A job may carry a time
 * before which it does not start (the operations' minimum duration): it waits without holding a thread, and
 * later jobs of its key wait behind it.
 *
 * Cost: constant work per job whatever the number queued. Only the oldest job of a key is ever a candidate to
 * run (the "active" one: ready, delayed or running); the others wait in their key's queue and cost nothing until
 * it finishes. A submission wakes one idle worker, and only when there is something it can run. (The first
 * version scanned every queued job, and every earlier job of the same key, on each pick, and woke every worker on
 * each submission: with 1,000 operations in flight on one system, the fake's own threads spent most of the
 * benchmark's CPU time scanning and waking, the same for every client; docs/performance.md.)
 *
 * Latency: an idle worker spins for new work for a few tens of microseconds before it sleeps, one worker per pool at
 * a time, yielding the CPU now and then (see SPIN_ITERATIONS). Without it every request-response exchange (a call
 * and its wait, a completion and the next call) woke a sleeping thread, often on a CPU gone idle meanwhile. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake.h"

typedef struct job {
    uint64_t key;
    uint64_t seq;          /* submission order */
    uint64_t not_before;   /* plat_monotonic_ms() value; 0: at once */
    void (*fn)(void *);
    void *arg;
    struct job *next;
} job;

/* A key with an active job, and the later jobs of that key waiting behind it (in submission order). */
typedef struct keyq {
    uint64_t key;
    job *head, *tail;
    struct keyq *next;     /* hash chain */
} keyq;

#define KEY_BUCKETS 1024

struct executor {
    plat_mutex *m;
    plat_cond *work;       /* a job became ready (or due earlier): wakes one idle worker */
    plat_cond *idle_c;     /* nothing ready, delayed or running any more */
    job *ready, *ready_tail;   /* runnable now, oldest submission first */
    job *delayed;              /* waiting for not_before, earliest first */
    keyq *keys[KEY_BUCKETS];
    uint64_t seq;
    int threads, running, waiting;
    int spin;                  /* idle workers spin before they sleep (executor_create) */
    int spinning;              /* a worker is spinning for work (at most one) */
    atomic_int has_ready;      /* ex->ready != NULL, readable without the lock */
};

/* How long an idle worker looks for new work before it sleeps (pause iterations, ~20-60 us on x86-64). A thread
 * pool that parks a worker the moment it runs out of work makes every request-response exchange wake a sleeping
 * thread, on a CPU that may have gone idle meanwhile; thread pools spin briefly before parking for that reason (the
 * Windows thread pool and Go's scheduler both do). One spinner at a time, so an idle pool burns at most one CPU for
 * that long. */
#define SPIN_ITERATIONS 1000
#define SPIN_YIELD_EVERY 64   /* and lets a thread waiting for this CPU run (the client, on a machine with few CPUs) */

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static keyq **key_slot(executor *ex, uint64_t key)
{
    keyq **p = &ex->keys[(key ^ (key >> 17) ^ (key >> 33)) % KEY_BUCKETS];
    while (*p && (*p)->key != key) p = &(*p)->next;
    return p;
}

static void insert_ready(executor *ex, job *j)
{
    j->next = NULL;
    atomic_store_explicit(&ex->has_ready, 1, memory_order_release);
    if (!ex->ready) {
        ex->ready = ex->ready_tail = j;
    } else if (ex->ready_tail->seq < j->seq) {      /* the usual case: the newest submission */
        ex->ready_tail->next = j;
        ex->ready_tail = j;
    } else {                                         /* an older job of a key whose previous job just ended */
        job **p = &ex->ready;
        while ((*p)->seq < j->seq) p = &(*p)->next;
        j->next = *p;
        *p = j;
    }
}

/* The job can start once its time has come: ready now, or delayed until then. Called with the lock held; `wake`:
 * wake an idle worker for it (not needed by a worker about to look for its next job itself). */
static void make_runnable(executor *ex, job *j, int wake)
{
    if (j->not_before && j->not_before > plat_monotonic_ms()) {
        job **p = &ex->delayed;
        while (*p && (*p)->not_before <= j->not_before) p = &(*p)->next;
        j->next = *p;
        *p = j;
        /* A waiting worker may be sleeping until a later time: one wakes and waits again until this one. */
        if (ex->waiting) plat_cond_signal(ex->work);
        return;
    }
    insert_ready(ex, j);
    if (wake && ex->waiting && !ex->spinning) plat_cond_signal(ex->work);
}

static void promote_due(executor *ex)
{
    uint64_t now = 0;
    while (ex->delayed) {
        job *j = ex->delayed;
        if (!now) now = plat_monotonic_ms();
        if (j->not_before > now) break;
        ex->delayed = j->next;
        insert_ready(ex, j);
    }
}

/* A keyed job ended: the next of its key becomes the active one, or the key is forgotten. */
static void key_done(executor *ex, uint64_t key)
{
    keyq **p = key_slot(ex, key);
    keyq *q = *p;
    if (!q) return;
    if (q->head) {
        job *j = q->head;
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        make_runnable(ex, j, 0);   /* this worker looks for its next job right away */
    } else {
        *p = q->next;
        free(q);
    }
}

static void worker_main(void *arg)
{
    executor *ex = arg;
    int spun = 0;
    plat_mutex_lock(ex->m);
    for (;;) {
        job *j;
        promote_due(ex);
        j = ex->ready;
        if (!j && ex->spin && !spun && !ex->spinning) {
            ex->spinning = 1;
            plat_mutex_unlock(ex->m);
            for (int i = 1; i <= SPIN_ITERATIONS && !atomic_load_explicit(&ex->has_ready, memory_order_acquire); i++) {
                if (i % SPIN_YIELD_EVERY == 0) plat_yield();
                else cpu_relax();
            }
            plat_mutex_lock(ex->m);
            ex->spinning = 0;
            spun = 1;
            continue;
        }
        if (!j) {
            uint32_t ms = PLAT_INFINITE;
            if (ex->delayed) {
                uint64_t now = plat_monotonic_ms();
                ms = ex->delayed->not_before > now ? (uint32_t)(ex->delayed->not_before - now) : 1;
            }
            ex->waiting++;
            plat_cond_wait(ex->work, ex->m, ms);
            ex->waiting--;
            spun = 0;
            continue;
        }
        spun = 0;
        ex->ready = j->next;
        if (!ex->ready) {
            ex->ready_tail = NULL;
            atomic_store_explicit(&ex->has_ready, 0, memory_order_relaxed);
        }
        if (ex->ready && ex->waiting) plat_cond_signal(ex->work);   /* more to run: pass the wakeup on */
        ex->running++;
        plat_mutex_unlock(ex->m);
        j->fn(j->arg);
        plat_mutex_lock(ex->m);
        ex->running--;
        if (j->key) key_done(ex, j->key);
        free(j);
        if (!ex->running && !ex->ready && !ex->delayed) plat_cond_broadcast(ex->idle_c);
    }
}

executor *executor_create(int threads, int spin)
{
    executor *ex = calloc(1, sizeof *ex);
    if (!ex) abort();
    ex->spin = spin;
    ex->m = plat_mutex_create();
    ex->work = plat_cond_create();
    ex->idle_c = plat_cond_create();
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
    j->seq = ++ex->seq;
    if (key) {
        keyq **p = key_slot(ex, key);
        if (*p) {                       /* an earlier job of this key is active: wait behind it */
            keyq *q = *p;
            if (q->tail) q->tail->next = j;
            else q->head = j;
            q->tail = j;
            plat_mutex_unlock(ex->m);
            return;
        }
        keyq *q = calloc(1, sizeof *q);
        if (!q) abort();
        q->key = key;
        *p = q;
    }
    make_runnable(ex, j, 1);
    plat_mutex_unlock(ex->m);
}

int executor_wait_idle(executor *ex, uint32_t timeout_ms)
{
    uint64_t deadline = plat_monotonic_ms() + timeout_ms;
    int idle;
    plat_mutex_lock(ex->m);
    for (;;) {
        uint64_t now;
        /* Every queued keyed job waits behind an active one, which is ready, delayed or running. */
        idle = !ex->ready && !ex->delayed && ex->running == 0;
        if (idle) break;
        now = plat_monotonic_ms();
        if (now >= deadline) break;
        plat_cond_wait(ex->idle_c, ex->m, (uint32_t)(deadline - now));
    }
    plat_mutex_unlock(ex->m);
    return idle;
}
