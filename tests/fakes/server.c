/* server.c -- the fake HCS service: one engine (engine.c) serving many client processes, as vmcompute.exe serves
 * every process that loads computecore.dll (wire.h: the protocol; remote.c: the client side; service_main.c: the
 * executable).
 *
 * Threads: an acceptor; per connection a reader (the handshake, then every message of that client) and a writer
 * (its outgoing queue: replies, events, notices, in order); a pool that runs requests -- engine calls may block
 * (waits, shutdown grace periods), so each request runs on a pool thread of its own and replies go back in any
 * order. The engine's event subscription fans every event out to the clients that know the system or process.
 *
 * What the service keeps per client is what real HCS keeps per caller: the handles it holds. Closing the last
 * handle of a system created with ShouldTerminateOnLastHandleClosed terminates it whichever process held it
 * (SchemaReference.md ComputeSystem), and a client that dies has its handles closed for it -- HCS handles are RPC
 * context handles of vmcompute, and "when a connection breaks, the server stub and the run-time library will call
 * [the context run-down routine] on every context handle opened by the client" (learn.microsoft.com, Windows RPC,
 * "Server Context Run-down Routine"). A client can name only uids it obtained: anything else reads as a system that
 * does not exist, so a confused or hostile client cannot touch other clients' systems.
 *
 * A client cannot crash the service: every message is length-checked before it is read, every value before it is
 * used, a malformed request is answered with HCS_E_PROTOCOL_ERROR, a message of an unexpected kind with
 * HCS_E_UNKNOWN_MESSAGE (HCSHResult.md names both for the host/guest protocol; the fake reuses them for its own),
 * and a header that cannot be trusted ends that client's connection only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "server.h"
#include "transport.h"
#include "wire.h"

/* The in-process engine, under its local_ names (engine_local.h). */
#define ENGINE_CALL(op, ret, name, params, format, args, unreachable, service) ret local_engine_##name params;
#define ENGINE_CALL_VOID(op, name, params, format, args, service) void local_engine_##name params;
#include "engine_calls.h"
#undef ENGINE_CALL
#undef ENGINE_CALL_VOID
void local_engine_subscribe(engine_event_sink sink, void *context);
const char *local_engine_last_error(void);
int local_engine_is_disconnected(void);

#define HELLO_TIMEOUT_MS 10000u          /* a client must introduce itself */
#define MAX_INFLIGHT_PER_CLIENT 64       /* then its reader stops reading: back-pressure, not a thread per request */
#define MAX_POOL_THREADS 256
#define MAX_QUEUED_BYTES (64u << 20)     /* a client that stops reading is dropped, it does not hold the others */
#define WAIT_SLICE_MS 200u               /* long waits are sliced so a dead client's waits end */
#define NOTICE_BARRIER_MS 5000u
#define COUNTERS_TIMEOUT_MS 3000u

/* ---------------------------------------------------------------- per-client uids */

typedef struct uentry {
    uint64_t uid;          /* 0: free slot */
    int refs;              /* system handles this client holds (engine_system_release owed at its death) */
    int pending_create;    /* created, creation not completed yet */
    int reserved;          /* a process reserved by process_create, not started or abandoned yet */
    int prefs;             /* process references this client holds (handles, jobs in flight; engine.h) */
} uentry;

typedef struct umap {
    uentry *v;
    size_t cap, n;
} umap;

static uentry *umap_find(umap *m, uint64_t uid, int add)
{
    size_t i;
    if (uid == 0) return NULL;
    if (add && (m->n + 1) * 2 > m->cap) {
        umap bigger = { NULL, m->cap ? m->cap * 2 : 64, 0 };
        bigger.v = calloc(bigger.cap, sizeof *bigger.v);
        if (!bigger.v) abort();
        for (size_t k = 0; k < m->cap; k++)
            if (m->v[k].uid) *umap_find(&bigger, m->v[k].uid, 1) = m->v[k];
        free(m->v);
        *m = bigger;
    }
    if (m->cap == 0) return NULL;
    for (i = (size_t)(uid * 0x9E3779B97F4A7C15ull) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->v[i].uid == uid) return &m->v[i];
        if (m->v[i].uid == 0) {
            if (!add) return NULL;
            m->v[i].uid = uid;
            m->n++;
            return &m->v[i];
        }
    }
}

/* ---------------------------------------------------------------- connections */

typedef struct outmsg {
    wire_msg m;
    struct outmsg *next;
} outmsg;

typedef struct conn {
    tconn *t;
    uint32_t pid;
    int control;           /* a control connection: no events, notices or counter queries */
    plat_mutex *lock;      /* guards everything below */
    plat_cond *cond;
    int dead;              /* the client is gone: nothing more is sent, its requests end */
    int writer_running, sending;
    int inflight;          /* requests being run */
    outmsg *head, *tail;
    size_t queued;
    umap uids;
    /* guarded by SL: */
    int listed;            /* in the conns list (welcomed, not yet cleaned up) */
    uint64_t acked;        /* last NOTICE acknowledged */
    uint64_t query;        /* the COUNTERS_QUERY it owes an answer to */
    int answered;
    int64_t answer[WIRE_CLIENT_COUNTERS];
    struct conn *next;
} conn;

static plat_mutex *SL;      /* the service: conns, notices, control shadow, queries */
static plat_cond *SC;
static conn *conns;
static uint64_t notice_seq, query_seq;
static plat_mutex *QL;      /* one counters query at a time */
static uint64_t instance;
static int quiet;

