/* remote.c -- the client mode of the fake HCS: its engine is a fake HCS service in another process.
 *
 * On Windows every compute system lives in vmcompute.exe; computecore.dll is a thin client of it. The fake has the
 * same split: engine.h is the service's interface. This file defines every engine_* function the rest of the fake
 * calls: by default the in-process engine (engine.c, whose functions are named local_engine_*), or -- when the
 * environment variable PYHCS_FAKE_SERVICE names an endpoint at the fake's initialisation -- a request to the fake
 * HCS service listening there (fakehcs-service, server.c). Handles, operations, callbacks and result strings stay
 * in this process (handles.c, operations.c, events.c, alloc.c are the same in both modes): only the engine moves.
 *
 * Threads: any thread may call; it sends a request and sleeps until its reply. One reader thread per connection
 * receives replies, and hands engine events to the subscriber (events_sink) in the order the service sent them --
 * the subscriber dispatches them to the callback threads exactly as in-process mode does.
 *
 * The service going away (it crashed or was stopped) is what HCS_EVENT_TYPE calls ServiceDisconnect: every callback
 * of this process receives HcsEventServiceDisconnect, every pending request and running operation fails with
 * HCS_E_SERVICE_DISCONNECT ("The host compute system service has disconnected unexpectedly", HCSHResult.md), and so
 * does every later call until a service answers at the endpoint again. A new service starts empty, so handles from
 * the lost connection keep failing with HCS_E_SERVICE_DISCONNECT (each uid carries its connection's generation in its
 * top 16 bits); closing them still works. (hcsshim internal/hcs/v2/notification.go treats ServiceDisconnect as the
 * abnormal end of every system and process it waits for.) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "transport.h"
#include "wire.h"

/* The in-process engine (engine.c is compiled with its names prefixed local_, engine_local.h). */
#define ENGINE_CALL(op, ret, name, params, format, args, unreachable, service) ret local_engine_##name params;
#define ENGINE_CALL_VOID(op, name, params, format, args, service) void local_engine_##name params;
#include "engine_calls.h"
#undef ENGINE_CALL
#undef ENGINE_CALL_VOID
void local_engine_init(void);
void local_engine_subscribe(engine_event_sink sink, void *context);
const char *local_engine_last_error(void);
int local_engine_is_disconnected(void);

#define UID_BITS 48
#define UID_MASK ((UINT64_C(1) << UID_BITS) - 1)
#define HANDSHAKE_TIMEOUT_MS 10000u

/* ---------------------------------------------------------------- state */

typedef struct rconn {
    tconn *t;
    uint16_t gen;          /* uids of this connection carry it in their top bits */
    int refs;              /* the reader thread + callers sending on it (R held) */
    int lost;
    int stopping;          /* the service announced it is stopping (no crash to report) */
    plat_mutex *wlock;     /* one sender at a time */
} rconn;

typedef struct pending {
    uint64_t id;
    rconn *rc;
    int done;
    int32_t failure;       /* nonzero: no reply will come (the connection is gone) */
    wire_msg reply;
    plat_cond *cond;
    struct pending *next;
} pending;

static int mode_client;     /* 1: client mode (set once during fake_init) */
static int service_role;    /* 1: this is the service executable */
static char *endpoint;

static plat_mutex *R;       /* guards everything below */
static plat_cond *RC;       /* connecting finished */
static rconn *cur;
static uint16_t generation;
static int connecting;
static int reported_down;   /* the outage was reported on stderr */
static uint64_t next_id = 1;
static pending *pendings, *spare;
static engine_event_sink the_sink;
static void *the_sink_ctx;

/* The control state the service announced (NOTICE): read on every HCS call, so kept here. */
static uint64_t rep_seq;
static int rep_disconnected, rep_faults_armed;
static uint32_t rep_latency_all;
static struct rep_latency { char *function; uint32_t ms; } *rep_latency;
static size_t rep_nlatency;

static _Thread_local char tls_error[1024];

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
}

int remote_active(void) { return mode_client; }
void remote_be_service(void) { service_role = 1; }

