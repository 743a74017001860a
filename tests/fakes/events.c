/* events.c -- event callback registration and the dispatcher that runs every user callback.
 *
 * All user callbacks (operation completions and HCS_EVENT_CALLBACKs) run on fake-owned dispatcher threads, never on
 * the caller's thread and never with a fake lock held (the samples block the calling thread while the callback
 * signals it: OperationCompletionSample.md, EventCallbackSample.md). Delivery is serial per handle.
 * HcsCloseComputeSystem / HcsCloseProcess unregister the callback and wait for a callback in flight on that handle
 * (hcsshim v2/system.go, v2/process.go "drains in-flight invocations"; notification.go "HCS guarantees no further
 * callbacks fire past close"). Closing a handle from inside its own callback deadlocks on Windows; the fake detects
 * it and aborts with a message naming the mistake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

/* ---------------------------------------------------------------- dispatch */

typedef struct ev_job {
    uintptr_t handle;
    HCS_EVENT_TYPE type;
    PWSTR data;          /* UTF-16 copy owned by the job (valid during the callback only) */
    uintptr_t op_value;
} ev_job;

static void run_event_job(void *p)
{
    ev_job *j = p;
    hobj *h;
    evreg *reg;
    HCS_EVENT_CALLBACK cb;
    void *ctx;
    HCS_EVENT ev;
    plat_mutex_lock(g_lock);
    h = handle_find(j->handle, HK_SYS);
    if (!h) h = handle_find(j->handle, HK_PROC);
    reg = h ? handle_evreg(h) : NULL;
    if (!reg || !reg->cb) {
        /* The handle was closed meanwhile: no callback fires past close. */
        plat_mutex_unlock(g_lock);
        free(j->data);
        free(j);
        return;
    }
    cb = reg->cb;
    ctx = reg->ctx;
    reg->inflight++;
    reg->inflight_thread = plat_thread_self();
    obj_retain(h);
    g_callbacks_in_flight++;
    plat_mutex_unlock(g_lock);

    memset(&ev, 0, sizeof ev);
    ev.Type = j->type;
    ev.EventData = j->data;
    ev.Operation = (HCS_OPERATION)j->op_value;
    cb(&ev, ctx);

    plat_mutex_lock(g_lock);
    reg->inflight--;
    if (reg->inflight == 0) reg->inflight_thread = 0;
    if (g_callbacks_in_flight > 0) g_callbacks_in_flight--;   /* a reset may have zeroed it meanwhile */
    g_callbacks_delivered++;
    obj_release(h);
    plat_cond_broadcast(g_cond);
    plat_mutex_unlock(g_lock);
    free(j->data);
    free(j);
}

static char16_t *wide_copy(const char *utf8)
{
    return utf8 ? utf8_to_utf16(utf8, NULL) : NULL;
}

void dispatch_event(hobj *target, HCS_EVENT_TYPE type, const char *utf8_data, uintptr_t op_value)
{
    ev_job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->handle = target->value;
    j->type = type;
    j->data = wide_copy(utf8_data);
    j->op_value = op_value;
    executor_submit(g_dispatcher, (uint64_t)target->value, run_event_job, j);
}

static void run_op_completion(void *p)
{
    op_obj *o = p;
    HCS_OPERATION_COMPLETION cb;
    HCS_EVENT_CALLBACK ncb;
    void *ctx;
    uintptr_t value;
    plat_mutex_lock(g_lock);
    cb = o->cb;
    ncb = o->ncb;
    ctx = o->context;
    value = o->h.value;
    g_callbacks_in_flight++;
    plat_mutex_unlock(g_lock);
    /* choice: the completion callback runs even if the operation was closed while in flight (the docs do not
     * say; hcs-facts "keep the context alive until the callback has run"); the handle is then invalid. */
    if (cb) {
        cb((HCS_OPERATION)value, ctx);
    } else if (ncb) {
        HCS_EVENT ev;
        memset(&ev, 0, sizeof ev);
        ev.Type = HcsEventOperationCallback;
        ev.Operation = (HCS_OPERATION)value;
        ncb(&ev, ctx);
    }
    plat_mutex_lock(g_lock);
    if (g_callbacks_in_flight > 0) g_callbacks_in_flight--;   /* a reset may have zeroed it meanwhile */
    g_callbacks_delivered++;
    obj_release(&o->h);
    plat_cond_broadcast(g_cond);
    plat_mutex_unlock(g_lock);
}

void dispatch_op_completion(op_obj *o)
{
    obj_retain(&o->h);
    executor_submit(g_dispatcher, (uint64_t)o->h.value, run_op_completion, o);
}

/* ---------------------------------------------------------------- engine events -> handles */