/* What the clients mirror (NOTICE): which functions have faults armed, the latencies (FakeHcsSetLatency). The
 * authoritative tables are control.c's, in this process. */
typedef struct named { char *function; uint32_t value; } named;
static named *fault_shadow, *latency_shadow;
static size_t nfault_shadow, nlatency_shadow;
static uint32_t latency_all_shadow;

static void svc_log(const char *fmt, ...)
{
    va_list ap;
    if (quiet) return;
    va_start(ap, fmt);
    fprintf(stderr, "fakehcs-service[%u]: ", (unsigned)transport_self_pid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

/* Queues a message for the client (takes m). Dropped when the client is gone. */
static void enqueue(conn *c, wire_msg *m)
{
    outmsg *o;
    plat_mutex_lock(c->lock);
    if (c->dead) {
        plat_mutex_unlock(c->lock);
        wire_free(m);
        return;
    }
    o = calloc(1, sizeof *o);
    if (!o) abort();
    wire_move(&o->m, m);
    if (c->tail) c->tail->next = o;
    else c->head = o;
    c->tail = o;
    c->queued += o->m.len + WIRE_HEADER_SIZE;
    if (c->queued > MAX_QUEUED_BYTES) {
        /* It stopped reading: drop it (its reader then cleans up, as for a client that died). */
        c->dead = 1;
        transport_shutdown(c->t);
        svc_log("client pid %u stopped reading (%zu bytes queued): disconnected", (unsigned)c->pid, c->queued);
    }
    plat_cond_broadcast(c->cond);
    plat_mutex_unlock(c->lock);
}

/* A reply is sent by the thread that made it when nothing is queued or being sent before it (one thread hand-off
 * less per request); otherwise it is queued behind the rest, which keeps events and replies in order. */
static void send_reply(conn *c, wire_msg *m)
{
    plat_mutex_lock(c->lock);
    if (c->dead || c->head || c->sending) {
        plat_mutex_unlock(c->lock);
        enqueue(c, m);
        return;
    }
    c->sending = 1;
    plat_mutex_unlock(c->lock);
    if (transport_send(c->t, m) != 0) transport_shutdown(c->t);   /* its reader sees the end */
    wire_free(m);
    plat_mutex_lock(c->lock);
    c->sending = 0;
    plat_cond_broadcast(c->cond);
    plat_mutex_unlock(c->lock);
}

static void writer_main(void *arg)
{
    conn *c = arg;
    plat_mutex_lock(c->lock);
    for (;;) {
        outmsg *o;
        while ((!c->head || c->sending) && !c->dead) plat_cond_wait(c->cond, c->lock, PLAT_INFINITE);
        if (c->dead) break;
        o = c->head;
        c->head = o->next;
        if (!c->head) c->tail = NULL;
        c->queued -= o->m.len + WIRE_HEADER_SIZE;
        c->sending = 1;
        plat_mutex_unlock(c->lock);
        if (transport_send(c->t, &o->m) != 0) transport_shutdown(c->t);   /* its reader sees the end */
        wire_free(&o->m);
        free(o);
        plat_mutex_lock(c->lock);
        c->sending = 0;
        plat_cond_broadcast(c->cond);
    }
    while (c->head) {
        outmsg *o = c->head;
        c->head = o->next;
        wire_free(&o->m);
        free(o);
    }
    c->tail = NULL;
    c->writer_running = 0;
    plat_cond_broadcast(c->cond);
    plat_mutex_unlock(c->lock);
}

static int conn_dead(conn *c)
{
    int d;
    plat_mutex_lock(c->lock);
    d = c->dead;
    plat_mutex_unlock(c->lock);
    return d;
}

/* ---------------------------------------------------------------- notices (control state) */

static void put_state(wire_msg *m)   /* SL held */
{
    uint32_t armed = 0;
    for (size_t i = 0; i < nfault_shadow; i++) armed += fault_shadow[i].value > 0;
    wire_put_u32(m, (uint32_t)local_engine_is_disconnected());
    wire_put_u32(m, armed);
    wire_put_u32(m, latency_all_shadow);
    wire_put_u32(m, (uint32_t)nlatency_shadow);
    for (size_t i = 0; i < nlatency_shadow; i++) {
        wire_put_str(m, latency_shadow[i].function);
        wire_put_u32(m, latency_shadow[i].value);
    }
}

/* Announces the control state to every client; with `barrier`, returns once each has applied it (or died, or 5 s
 * passed), so that a control call made in one process is in effect in all of them when it returns. `origin` does
 * not get WIRE_NOTICE_DISCONNECT: it delivers its own ServiceDisconnect events (control.c). */
static void announce(conn *origin, uint32_t flags, int barrier)
{
    uint64_t seq, deadline;
    plat_mutex_lock(SL);
    seq = ++notice_seq;
    for (conn *c = conns; c; c = c->next) {
        wire_msg m;
        if (c->control) continue;
        wire_init(&m, WIRE_NOTICE, 0);
        wire_put_u64(&m, seq);
        wire_put_u32(&m, c == origin ? flags & ~WIRE_NOTICE_DISCONNECT : flags);
        put_state(&m);
        enqueue(c, &m);
    }
    deadline = plat_monotonic_ms() + NOTICE_BARRIER_MS;
    while (barrier) {
        int waiting = 0;
        uint64_t now = plat_monotonic_ms();
        for (conn *c = conns; c; c = c->next)
            if (!c->control && c->acked < seq && !conn_dead(c)) waiting = 1;
        if (!waiting || now >= deadline) break;
        plat_cond_wait(SC, SL, (uint32_t)(deadline - now < 50 ? deadline - now : 50));
    }
    plat_mutex_unlock(SL);
}

static void shadow_set(named **v, size_t *n, const char *function, uint32_t value)   /* SL held */
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].function, function) == 0) {
            (*v)[i].value = value;
            return;
        }
    {
        named *grown = realloc(*v, (*n + 1) * sizeof **v);
        if (!grown) abort();
        *v = grown;
        (*v)[*n].function = malloc(strlen(function) + 1);
        if (!(*v)[*n].function) abort();
        strcpy((*v)[*n].function, function);
        (*v)[*n].value = value;
        (*n)++;
    }
}