/* ---------------------------------------------------------------- connections */

static void rconn_release(rconn *rc)   /* R held */
{
    if (--rc->refs == 0) {
        transport_free(rc->t);
        free(rc);
    }
}

static uint32_t send_msg(rconn *rc, wire_msg *m)
{
    uint32_t e;
    plat_mutex_lock(rc->wlock);
    e = transport_send(rc->t, m);
    plat_mutex_unlock(rc->wlock);
    return e;
}

static void read_state(wire_msg *m)   /* R held: the control state of a WELCOME or NOTICE */
{
    uint32_t n;
    rep_disconnected = (int)wire_get_u32(m);
    rep_faults_armed = (int)wire_get_u32(m);
    rep_latency_all = wire_get_u32(m);
    n = wire_get_u32(m);
    for (size_t i = 0; i < rep_nlatency; i++) free(rep_latency[i].function);
    free(rep_latency);
    rep_latency = NULL;
    rep_nlatency = 0;
    if (m->bad || n > 1024) return;
    rep_latency = calloc(n ? n : 1, sizeof *rep_latency);
    if (!rep_latency) abort();
    for (uint32_t i = 0; i < n && !m->bad; i++) {
        rep_latency[i].function = wire_get_str(m);
        rep_latency[i].ms = wire_get_u32(m);
        rep_nlatency++;
    }
}

static void local_counters(int64_t v[WIRE_CLIENT_COUNTERS])
{
    plat_mutex_lock(g_lock);
    v[0] = g_open_ops;
    v[1] = g_open_sys;
    v[2] = g_open_procs;
    v[4] = g_callbacks_in_flight;
    v[5] = g_callbacks_delivered;
    plat_mutex_unlock(g_lock);
    v[3] = alloc_outstanding();
}

/* The connection ended (the service stopped or crashed, or broke the protocol): HcsEventServiceDisconnect. */
static void connection_lost(rconn *rc)
{
    int was_current;
    plat_mutex_lock(R);
    rc->lost = 1;
    was_current = cur == rc;
    if (was_current) cur = NULL;
    for (pending *p = pendings; p; p = p->next)
        if (p->rc == rc && !p->done) {
            p->done = 1;
            p->failure = HCS_E_SERVICE_DISCONNECT;
            plat_cond_broadcast(p->cond);
        }
    if (was_current && !reported_down && !rc->stopping) {
        reported_down = 1;
        fprintf(stderr, "fakehcs: the fake HCS service at %s (" FAKEHCS_SERVICE_ENV ") went away; HCS calls fail with "
                        "HCS_E_SERVICE_DISCONNECT until a service answers there again\n", endpoint);
        fflush(stderr);
    }
    plat_mutex_unlock(R);
    if (was_current) {
        /* HCS_EVENT_TYPE.md HcsEventServiceDisconnect to every callback; operations in flight fail. */
        events_broadcast_disconnect();
        ops_fail_all_running(HCS_E_SERVICE_DISCONNECT);
    }
}

static void on_event(rconn *rc, wire_msg *m)
{
    engine_event ev;
    char *data;
    engine_event_sink sink;
    void *ctx;
    ev.kind = (int)wire_get_u32(m);
    ev.system_uid = wire_get_u64(m);
    ev.process_uid = wire_get_u64(m);
    data = wire_get_str(m);
    if (m->bad) {
        free(data);
        return;
    }
    if (ev.system_uid) ev.system_uid |= (uint64_t)rc->gen << UID_BITS;
    if (ev.process_uid) ev.process_uid |= (uint64_t)rc->gen << UID_BITS;
    ev.data = data;
    plat_mutex_lock(R);
    sink = the_sink;
    ctx = the_sink_ctx;
    plat_mutex_unlock(R);
    if (sink) sink(&ev, ctx);   /* events.c: matches the handles of this process, queues their callbacks */
    free(data);
}

