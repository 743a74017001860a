/* fake.h -- internal declarations shared by the client side of the fake HCS (the computecore/computestorage ABI:
 * handles, operations, callbacks) and the test control API. The engine (engine.h) is the service side. */
#ifndef FAKEHCS_FAKE_H
#define FAKEHCS_FAKE_H

#include <stddef.h>
#include <stdint.h>
#include <uchar.h>

#if defined(_WIN32)
/* platform_win32 build: the real SDK headers (mingw-w64 or Windows SDK). */
#include <windows.h>
#include <computecore.h>
#include <computestorage.h>
#define FAKE_EXPORT __declspec(dllexport)
#else
/* Off Windows the build includes pyhcs's own declaration files (src/pyhcs/_ffi/decl, on the include path), so the
 * compiler checks every exported definition against exactly what pyhcs declares to cffi. */
#define WINAPI
#pragma GCC visibility push(default)
#include "windows_types.h"
#include "computedefs.h"
#include "computecore.h"
#include "computestorage.h"
#include "kernel32.h"
#pragma GCC visibility pop
#define FAKE_EXPORT __attribute__((visibility("default")))
#endif

#include "engine.h"
#include "fakehcs_control.h"
#include "hresult.h"
#include "json.h"
#include "platform.h"

#define FAKE_GENERIC_ALL 0x10000000u

/* ---- global initialisation (lazy, on the first call of any export) ---- */
void fake_init(void);

/* ---- the client lock: guards handles, operations and callback registrations (never held across a user
 * callback, never held while calling into the engine) ---- */
extern plat_mutex *g_lock;
extern plat_cond *g_cond;   /* broadcast on operation completion and callback return */

/* ---- handles (handles.c) ---- */
typedef enum { HK_OP = 1, HK_SYS = 2, HK_PROC = 3 } hkind;

typedef struct hobj {
    hkind kind;
    uintptr_t value;   /* the HANDLE value given to the caller; never reused */
    int refs;          /* the table's reference + one per internal user (job, dispatch) */
} hobj;

/* Event callback registration of a system or process handle. */
typedef struct evreg {
    HCS_EVENT_CALLBACK cb;
    void *ctx;
    uint32_t options;
    int inflight;               /* callbacks running now (0 or 1: dispatch is serial per handle) */
    uint64_t inflight_thread;   /* the thread running it */
    int exit_delivered;         /* SystemExited / ProcessExited already queued for this handle */
} evreg;

typedef struct sys_handle {
    hobj h;
    uint64_t uid;
    evreg reg;
} sys_handle;

typedef struct proc_handle {
    hobj h;
    uint64_t sys_uid;
    uint64_t puid;
    evreg reg;
} proc_handle;

enum { OP_NOT_STARTED = 0, OP_RUNNING = 1, OP_COMPLETED = 2 };

typedef struct op_obj {
    hobj h;
    uint64_t id;
    void *context;
    HCS_OPERATION_COMPLETION cb;
    HCS_EVENT_CALLBACK ncb;   /* HcsCreateOperationWithNotifications */
    uint32_t nopts;
    int state;
    int type;                 /* HCS_OPERATION_TYPE */
    uint64_t gen;             /* bumped at each start: stale completions are discarded */
    int32_t hr;
    char *doc;                /* UTF-8 result document or NULL */
    int has_pinfo;
    engine_stdio pinfo;       /* the operation's own copies */
    uintptr_t sys_value, proc_value, target_value;
    uint64_t start_ft, end_ft;
    uint64_t start_ms;        /* plat_monotonic_ms() at the start: the minimum duration counts from it */
    int resources;
} op_obj;

/* All under g_lock. */
uintptr_t handle_insert(hobj *o);
hobj *handle_find(uintptr_t value, hkind kind);   /* NULL if not an open handle of that kind */
void handle_remove(hobj *o);                      /* drops the table's reference */
void obj_retain(hobj *o);
void obj_release(hobj *o);
size_t handles_count(void);
hobj *handles_at(size_t i);
void handles_clear(void);                         /* FakeHcsReset */
evreg *handle_evreg(hobj *o);                     /* NULL for operations */

/* ---- counters (control.c), under g_lock unless atomic ---- */
extern int64_t g_open_ops, g_open_sys, g_open_procs, g_callbacks_in_flight, g_callbacks_delivered;