static void shadow_clear(named **v, size_t *n)   /* SL held */
{
    for (size_t i = 0; i < *n; i++) free((*v)[i].function);
    free(*v);
    *v = NULL;
    *n = 0;
}

/* ---------------------------------------------------------------- the engine calls with bookkeeping */

typedef union warg {
    char *s;
    uint64_t u;
    uint32_t w;
    int32_t i;
    int n;
    int64_t l;
    engine_stdio io;
} warg;

#define MAX_ARGS 10

static int32_t svc_system_create(conn *c, const char *ns, const char *id, const char *config, uint64_t *uid)
{
    int32_t hr = local_engine_system_create(ns, id, config, uid);
    if (hr == 0) {
        uentry *e;
        plat_mutex_lock(c->lock);
        e = umap_find(&c->uids, *uid, 1);
        e->refs++;
        e->pending_create = 1;
        plat_mutex_unlock(c->lock);
    }
    return hr;
}

static int32_t svc_system_complete_create(conn *c, uint64_t uid, int32_t failure)
{
    uentry *e;
    int mine;
    plat_mutex_lock(c->lock);
    e = umap_find(&c->uids, uid, 0);
    mine = e && e->pending_create;
    if (mine) e->pending_create = 0;
    plat_mutex_unlock(c->lock);
    /* Only the creator completes a creation, once: a failure would forget the system. */
    return local_engine_system_complete_create(mine ? uid : 0, failure);
}

static int32_t svc_system_open(conn *c, const char *ns, const char *id, uint64_t *uid)
{
    int32_t hr = local_engine_system_open(ns, id, uid);
    if (hr == 0) {
        plat_mutex_lock(c->lock);
        umap_find(&c->uids, *uid, 1)->refs++;
        plat_mutex_unlock(c->lock);
    }
    return hr;
}

static void svc_system_release(conn *c, uint64_t uid)
{
    uentry *e;
    int held;
    plat_mutex_lock(c->lock);
    e = umap_find(&c->uids, uid, 0);
    held = e && e->refs > 0;
    if (held) e->refs--;
    plat_mutex_unlock(c->lock);
    /* A client closes only the handles it holds. */
    if (held) local_engine_system_release(uid);
}

static void add_process_ref(conn *c, uint64_t puid, int reserved)
{
    uentry *e;
    plat_mutex_lock(c->lock);
    e = umap_find(&c->uids, puid, 1);
    e->prefs++;
    if (reserved) e->reserved = 1;
    plat_mutex_unlock(c->lock);
}

/* engine.h: a reservation holds one process reference (the creator's handle), an open adds one, a retain adds one
 * (a job in flight); the service owes a dead client's references to the engine, as it owes its system handles. */
static int32_t svc_process_create(conn *c, uint64_t sys_uid, const char *parameters, uint64_t *puid)
{
    int32_t hr = local_engine_process_create(sys_uid, parameters, puid);
    if (hr == 0) add_process_ref(c, *puid, 1);
    return hr;
}

static int32_t svc_process_open(conn *c, uint64_t sys_uid, uint32_t pid, uint64_t *puid)
{
    int32_t hr = local_engine_process_open(sys_uid, pid, puid);
    if (hr == 0) add_process_ref(c, *puid, 0);
    return hr;
}

static int32_t svc_process_retain(conn *c, uint64_t puid)
{
    int32_t hr = local_engine_process_retain(puid);
    if (hr == 0) add_process_ref(c, puid, 0);
    return hr;
}

static void svc_process_release(conn *c, uint64_t puid)
{
    uentry *e;
    int held;
    plat_mutex_lock(c->lock);
    e = umap_find(&c->uids, puid, 0);
    held = e && e->prefs > 0;
    if (held) e->prefs--;
    plat_mutex_unlock(c->lock);
    /* A client drops only the references it holds. */
    if (held) local_engine_process_release(puid);
}

static int reserved_once(conn *c, uint64_t puid)
{
    uentry *e;
    int was;
    plat_mutex_lock(c->lock);
    e = umap_find(&c->uids, puid, 0);
    was = e && e->reserved;
    if (was) e->reserved = 0;
    plat_mutex_unlock(c->lock);
    return was;
}

static int32_t svc_process_start(conn *c, uint64_t puid, engine_stdio *io)
{
    reserved_once(c, puid);
    return local_engine_process_start(puid, io);
}

static void svc_process_abandon(conn *c, uint64_t puid)
{
    if (reserved_once(c, puid)) local_engine_process_abandon(puid);
}