static void on_notice(rconn *rc, wire_msg *m)
{
    uint64_t seq = wire_get_u64(m);
    uint32_t flags = wire_get_u32(m);
    wire_msg ack;
    plat_mutex_lock(R);
    rep_seq = seq;
    read_state(m);
    if (flags & WIRE_NOTICE_STOPPING) rc->stopping = 1;
    plat_mutex_unlock(R);
    if (flags & WIRE_NOTICE_DISCONNECT) {
        /* Another process called FakeHcsSimulateServiceDisconnect: the same as in that process (control.c). */
        events_broadcast_disconnect();
        ops_fail_all_running(HCS_E_SERVICE_DISCONNECT);
    }
    /* The service waits for every client's acknowledgement before the control call returns, so a fault injected
     * by one process is in effect in every other one when the injecting call returns. */
    wire_init(&ack, WIRE_NOTICE_ACK, 0);
    wire_put_u64(&ack, seq);
    send_msg(rc, &ack);
    wire_free(&ack);
}

static void reader_main(void *arg)
{
    rconn *rc = arg;
    for (;;) {
        wire_msg m;
        int r = transport_recv(rc->t, &m, PLAT_INFINITE);
        if (r != 0) {
            wire_free(&m);
            break;
        }
        switch (m.kind) {
        case WIRE_REPLY: {
            pending *p;
            plat_mutex_lock(R);
            for (p = pendings; p && !(p->id == m.id && p->rc == rc); p = p->next) {}
            if (p && !p->done) {
                wire_move(&p->reply, &m);
                p->done = 1;
                plat_cond_broadcast(p->cond);
            }
            plat_mutex_unlock(R);
            break;
        }
        case WIRE_EVENT:
            on_event(rc, &m);
            break;
        case WIRE_NOTICE:
            on_notice(rc, &m);
            break;
        case WIRE_COUNTERS_QUERY: {
            int64_t v[WIRE_CLIENT_COUNTERS];
            wire_msg out;
            local_counters(v);
            wire_init(&out, WIRE_COUNTERS, m.id);
            for (int i = 0; i < WIRE_CLIENT_COUNTERS; i++) wire_put_i64(&out, v[i]);
            send_msg(rc, &out);
            wire_free(&out);
            break;
        }
        default:
            break;   /* a kind this version does not know: skipped */
        }
        wire_free(&m);
    }
    connection_lost(rc);
    plat_mutex_lock(R);
    rconn_release(rc);
    plat_mutex_unlock(R);
}

/* Connects and says hello. R not held. Returns the connection (one reference for the reader thread) or NULL with a
 * reason in *why. */
static rconn *dial(char *why, size_t why_size)
{
    tconn *t = NULL;
    wire_msg hello, welcome;
    uint32_t e, magic;
    uint16_t version;
    rconn *rc;
    int r;
    e = transport_connect(endpoint, &t);
    if (e) {
        snprintf(why, why_size, e == ERROR_FILE_NOT_FOUND ? "nothing listens there" : "cannot connect (Win32 error %u)",
                 e);
        return NULL;
    }
    wire_init(&hello, WIRE_HELLO, 0);
    wire_put_u32(&hello, WIRE_MAGIC);
    wire_put_u16(&hello, (uint16_t)WIRE_VERSION);
    wire_put_u16(&hello, (uint16_t)WIRE_VERSION);
    wire_put_u32(&hello, transport_self_pid());
    wire_put_u32(&hello, 0);
    e = transport_send(t, &hello);
    wire_free(&hello);
    r = e ? -1 : transport_recv(t, &welcome, HANDSHAKE_TIMEOUT_MS);
    if (r != 0 || welcome.kind != WIRE_WELCOME) {
        if (r == 0 && welcome.kind == WIRE_REFUSED) {
            int32_t hr = wire_get_i32(&welcome);
            char *msg = wire_get_str(&welcome);
            snprintf(why, why_size, "the service refused the connection (0x%08X: %s)", (unsigned)hr, msg ? msg : "");
            free(msg);
        } else {
            snprintf(why, why_size, r == -3 ? "the service did not answer"
                                            : "the connection failed during the handshake");
        }
        wire_free(&welcome);
        transport_free(t);
        return NULL;
    }
    magic = wire_get_u32(&welcome);
    version = wire_get_u16(&welcome);
    wire_get_u16(&welcome);
    wire_get_u32(&welcome);   /* the service's pid */
    wire_get_u64(&welcome);   /* its instance */
    if (welcome.bad || magic != WIRE_MAGIC || version != WIRE_VERSION) {
        snprintf(why, why_size, "the service speaks another protocol");
        wire_free(&welcome);
        transport_free(t);
        return NULL;
    }
    rc = calloc(1, sizeof *rc);
    if (!rc) abort();
    rc->t = t;
    rc->wlock = plat_mutex_create();
    rc->refs = 1;   /* the reader thread's */
    plat_mutex_lock(R);
    rc->gen = ++generation;
    if (rc->gen == 0) rc->gen = ++generation;
    rep_seq = 0;
    read_state(&welcome);
    plat_mutex_unlock(R);
    wire_free(&welcome);
    return rc;
}