void events_sink(const engine_event *ev, void *ctx)
{
    (void)ctx;
    plat_mutex_lock(g_lock);
    for (size_t i = 0; i < handles_count(); i++) {
        hobj *h = handles_at(i);
        evreg *reg;
        if (ev->kind == ENGINE_EVENT_SYSTEM_EXITED && h->kind == HK_SYS && ((sys_handle *)h)->uid == ev->system_uid) {
            /* HCS_EVENT.md: SystemExited carries SystemExitStatus; every open handle of the system with a
             * callback receives it. */
            reg = handle_evreg(h);
            if (reg->cb && !reg->exit_delivered) {
                reg->exit_delivered = 1;
                dispatch_event(h, HcsEventSystemExited, ev->data, 0);
            }
        } else if ((ev->kind == ENGINE_EVENT_SYSTEM_CRASH_INITIATED || ev->kind == ENGINE_EVENT_SYSTEM_CRASH_REPORT) &&
                   h->kind == HK_SYS && ((sys_handle *)h)->uid == ev->system_uid) {
            /* HCS_EVENT.md: SystemCrashInitiated and SystemCrashReport carry a CrashReport
             * (SchemaReference.md#CrashReport); EventCallbackSample.md: the system callback sees the crash being
             * initiated, then reported (usable as HcsSubmitWerReport input), then SystemExited. Every open handle of
             * the system with a callback receives each once (the engine emits each once per crash). */
            reg = handle_evreg(h);
            if (reg->cb && !reg->exit_delivered)
                dispatch_event(h, ev->kind == ENGINE_EVENT_SYSTEM_CRASH_INITIATED ? HcsEventSystemCrashInitiated
                                                                                  : HcsEventSystemCrashReport,
                               ev->data, 0);
        } else if (ev->kind == ENGINE_EVENT_PROCESS_EXITED && h->kind == HK_PROC &&
                   ((proc_handle *)h)->puid == ev->process_uid) {
            /* HCS_EVENT.md: ProcessExited (process callbacks only) carries ProcessStatus; exactly once per handle. */
            reg = handle_evreg(h);
            if (reg->cb && !reg->exit_delivered) {
                reg->exit_delivered = 1;
                dispatch_event(h, HcsEventProcessExited, ev->data, 0);
            }
        }
    }
    plat_mutex_unlock(g_lock);
}

void events_broadcast_disconnect(void)
{
    plat_mutex_lock(g_lock);
    for (size_t i = 0; i < handles_count(); i++) {
        hobj *h = handles_at(i);
        evreg *reg = handle_evreg(h);
        /* HCS_EVENT.md ServiceDisconnect: the service crashed or was stopped (EventData NULL, choice). */
        if (reg && reg->cb) dispatch_event(h, HcsEventServiceDisconnect, NULL, 0);
    }
    plat_mutex_unlock(g_lock);
}

/* ---------------------------------------------------------------- registration and close */

int32_t register_callback(uintptr_t handle, hkind kind, HCS_EVENT_OPTIONS options, void *context,
                          HCS_EVENT_CALLBACK callback)
{
    hobj *h;
    evreg *reg;
    uint64_t uid;
    int done = 0;
    char *status = NULL;
    int32_t hr;
    if (!callback) return FAKE_E_INVALIDARG;
    plat_mutex_lock(g_lock);
    h = handle_find(handle, kind);
    if (!h) {
        plat_mutex_unlock(g_lock);
        return FAKE_E_HANDLE;
    }
    reg = handle_evreg(h);
    if (reg->cb) {
        /* HCSHResult.md: HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET "an event callback has already been
         * registered on this handle". */
        plat_mutex_unlock(g_lock);
        return HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET;
    }
    reg->cb = callback;
    reg->ctx = context;
    reg->options = (uint32_t)options;
    uid = kind == HK_SYS ? ((sys_handle *)h)->uid : ((proc_handle *)h)->puid;
    obj_retain(h);
    plat_mutex_unlock(g_lock);

    /* choice: registering after the system/process already exited delivers the exit event once (otherwise a
     * caller registering right after creating a short-lived process would wait forever). */
    hr = kind == HK_SYS ? engine_system_exit_status(uid, &done, &status) : engine_process_exit_status(uid, &done, &status);
    (void)hr;
    plat_mutex_lock(g_lock);
    if (done && handle_find(handle, kind) == h && reg->cb && !reg->exit_delivered) {
        reg->exit_delivered = 1;
        dispatch_event(h, kind == HK_SYS ? HcsEventSystemExited : HcsEventProcessExited, status, 0);
    }
    obj_release(h);
    plat_mutex_unlock(g_lock);
    free(status);
    return 0;
}

void close_event_handle(uintptr_t handle, hkind kind, const char *function)
{
    hobj *h;
    evreg *reg;
    uint64_t sys_uid = 0, puid = 0;
    plat_mutex_lock(g_lock);
    h = handle_find(handle, kind);
    if (!h) {
        plat_mutex_unlock(g_lock);   /* closing an unknown/closed handle is harmless (choice) */
        return;
    }
    reg = handle_evreg(h);
    if (reg->inflight && reg->inflight_thread == plat_thread_self()) {
        plat_mutex_unlock(g_lock);
        fprintf(stderr,
                "fakehcs: FATAL: %s was called from inside the event callback registered on that same handle.\n"
                "fakehcs: Real HCS waits for callbacks in flight on a handle before %s returns, so on Windows this\n"
                "fakehcs: deadlocks forever. Close the handle from another thread, after the callback has returned.\n",
                function, function);
        fflush(stderr);
        abort();
    }
    obj_retain(h);      /* keep it while waiting */
    handle_remove(h);   /* from now on no callback starts on this handle */
    if (kind == HK_SYS) {
        g_open_sys--;
        sys_uid = ((sys_handle *)h)->uid;
    } else {
        g_open_procs--;
        puid = ((proc_handle *)h)->puid;
    }
    while (reg->inflight > 0) plat_cond_wait(g_cond, g_lock, PLAT_INFINITE);
    obj_release(h);
    plat_mutex_unlock(g_lock);
    if (sys_uid) engine_system_release(sys_uid);
    /* The handle's reference on the process: once the process has exited and no handle or job refers to it, the
     * engine forgets it and closes its ends of the pipes (HCS keeps them in the service, not in the caller). */
    if (puid) engine_process_release(puid);
}