/* Waits in slices, so that the wait of a client that died ends within a slice instead of holding a thread. */
static int32_t sliced_wait(conn *c, int32_t (*wait)(uint64_t, uint32_t, char **), uint64_t uid, uint32_t timeout_ms,
                           char **result)
{
    uint64_t deadline = plat_monotonic_ms() + (timeout_ms == PLAT_INFINITE ? 0 : timeout_ms);
    for (;;) {
        uint32_t slice = WAIT_SLICE_MS;
        int last = 0;
        int32_t hr;
        if (timeout_ms != PLAT_INFINITE) {
            uint64_t now = plat_monotonic_ms();
            uint64_t left = now < deadline ? deadline - now : 0;
            if (left <= WAIT_SLICE_MS) {
                slice = (uint32_t)left;
                last = 1;
            }
        }
        hr = wait(uid, slice, result);
        if (hr != HCS_E_OPERATION_TIMEOUT || last || conn_dead(c)) return hr;
    }
}

static int32_t svc_system_wait_exit(conn *c, uint64_t uid, uint32_t timeout_ms, char **result)
{
    return sliced_wait(c, local_engine_system_wait_exit, uid, timeout_ms, result);
}

static int32_t svc_process_wait_exit(conn *c, uint64_t puid, uint32_t timeout_ms, char **result)
{
    return sliced_wait(c, local_engine_process_wait_exit, puid, timeout_ms, result);
}

static void svc_set_disconnected(conn *c, int value)
{
    local_engine_set_disconnected(value);
    /* FakeHcsSimulateServiceDisconnect: every other client delivers ServiceDisconnect and fails its operations. */
    announce(c, value ? WIRE_NOTICE_DISCONNECT : 0, 1);
}

static void svc_reset(conn *c)
{
    (void)c;
    /* The whole service: processes, systems, faults, latency, disconnect (control.c, with the engine in process). */
    FakeHcsReset();
    plat_mutex_lock(SL);
    shadow_clear(&fault_shadow, &nfault_shadow);
    shadow_clear(&latency_shadow, &nlatency_shadow);
    latency_all_shadow = 0;
    plat_mutex_unlock(SL);
    announce(NULL, 0, 1);
}

/* ---------------------------------------------------------------- service control */

static int svc_fault_take(const char *function, int *hr, int *sync)
{
    int32_t h = 0;
    int s = 0, hit = fault_take(function, &h, &s), disarmed = 0;
    *hr = (int)h;
    *sync = s;
    if (hit) {
        plat_mutex_lock(SL);
        for (size_t i = 0; i < nfault_shadow; i++)
            if (strcmp(fault_shadow[i].function, function) == 0 && fault_shadow[i].value > 0)
                disarmed = --fault_shadow[i].value == 0;
        plat_mutex_unlock(SL);
        /* The last fault of a function was taken: clients stop asking (no barrier: asking once more is harmless). */
        if (disarmed) announce(NULL, 0, 0);
    }
    return hit;
}

static int svc_inject_fault(conn *c, const char *function, int32_t hr, uint32_t count, uint32_t flags)
{
    int r = FakeHcsInjectFault(function, hr, count, flags);
    (void)c;
    if (r == 0) {
        plat_mutex_lock(SL);
        shadow_set(&fault_shadow, &nfault_shadow, function, count);
        plat_mutex_unlock(SL);
        announce(NULL, 0, 1);
    }
    return r;
}

static int svc_set_latency(conn *c, const char *function, uint32_t ms)
{
    int r = FakeHcsSetLatency(function, ms);
    (void)c;
    if (r == 0) {
        plat_mutex_lock(SL);
        if (strcmp(function, "*") == 0) latency_all_shadow = ms;
        else shadow_set(&latency_shadow, &nlatency_shadow, function, ms);
        plat_mutex_unlock(SL);
        announce(NULL, 0, 1);
    }
    return r;
}

/* Asks the clients with process id `pid` (0: every client) for their counters and sums them into v (the client
 * part of FAKEHCS_COUNTERS). Returns how many answered. */
static int gather_counters(uint32_t pid, int64_t v[WIRE_CLIENT_COUNTERS])
{
    uint64_t q, deadline;
    int asked = 0, answered = 0;
    memset(v, 0, sizeof(int64_t) * WIRE_CLIENT_COUNTERS);
    plat_mutex_lock(QL);
    plat_mutex_lock(SL);
    q = ++query_seq;
    for (conn *c = conns; c; c = c->next) {
        wire_msg m;
        if (c->control || (pid && c->pid != pid)) continue;
        c->query = q;
        c->answered = 0;
        wire_init(&m, WIRE_COUNTERS_QUERY, q);
        enqueue(c, &m);
        asked++;
    }
    deadline = plat_monotonic_ms() + COUNTERS_TIMEOUT_MS;
    for (;;) {
        int waiting = 0;
        uint64_t now = plat_monotonic_ms();
        for (conn *c = conns; c; c = c->next)
            if (c->query == q && !c->answered && !conn_dead(c)) waiting = 1;
        if (!waiting || now >= deadline) break;
        plat_cond_wait(SC, SL, (uint32_t)(deadline - now < 50 ? deadline - now : 50));
    }
    for (conn *c = conns; c; c = c->next)
        if (c->query == q && c->answered) {
            for (int i = 0; i < WIRE_CLIENT_COUNTERS; i++) v[i] += c->answer[i];
            answered++;
        }
    plat_mutex_unlock(SL);
    plat_mutex_unlock(QL);
    (void)asked;
    return answered;
}

static int svc_counters(uint32_t pid, int64_t *out[8])
{
    int64_t v[WIRE_CLIENT_COUNTERS], live = 0, running = 0;
    int answered = gather_counters(pid, v);
    local_engine_counts(&live, &running);
    *out[0] = v[0];
    *out[1] = v[1];
    *out[2] = v[2];
    *out[3] = v[3];
    *out[4] = live;
    *out[5] = running;
    *out[6] = v[4];
    *out[7] = v[5];
    return answered;
}