/* The current connection with a reference for the caller, connecting when there is none; NULL when the service
 * cannot be reached (tls_error says why). */
static rconn *acquire(void)
{
    rconn *rc;
    plat_mutex_lock(R);
    while (connecting) plat_cond_wait(RC, R, PLAT_INFINITE);
    if (!cur) {
        char why[256];
        rconn *fresh;
        connecting = 1;
        plat_mutex_unlock(R);
        fresh = dial(why, sizeof why);
        if (fresh && plat_thread_start(reader_main, fresh) != 0) {
            fprintf(stderr, "fakehcs: cannot start a thread\n");
            abort();
        }
        plat_mutex_lock(R);
        connecting = 0;
        plat_cond_broadcast(RC);
        if (fresh) {
            cur = fresh;
            if (reported_down) {
                reported_down = 0;
                fprintf(stderr, "fakehcs: connected to the fake HCS service at %s again\n", endpoint);
                fflush(stderr);
            }
        } else {
            if (!reported_down) {
                reported_down = 1;
                fprintf(stderr, "fakehcs: cannot reach the fake HCS service at %s (" FAKEHCS_SERVICE_ENV "): %s; HCS "
                                "calls fail with HCS_E_SERVICE_DISCONNECT until a service answers there\n",
                        endpoint, why);
                fflush(stderr);
            }
            set_error("The fake HCS service at %s cannot be reached: %s", endpoint, why);
        }
    }
    rc = cur;
    if (rc) rc->refs++;
    plat_mutex_unlock(R);
    return rc;
}

/* ---------------------------------------------------------------- requests */

static pending *pending_take(rconn *rc)   /* R held */
{
    pending *p = spare;
    if (p) spare = p->next;
    else {
        p = calloc(1, sizeof *p);
        if (!p) abort();
        p->cond = plat_cond_create();
    }
    p->id = next_id++;
    p->rc = rc;
    /* The reader may have seen the end already: then no reply will come, and nobody else would say so. */
    p->done = rc->lost;
    p->failure = rc->lost ? HCS_E_SERVICE_DISCONNECT : 0;
    wire_init(&p->reply, 0, 0);
    p->next = pendings;
    pendings = p;
    return p;
}

static void pending_return(pending *p)   /* R held */
{
    pending **pp = &pendings;
    while (*pp != p) pp = &(*pp)->next;
    *pp = p->next;
    wire_free(&p->reply);
    p->next = spare;
    spare = p;
}