/* ---- executors (executor.c): thread pools running jobs FIFO, serially per non-zero key ---- */
typedef struct executor executor;
/* spin: an idle worker looks for work briefly before it sleeps (one at a time). */
executor *executor_create(int threads, int spin);
void executor_submit(executor *ex, uint64_t key, void (*fn)(void *), void *arg);
/* Like executor_submit; the job does not start before plat_monotonic_ms() reaches not_before. */
void executor_submit_at(executor *ex, uint64_t key, uint64_t not_before, void (*fn)(void *), void *arg);
int executor_wait_idle(executor *ex, uint32_t timeout_ms);   /* 1 when idle */
extern executor *g_workers;      /* operation work (engine calls) */
extern executor *g_dispatcher;   /* user callbacks */

/* ---- operations (operations.c) ---- */
typedef int32_t (*op_work_fn)(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io);
/* Marks the operation started (g_lock taken inside). Errors: E_INVALIDARG (NULL), E_HANDLE,
 * HCS_E_OPERATION_ALREADY_STARTED, HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET. Call it after every check of the
 * call's own arguments: once it succeeds the call returns S_OK and whatever goes wrong is the operation's result
 * (op_submit / op_submit_failure). */
int32_t op_begin(HCS_OPERATION operation, int type, uintptr_t sys_value, uintptr_t proc_value, uintptr_t target_value,
                 op_obj **out);
/* Queues the work (key: executes in submission order with other work of the same key), not before the function's
 * minimum duration (FakeHcsSetMinimumDuration) has passed since op_begin. Takes arg. */
void op_submit(op_obj *o, const char *function, int32_t fault, uint64_t key, op_work_fn work, void *arg,
               void (*free_arg)(void *));
/* The call was accepted but its operation fails with hr (ResultError with message), like any other completion. */
void op_submit_failure(op_obj *o, const char *function, int32_t fault, uint64_t key, int32_t hr, const char *message);
/* Completes every running operation with hr (service disconnect). */
void ops_fail_all_running(int32_t hr);
char *result_error_json(int32_t hr, const char *message);

/* ---- events (events.c) ---- */
void events_sink(const engine_event *ev, void *ctx);
void dispatch_op_completion(op_obj *o);                      /* g_lock held */
void dispatch_event(hobj *target, HCS_EVENT_TYPE type, const char *utf8_data, uintptr_t op_value); /* g_lock held */
int32_t register_callback(uintptr_t handle, hkind kind, HCS_EVENT_OPTIONS options, void *context,
                          HCS_EVENT_CALLBACK callback);
void close_event_handle(uintptr_t handle, hkind kind, const char *function);
void events_broadcast_disconnect(void);

/* ---- result strings (alloc.c) ---- */
PWSTR result_from_utf8(const char *utf8);    /* NULL for NULL */
void alloc_reset(void);
int64_t alloc_outstanding(void);

/* ---- faults and latency (control.c) ---- */
/* Returns 1 when a fault is injected for this call of `function` (hr, sync set). */
int fault_take(const char *function, int32_t *hr, int *sync);
uint32_t latency_for(const char *function);
uint32_t minimum_duration_for(const char *function);
/* Common entry checks of an export: lazy init, service disconnect, synchronous faults. Returns 0 to go on; an
 * asynchronous fault is left in *async_fault for op_submit. */
int32_t api_enter(const char *function, int32_t *async_fault);

/* ---- service mode (remote.c): the engine calls go to a fake HCS service (PYHCS_FAKE_SERVICE) ---- */
int remote_active(void);            /* 1 in client mode (decided once, by the fake's initialisation) */
void remote_be_service(void);       /* the service executable: the engine is always its own */
/* control.c's fault and latency tables live in the service in client mode: */
int remote_fault_take(const char *function, int32_t *hr, int *sync);
uint32_t remote_latency_for(const char *function);
int remote_inject_fault(const char *function, int32_t hr, uint32_t count, uint32_t flags);
int remote_set_latency(const char *function, uint32_t milliseconds);

/* ---- small helpers ---- */
char *wide_to_utf8(PCWSTR s, int32_t *hr);   /* NULL input -> NULL with *hr 0; bad UTF-16 -> E_INVALIDARG */
void storage_reset(void);

#endif