static char *svc_list_clients(void)
{
    json_writer w;
    jw_init(&w);
    jw_arr_begin(&w);
    plat_mutex_lock(SL);
    for (conn *c = conns; c; c = c->next)
        if (!c->control && !conn_dead(c)) jw_uint(&w, c->pid);
    plat_mutex_unlock(SL);
    jw_arr_end(&w);
    return jw_finish(&w);
}

static void (*stop_hook)(void);

/* ---------------------------------------------------------------- requests */

/* Decodes the inputs of `format` into a[]; 'U' inputs the client does not know become 0 (no such system). */
static int decode_inputs(conn *c, wire_msg *m, const char *format, warg *a)
{
    int k = 0;
    const char *f;
    memset(a, 0, sizeof(warg) * MAX_ARGS);
    for (f = format; *f && *f != '>'; f++, k++) {
        switch (*f) {
        case 's': a[k].s = wire_get_str(m); break;
        case 't':
            a[k].s = wire_get_str(m);
            if (!a[k].s) m->bad = 1;   /* the engine needs this string */
            break;
        case 'u': a[k].w = wire_get_u32(m); break;
        case 'i': a[k].i = wire_get_i32(m); break;
        case 'U': {
            uint64_t uid = wire_get_u64(m);
            plat_mutex_lock(c->lock);
            a[k].u = umap_find(&c->uids, uid, 0) ? uid : 0;
            plat_mutex_unlock(c->lock);
            break;
        }
        default: abort();
        }
    }
    if (*f == '>')
        for (f++; *f; f++, k++)
            if (*f == 'F') a[k].io.in = a[k].io.out = a[k].io.err = PLAT_NO_FD;
    return wire_complete(m) ? 0 : -1;
}

/* Encodes the outputs into the reply, records the uids the client now knows, frees what a[] owns. */
static void encode_outputs(conn *c, wire_msg *rep, const char *format, warg *a)
{
    int k = 0;
    const char *f = format;
    while (*f && *f != '>') {
        if (*f == 's' || *f == 't') free(a[k].s);
        f++, k++;
    }
    if (!*f) return;
    for (f++; *f; f++, k++) {
        switch (*f) {
        case 'U':
            wire_put_u64(rep, a[k].u);
            if (a[k].u) {
                plat_mutex_lock(c->lock);
                umap_find(&c->uids, a[k].u, 1);
                plat_mutex_unlock(c->lock);
            }
            break;
        case 'S':
            wire_put_str(rep, a[k].s);
            free(a[k].s);
            break;
        case 'n': wire_put_i32(rep, a[k].n); break;
        case 'L': wire_put_i64(rep, a[k].l); break;
        case 'F': {
            plat_fd fds[3] = { a[k].io.in, a[k].io.out, a[k].io.err };
            uint8_t present = 0;
            uint64_t values[3];
            wire_put_u32(rep, a[k].io.pid);
            for (int i = 0; i < 3; i++) {
                values[i] = fds[i] == PLAT_NO_FD ? UINT64_MAX : transport_export_handle(c->t, rep, fds[i]);
                if (values[i] != UINT64_MAX) present |= (uint8_t)(1u << i);
            }
            wire_put_u8(rep, present);
            for (int i = 0; i < 3; i++)
                if (present & (1u << i)) wire_put_u64(rep, values[i]);
            break;
        }
        default: abort();
        }
    }
}

static void free_inputs(const char *format, warg *a)
{
    int k = 0;
    for (const char *f = format; *f && *f != '>'; f++, k++)
        if (*f == 's' || *f == 't') free(a[k].s);
}

/* The accessors of engine_calls.h's service column. */
#define S(k) (a[k].s)
#define U(k) (a[k].u)
#define W(k) (a[k].w)
#define I(k) (a[k].i)
#define OUT_U(k) (&a[k].u)
#define OUT_S(k) (&a[k].s)
#define OUT_N(k) (&a[k].n)
#define OUT_L(k) (&a[k].l)
#define OUT_F(k) (&a[k].io)