static void zero_outputs(const char *format, va_list ap)
{
    const char *f = format;
    for (; *f && *f != '>'; f++) {
        switch (*f) {
        case 's': case 't': (void)va_arg(ap, const char *); break;
        case 'U': (void)va_arg(ap, uint64_t); break;
        case 'u': (void)va_arg(ap, uint32_t); break;
        case 'i': (void)va_arg(ap, int32_t); break;
        default: abort();
        }
    }
    if (*f == '>') f++;
    for (; *f; f++) {
        switch (*f) {
        case 'U': *va_arg(ap, uint64_t *) = 0; break;
        case 'S': *va_arg(ap, char **) = NULL; break;
        case 'n': *va_arg(ap, int *) = 0; break;
        case 'L': *va_arg(ap, int64_t *) = 0; break;
        case 'F': {
            engine_stdio *io = va_arg(ap, engine_stdio *);
            io->pid = 0;
            io->in = io->out = io->err = PLAT_NO_FD;
            break;
        }
        default: abort();
        }
    }
}

/* Sends request `op` with the arguments of `format` and waits for its reply. Returns 0 with *ret and the outputs
 * set, or -1 when the service could not be asked or could not answer (tls_error says why; outputs zeroed). */
static int remote_vcall(uint16_t op, const char *format, int64_t *ret, va_list args)
{
    rconn *rc;
    pending *p;
    wire_msg req;
    const char *f;
    va_list ap;
    int32_t status;
    char *message;
    int result = -1;
    *ret = 0;
    va_copy(ap, args);
    zero_outputs(format, ap);
    va_end(ap);
    rc = acquire();
    if (!rc) return -1;
    wire_init(&req, WIRE_REQUEST, 0);
    wire_put_u16(&req, op);
    wire_put_u16(&req, 0);
    va_copy(ap, args);
    for (f = format; *f && *f != '>'; f++) {
        switch (*f) {
        case 's': case 't': wire_put_str(&req, va_arg(ap, const char *)); break;
        case 'u': wire_put_u32(&req, va_arg(ap, uint32_t)); break;
        case 'i': wire_put_i32(&req, va_arg(ap, int32_t)); break;
        case 'U': {
            uint64_t uid = va_arg(ap, uint64_t);
            if (uid && (uint16_t)(uid >> UID_BITS) != rc->gen) {
                va_end(ap);
                wire_free(&req);
                set_error("The handle belongs to a connection to the fake HCS service that was lost (the service "
                          "stopped or crashed; a new service starts empty)");
                plat_mutex_lock(R);
                rconn_release(rc);
                plat_mutex_unlock(R);
                return -1;
            }
            wire_put_u64(&req, uid & UID_MASK);
            break;
        }
        default: abort();
        }
    }
    plat_mutex_lock(R);
    p = pending_take(rc);
    req.id = p->id;
    plat_mutex_unlock(R);
    if (send_msg(rc, &req) != 0) transport_shutdown(rc->t);   /* the reader sees the end and fails p */
    wire_free(&req);
    plat_mutex_lock(R);
    while (!p->done) plat_cond_wait(p->cond, R, PLAT_INFINITE);
    plat_mutex_unlock(R);
    if (p->failure) {
        set_error("The connection with the fake HCS service at %s was lost", endpoint);
        goto out;
    }
    status = wire_get_i32(&p->reply);
    message = wire_get_str(&p->reply);
    snprintf(tls_error, sizeof tls_error, "%s", message ? message : "");
    free(message);
    if (status != 0) {
        if (!tls_error[0]) set_error("The fake HCS service rejected the request (0x%08X)", (unsigned)status);
        goto out;
    }
    *ret = wire_get_i64(&p->reply);
    if (*f == '>') f++;
    for (; *f; f++) {
        switch (*f) {
        case 'U': {
            uint64_t uid = wire_get_u64(&p->reply);
            *va_arg(ap, uint64_t *) = uid ? ((uid & UID_MASK) | (uint64_t)rc->gen << UID_BITS) : 0;
            break;
        }
        case 'S': *va_arg(ap, char **) = wire_get_str(&p->reply); break;
        case 'n': *va_arg(ap, int *) = (int)wire_get_i32(&p->reply); break;
        case 'L': *va_arg(ap, int64_t *) = wire_get_i64(&p->reply); break;
        case 'F': {
            engine_stdio *io = va_arg(ap, engine_stdio *);
            plat_fd *slots[3] = { &io->in, &io->out, &io->err };
            uint8_t present;
            io->pid = wire_get_u32(&p->reply);
            present = wire_get_u8(&p->reply);
            for (int i = 0; i < 3; i++)
                if (present & (1u << i)) *slots[i] = transport_import_handle(rc->t, &p->reply, wire_get_u64(&p->reply));
            break;
        }
        default: abort();
        }
    }
    result = p->reply.bad ? -1 : 0;
    if (result) set_error("The fake HCS service sent a malformed reply");
out:
    va_end(ap);
    plat_mutex_lock(R);
    pending_return(p);
    rconn_release(rc);
    plat_mutex_unlock(R);
    return result;
}