static void run_request(conn *c, wire_msg *req)
{
    warg a[MAX_ARGS];
    wire_msg rep;
    const char *format = NULL;
    int64_t ret = 0;
    int32_t failed = 0;
    const char *why = "";
    uint16_t op = wire_get_u16(req);
    int stop = 0;
    wire_get_u16(req);
    wire_init(&rep, WIRE_REPLY, req->id);
    if (req->bad) {
        failed = HCS_E_PROTOCOL_ERROR;
        why = "The request has no operation";
        goto reply;
    }
    switch (op) {
#define ENGINE_CALL(op_, ret_, name, params, format_, args, unreachable, service)                                     \
    case op_:                                                                                                        \
        format = format_;                                                                                            \
        if (decode_inputs(c, req, format, a) != 0) goto malformed;                                                   \
        ret = (int64_t)(service);                                                                                    \
        break;
#define ENGINE_CALL_VOID(op_, name, params, format_, args, service)                                                   \
    case op_:                                                                                                        \
        format = format_;                                                                                            \
        if (decode_inputs(c, req, format, a) != 0) goto malformed;                                                   \
        service;                                                                                                     \
        break;
#include "engine_calls.h"
#undef ENGINE_CALL
#undef ENGINE_CALL_VOID
    case WIRE_OP_FAULT_TAKE:
        format = WIRE_FMT_FAULT_TAKE;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        ret = svc_fault_take(S(0), OUT_N(1), OUT_N(2));
        break;
    case WIRE_OP_INJECT_FAULT:
        format = WIRE_FMT_INJECT_FAULT;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        ret = svc_inject_fault(c, S(0), I(1), W(2), W(3));
        break;
    case WIRE_OP_SET_LATENCY:
        format = WIRE_FMT_SET_LATENCY;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        ret = svc_set_latency(c, S(0), W(1));
        break;
    case WIRE_OP_GLOBAL_COUNTERS:
    case WIRE_OP_CLIENT_COUNTERS: {
        int64_t *out[8];
        int answered;
        format = op == WIRE_OP_GLOBAL_COUNTERS ? WIRE_FMT_GLOBAL_COUNTERS : WIRE_FMT_CLIENT_COUNTERS;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        for (int i = 0; i < 8; i++) out[i] = &a[i + (op == WIRE_OP_CLIENT_COUNTERS)].l;
        answered = svc_counters(op == WIRE_OP_CLIENT_COUNTERS ? W(0) : 0, out);
        ret = op == WIRE_OP_CLIENT_COUNTERS && answered == 0 ? -1 : 0;
        break;
    }
    case WIRE_OP_LIST_CLIENTS:
        format = WIRE_FMT_LIST_CLIENTS;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        a[0].s = svc_list_clients();
        break;
    case WIRE_OP_STOP:
        format = WIRE_FMT_STOP;
        if (decode_inputs(c, req, format, a) != 0) goto malformed;
        stop = 1;
        break;
    default:
        failed = HCS_E_UNKNOWN_MESSAGE;
        why = "Unknown request operation";
        goto reply;
    }
    wire_put_i32(&rep, 0);
    /* The engine's message for a failed call (engine_last_error on the client); nothing for successes. */
    wire_put_str(&rep, (int32_t)ret < 0 ? local_engine_last_error() : "");
    wire_put_i64(&rep, ret);
    encode_outputs(c, &rep, format, a);
    send_reply(c, &rep);
    if (stop && stop_hook) stop_hook();
    return;
malformed:
    free_inputs(format, a);
    failed = HCS_E_PROTOCOL_ERROR;
    why = "Malformed request arguments";
reply:
    wire_free(&rep);
    wire_init(&rep, WIRE_REPLY, req->id);
    wire_put_i32(&rep, failed);
    wire_put_str(&rep, why);
    send_reply(c, &rep);
}

/* Requests that never wait run on the client's reader thread itself, saving a hand-off to the pool. Not these:
 * waits, state changes (a shutdown's grace period), releases (a last handle terminates), process start (a child
 * must be forked by a pool thread: on Linux it dies with the thread that forked it, and pool threads live as long
 * as the service, while a reader ends with its client), and control calls that wait for the clients. */
static int runs_inline(const wire_msg *m)
{
    static const uint16_t quick[] = { 1, 2, 3, 5, 7, 8, 10, 11, 14, 15, 19, 21, 22, 23, 28, 29, WIRE_OP_FAULT_TAKE };
    uint16_t op;
    if (m->len < 2) return 1;   /* malformed: answered at once */
    op = (uint16_t)(m->data[0] | m->data[1] << 8);
    for (size_t i = 0; i < sizeof quick / sizeof quick[0]; i++)
        if (quick[i] == op) return 1;
    return 0;
}

/* ---------------------------------------------------------------- the request pool */

typedef struct job {
    conn *c;
    wire_msg m;
    struct job *next;
} job;

static plat_mutex *PL;
static plat_cond *PC;
static job *jhead, *jtail;
static int pool_threads, pool_idle, pool_queued;

static void pool_main(void *arg)
{
    (void)arg;
    plat_mutex_lock(PL);
    for (;;) {
        job *j;
        while (!jhead) {
            pool_idle++;
            plat_cond_wait(PC, PL, PLAT_INFINITE);
            pool_idle--;
        }
        j = jhead;
        jhead = j->next;
        if (!jhead) jtail = NULL;
        pool_queued--;
        plat_mutex_unlock(PL);
        run_request(j->c, &j->m);
        wire_free(&j->m);
        plat_mutex_lock(j->c->lock);
        j->c->inflight--;
        plat_cond_broadcast(j->c->cond);
        plat_mutex_unlock(j->c->lock);
        free(j);
        plat_mutex_lock(PL);
    }
}

static void submit(conn *c, wire_msg *m)
{
    job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->c = c;
    wire_move(&j->m, m);
    plat_mutex_lock(PL);
    if (jtail) jtail->next = j;
    else jhead = j;
    jtail = j;
    pool_queued++;
    /* A request may block for long (a wait): every queued one needs a thread of its own, not just "some thread
     * is idle" -- an idle thread already woken for an earlier request is not free. A thread stays for good once
     * started: processes are spawned by these threads, and on Linux a child started with PR_SET_PDEATHSIG dies
     * when the thread that forked it exits (platform_posix.c). */
    if (pool_queued > pool_idle && pool_threads < MAX_POOL_THREADS) {
        if (plat_thread_start(pool_main, NULL) != 0) abort();
        pool_threads++;
    }
    plat_cond_broadcast(PC);
    plat_mutex_unlock(PL);
}

/* ---------------------------------------------------------------- one client */

static void refuse(tconn *t, int32_t hr, const char *why)
{
    wire_msg m;
    wire_init(&m, WIRE_REFUSED, 0);
    wire_put_i32(&m, hr);
    wire_put_str(&m, why);
    transport_send(t, &m);
    wire_free(&m);
}