static int remote_call(uint16_t op, const char *format, int64_t *ret, ...)
{
    va_list ap;
    int r;
    va_start(ap, ret);
    r = remote_vcall(op, format, ret, ap);
    va_end(ap);
    return r;
}

/* ---------------------------------------------------------------- engine.h: in-process or remote */

#define REMOTE_ARGS(...) __VA_OPT__(,) __VA_ARGS__
#define ENGINE_CALL(op, ret, name, params, format, args, unreachable, service)                                        \
    ret engine_##name params                                                                                        \
    {                                                                                                                \
        int64_t r;                                                                                                   \
        if (!mode_client) return local_engine_##name args;                                                           \
        if (remote_call(op, format, &r REMOTE_ARGS args) != 0) return (ret)(unreachable);                            \
        return (ret)r;                                                                                               \
    }
#define ENGINE_CALL_VOID(op, name, params, format, args, service)                                                     \
    void engine_##name params                                                                                       \
    {                                                                                                                \
        int64_t r;                                                                                                   \
        if (!mode_client) {                                                                                          \
            local_engine_##name args;                                                                                \
            return;                                                                                                  \
        }                                                                                                            \
        remote_call(op, format, &r REMOTE_ARGS args);                                                                \
    }
#include "engine_calls.h"
#undef ENGINE_CALL
#undef ENGINE_CALL_VOID

void engine_init(void)
{
    R = plat_mutex_create();
    RC = plat_cond_create();
    endpoint = service_role ? NULL : transport_endpoint_from_env();
    mode_client = endpoint != NULL;
    if (!mode_client) {
        local_engine_init();
        return;
    }
    /* Connect now, so a wrong endpoint is reported at once; a service that is not up yet is retried by every
     * call (acquire). */
    {
        rconn *rc = acquire();
        if (rc) {
            plat_mutex_lock(R);
            rconn_release(rc);
            plat_mutex_unlock(R);
        }
    }
}

void engine_subscribe(engine_event_sink sink, void *context)
{
    if (!mode_client) {
        local_engine_subscribe(sink, context);
        return;
    }
    plat_mutex_lock(R);
    the_sink = sink;
    the_sink_ctx = context;
    plat_mutex_unlock(R);
}

const char *engine_last_error(void) { return mode_client ? tls_error : local_engine_last_error(); }

int engine_is_disconnected(void)
{
    rconn *rc;
    int d;
    if (!mode_client) return local_engine_is_disconnected();
    /* Every HCS call asks (api_enter): answered from the state the service announced, after (re)connecting. */
    rc = acquire();
    if (!rc) return 1;
    plat_mutex_lock(R);
    d = rep_disconnected;
    rconn_release(rc);
    plat_mutex_unlock(R);
    return d;
}

/* ---------------------------------------------------------------- control (control.c in client mode) */

int remote_fault_take(const char *function, int32_t *hr, int *sync)
{
    int64_t hit = 0;
    int armed, h = 0, s = 0;
    plat_mutex_lock(R);
    armed = rep_faults_armed;
    plat_mutex_unlock(R);
    /* Faults are counted by the service (a fault injected for "the next call" is taken by one client only); the
     * service announces whether any is armed, so calls ask only then. */
    if (!armed) return 0;
    if (remote_call(WIRE_OP_FAULT_TAKE, WIRE_FMT_FAULT_TAKE, &hit, function, &h, &s) != 0 || !hit) return 0;
    *hr = (int32_t)h;
    *sync = s;
    return 1;
}