/* The client is gone: what it held is released, as the RPC run-down of its context handles would. */
static void clean_up(conn *c)
{
    int released = 0, completed = 0, abandoned = 0;
    uentry *v;
    size_t cap;
    plat_mutex_lock(c->lock);
    v = c->uids.v;
    cap = c->uids.cap;
    c->uids.v = NULL;
    c->uids.cap = c->uids.n = 0;
    plat_mutex_unlock(c->lock);
    for (size_t i = 0; i < cap; i++) {
        /* A creation it started completes (the service finishes work it accepted); then its handle closes. */
        if (v[i].uid && v[i].pending_create) {
            local_engine_system_complete_create(v[i].uid, 0);
            completed++;
        }
        if (v[i].uid && v[i].reserved) {
            local_engine_process_abandon(v[i].uid);
            abandoned++;
        }
    }
    for (size_t i = 0; i < cap; i++)
        for (; v[i].uid && v[i].prefs > 0; v[i].prefs--) local_engine_process_release(v[i].uid);
    for (size_t i = 0; i < cap; i++)
        for (; v[i].uid && v[i].refs > 0; v[i].refs--) {
            local_engine_system_release(v[i].uid);
            released++;
        }
    free(v);
    if (released || completed || abandoned)
        svc_log("client pid %u gone: closed %d system handle(s) it held%s", (unsigned)c->pid, released,
                completed ? " (and completed its creations in flight)" : "");
}

static void conn_main(void *arg)
{
    conn *c = arg;
    wire_msg m;
    uint32_t magic, flags, pid;
    uint16_t vmin, vmax;
    int r = transport_recv(c->t, &m, HELLO_TIMEOUT_MS);
    if (r != 0 || m.kind != WIRE_HELLO) {
        if (r == 0) refuse(c->t, HCS_E_PROTOCOL_ERROR, "The first message must be HELLO");
        svc_log("a connection did not start with HELLO (%s): closed", r == -3 ? "timeout" : r == 0 ? "wrong kind" :
                                                                                r == -2 ? "bad header" : "closed");
        goto free_conn;
    }
    magic = wire_get_u32(&m);
    vmin = wire_get_u16(&m);
    vmax = wire_get_u16(&m);
    pid = wire_get_u32(&m);
    flags = wire_get_u32(&m);
    if (!wire_complete(&m) || magic != WIRE_MAGIC) {
        refuse(c->t, HCS_E_PROTOCOL_ERROR, "Malformed HELLO");
        svc_log("a connection sent a malformed HELLO: closed");
        goto free_conn;
    }
    if (vmin > WIRE_VERSION || vmax < WIRE_VERSION) {
        /* HCSHResult.md: HCS_E_UNSUPPORTED_PROTOCOL_VERSION (the host/guest protocol's; reused here) */
        refuse(c->t, HCS_E_UNSUPPORTED_PROTOCOL_VERSION, "The fake HCS service speaks protocol version 1 only");
        svc_log("client pid %u asked for protocol versions %u..%u: refused", (unsigned)pid, vmin, vmax);
        goto free_conn;
    }
    wire_free(&m);
    transport_set_peer(c->t, pid);
    c->pid = transport_peer_pid(c->t) ? transport_peer_pid(c->t) : pid;
    c->control = (flags & WIRE_HELLO_CONTROL) != 0;
    c->writer_running = 1;
    if (plat_thread_start(writer_main, c) != 0) abort();
    {
        wire_msg w;
        wire_init(&w, WIRE_WELCOME, 0);
        wire_put_u32(&w, WIRE_MAGIC);
        wire_put_u16(&w, (uint16_t)WIRE_VERSION);
        wire_put_u16(&w, 0);
        wire_put_u32(&w, transport_self_pid());
        wire_put_u64(&w, instance);
        /* Welcomed and listed at once: every later notice reaches it. */
        plat_mutex_lock(SL);
        put_state(&w);
        enqueue(c, &w);
        c->listed = 1;
        c->acked = notice_seq;
        c->next = conns;
        conns = c;
        plat_mutex_unlock(SL);
    }
    if (!c->control) svc_log("client pid %u connected", (unsigned)c->pid);

    for (;;) {
        r = transport_recv(c->t, &m, PLAT_INFINITE);
        if (r == -2) svc_log("client pid %u broke the protocol (header): disconnected", (unsigned)c->pid);
        if (r != 0) {
            wire_free(&m);
            break;
        }
        switch (m.kind) {
        case WIRE_REQUEST:
            if (runs_inline(&m)) {
                run_request(c, &m);
                break;
            }
            plat_mutex_lock(c->lock);
            while (c->inflight >= MAX_INFLIGHT_PER_CLIENT && !c->dead) plat_cond_wait(c->cond, c->lock, PLAT_INFINITE);
            c->inflight++;
            plat_mutex_unlock(c->lock);
            submit(c, &m);
            break;
        case WIRE_NOTICE_ACK: {
            uint64_t seq = wire_get_u64(&m);
            if (!wire_complete(&m)) break;
            plat_mutex_lock(SL);
            if (seq > c->acked && seq <= notice_seq) c->acked = seq;
            plat_cond_broadcast(SC);
            plat_mutex_unlock(SL);
            break;
        }
        case WIRE_COUNTERS: {
            int64_t v[WIRE_CLIENT_COUNTERS];
            for (int i = 0; i < WIRE_CLIENT_COUNTERS; i++) v[i] = wire_get_i64(&m);
            if (!wire_complete(&m)) break;
            plat_mutex_lock(SL);
            if (c->query == m.id && !c->answered) {
                memcpy(c->answer, v, sizeof v);
                c->answered = 1;
                plat_cond_broadcast(SC);
            }
            plat_mutex_unlock(SL);
            break;
        }
        default: {
            /* Out of order (HELLO again) or a kind a client never sends: answered, skipped. */
            wire_msg rep;
            wire_init(&rep, WIRE_REPLY, m.id);
            wire_put_i32(&rep, HCS_E_UNKNOWN_MESSAGE);
            wire_put_str(&rep, "Unexpected message kind");
            enqueue(c, &rep);
            break;
        }
        }
        wire_free(&m);
    }

    /* Gone: no more replies, its waits end, then its handles are closed for it. */
    plat_mutex_lock(c->lock);
    c->dead = 1;
    plat_cond_broadcast(c->cond);
    plat_mutex_unlock(c->lock);
    transport_shutdown(c->t);
    plat_mutex_lock(c->lock);
    while (c->inflight > 0) plat_cond_wait(c->cond, c->lock, PLAT_INFINITE);
    plat_mutex_unlock(c->lock);
    clean_up(c);
    plat_mutex_lock(SL);
    for (conn **pp = &conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->listed = 0;
    plat_cond_broadcast(SC);
    plat_mutex_unlock(SL);
    plat_mutex_lock(c->lock);
    while (c->writer_running) plat_cond_wait(c->cond, c->lock, PLAT_INFINITE);
    plat_mutex_unlock(c->lock);
    if (!c->control) svc_log("client pid %u disconnected", (unsigned)c->pid);
    free(c->uids.v);
free_conn:
    wire_free(&m);
    transport_free(c->t);
    free(c);
}

/* ---------------------------------------------------------------- events */

static void server_sink(const engine_event *ev, void *ctx)
{
    wire_msg proto;
    (void)ctx;
    wire_init(&proto, WIRE_EVENT, 0);
    wire_put_u32(&proto, (uint32_t)ev->kind);
    wire_put_u64(&proto, ev->system_uid);
    wire_put_u64(&proto, ev->process_uid);
    wire_put_str(&proto, ev->data);
    plat_mutex_lock(SL);
    for (conn *c = conns; c; c = c->next) {
        int knows;
        if (c->control) continue;
        plat_mutex_lock(c->lock);
        knows = umap_find(&c->uids, ev->system_uid, 0) || umap_find(&c->uids, ev->process_uid, 0);
        plat_mutex_unlock(c->lock);
        if (knows) {
            wire_msg copy;
            wire_init(&copy, WIRE_EVENT, 0);
            copy.data = malloc(proto.len ? proto.len : 1);
            if (!copy.data) abort();
            memcpy(copy.data, proto.data, proto.len);
            copy.len = copy.cap = proto.len;
            enqueue(c, &copy);
        }
    }
    plat_mutex_unlock(SL);
    wire_free(&proto);
}

/* ---------------------------------------------------------------- the service */

static tlistener *listener;

static void accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        conn *c;
        tconn *t = transport_accept(listener);
        if (!t) return;
        c = calloc(1, sizeof *c);
        if (!c) abort();
        c->t = t;
        c->lock = plat_mutex_create();
        c->cond = plat_cond_create();
        if (plat_thread_start(conn_main, c) != 0) {
            transport_free(t);
            free(c);
        }
    }
}