uint32_t remote_latency_for(const char *function)
{
    uint32_t ms;
    plat_mutex_lock(R);
    ms = rep_latency_all;
    for (size_t i = 0; i < rep_nlatency; i++)
        if (rep_latency[i].ms && rep_latency[i].function && strcmp(rep_latency[i].function, function) == 0)
            ms = rep_latency[i].ms;   /* a function's own latency, else the one of every function (control.c) */
    plat_mutex_unlock(R);
    return ms;
}

int remote_inject_fault(const char *function, int32_t hr, uint32_t count, uint32_t flags)
{
    int64_t r = -1;
    if (remote_call(WIRE_OP_INJECT_FAULT, WIRE_FMT_INJECT_FAULT, &r, function, hr, count, flags) != 0) return -1;
    return (int)r;
}

int remote_set_latency(const char *function, uint32_t milliseconds)
{
    int64_t r = -1;
    if (remote_call(WIRE_OP_SET_LATENCY, WIRE_FMT_SET_LATENCY, &r, function, milliseconds) != 0) return -1;
    return (int)r;
}

static void counters_from(FAKEHCS_COUNTERS *c, const int64_t v[8])
{
    c->OpenOperations = v[0];
    c->OpenSystemHandles = v[1];
    c->OpenProcessHandles = v[2];
    c->OutstandingStrings = v[3];
    c->LiveSystems = v[4];
    c->RunningProcesses = v[5];
    c->CallbacksInFlight = v[6];
    c->CallbacksDelivered = v[7];
}

FAKEHCS_API void FakeHcsGetGlobalCounters(FAKEHCS_COUNTERS *counters)
{
    int64_t v[8] = { 0 }, r;
    fake_init();
    if (!counters) return;
    if (!mode_client) {
        FakeHcsGetCounters(counters);   /* in process: this process is the whole HCS */
        return;
    }
    remote_call(WIRE_OP_GLOBAL_COUNTERS, WIRE_FMT_GLOBAL_COUNTERS, &r, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                &v[7]);
    counters_from(counters, v);
}

FAKEHCS_API int FakeHcsGetClientCounters(uint32_t pid, FAKEHCS_COUNTERS *counters)
{
    int64_t v[8] = { 0 }, r = -1;
    fake_init();
    if (!counters) return -1;
    memset(counters, 0, sizeof *counters);
    if (!mode_client) {
        if (pid != transport_self_pid()) return -1;
        FakeHcsGetCounters(counters);
        return 0;
    }
    if (remote_call(WIRE_OP_CLIENT_COUNTERS, WIRE_FMT_CLIENT_COUNTERS, &r, pid, &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &v[6], &v[7]) != 0 || r != 0)
        return -1;
    counters_from(counters, v);
    return 0;
}

FAKEHCS_API int FakeHcsListClients(uint32_t *pids, int capacity)
{
    int64_t r;
    char *text = NULL;
    json_value *list;
    int n = 0;
    fake_init();
    if (!mode_client) {
        if (pids && capacity > 0) pids[0] = transport_self_pid();
        return 1;
    }
    if (remote_call(WIRE_OP_LIST_CLIENTS, WIRE_FMT_LIST_CLIENTS, &r, &text) != 0 || !text) return -1;
    list = json_parse(text, NULL, 0);
    free(text);
    if (!list || list->type != JSON_ARRAY) {
        json_free(list);
        return -1;
    }
    for (size_t i = 0; i < list->count; i++) {
        if (pids && n < capacity) pids[n] = (uint32_t)list->items[i]->integer;
        n++;
    }
    json_free(list);
    return n;
}

FAKEHCS_API int FakeHcsServiceStatus(void)
{
    rconn *rc;
    fake_init();
    if (!mode_client) return 0;
    rc = acquire();
    if (!rc) return -1;
    plat_mutex_lock(R);
    rconn_release(rc);
    plat_mutex_unlock(R);
    return 1;
}