uint32_t server_start(const char *endpoint, void (*on_stop_request)(void), int be_quiet)
{
    uint32_t e;
    quiet = be_quiet;
    stop_hook = on_stop_request;
    remote_be_service();
    plat_children_die_with_process();
    fake_init();   /* the engine, control.c's tables; this process is never a client */
    SL = plat_mutex_create();
    SC = plat_cond_create();
    QL = plat_mutex_create();
    PL = plat_mutex_create();
    PC = plat_cond_create();
    instance = plat_filetime_now() ^ ((uint64_t)transport_self_pid() << 32);
    local_engine_subscribe(server_sink, NULL);
    e = transport_listen(endpoint, &listener);
    if (e) return e;
    if (plat_thread_start(accept_main, NULL) != 0) abort();
    return 0;
}

void server_stop(void)
{
    uint64_t deadline;
    if (listener) transport_listener_close(listener);
    announce(NULL, WIRE_NOTICE_STOPPING, 0);
    /* Let replies already queued (the STOP request's) reach their clients ... */
    deadline = plat_monotonic_ms() + 1000;
    plat_mutex_lock(SL);
    for (conn *c = conns; c; c = c->next) {
        plat_mutex_lock(c->lock);
        while ((c->head || c->sending) && !c->dead && plat_monotonic_ms() < deadline)
            plat_cond_wait(c->cond, c->lock, 20);
        plat_mutex_unlock(c->lock);
    }
    /* ... then every client is disconnected before anything else happens, so a stop looks to them as a crash does:
     * ServiceDisconnect, and no events of the systems going down with the service. */
    for (conn *c = conns; c; c = c->next) {
        plat_mutex_lock(c->lock);
        c->dead = 1;
        plat_cond_broadcast(c->cond);
        plat_mutex_unlock(c->lock);
        transport_shutdown(c->t);
    }
    plat_mutex_unlock(SL);
    /* Its compute systems end with it (a new service starts empty): every process is killed and reaped. */
    local_engine_kill_all(10000);
}
