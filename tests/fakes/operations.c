/* operations.c -- HCS_OPERATION objects, the worker jobs that run the tracked calls, and their results.
 *
 * AsyncModel / HcsCreateOperation.md: an HCS call that returns S_OK has only *started*; the result is read with
 * HcsWaitForOperationResult / HcsGetOperationResult or delivered to the completion callback. The work runs on a
 * fake-owned worker thread (g_workers, ordered per compute system); completion sets the result, wakes waiters, and
 * queues the callback on a separate dispatcher thread (g_dispatcher) -- so a callback may block waiting for another
 * operation without deadlocking, and no lock is held while user code runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

static uint64_t next_op_id = 1;

char *result_error_json(int32_t hr, const char *message)
{
    json_writer w;
    /* SchemaReference.md ResultError {Error: int32 HRESULT, ErrorMessage, ErrorEvents[], Attribution[]} */
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "Error");
    jw_int(&w, hr);
    jw_key(&w, "ErrorMessage");
    jw_string(&w, message && message[0] ? message : fake_hresult_message(hr));
    jw_key(&w, "ErrorEvents");
    jw_arr_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "Message");
    jw_string(&w, message && message[0] ? message : fake_hresult_message(hr));
    jw_key(&w, "Provider");
    jw_string(&w, "fakehcs");
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    return jw_finish(&w);
}

static op_obj *new_op(const void *context)
{
    op_obj *o = calloc(1, sizeof *o);
    if (!o) return NULL;   /* HcsCreateOperation.md: NULL "if resources required for the operation couldn't be
                            * allocated" */
    o->h.kind = HK_OP;
    o->context = (void *)context;
    o->type = HcsOperationTypeNone;   /* HcsGetOperationType.md: None before the operation is used */
    o->pinfo.in = o->pinfo.out = o->pinfo.err = PLAT_NO_FD;
    plat_mutex_lock(g_lock);
    o->id = next_op_id++;             /* unique, increasing (choice: assigned at creation) */
    handle_insert(&o->h);
    g_open_ops++;
    plat_mutex_unlock(g_lock);
    return o;
}

/* FakeHcsInjectFault on a function that creates an operation: it "fails" the documented way, with NULL. */
static int creation_fault(const char *function)
{
    int32_t hr;
    int sync;
    return fault_take(function, &hr, &sync);
}

/* FakeHcsInjectFault on a function that does not start an operation: the call fails with the injected HRESULT
 * and changes nothing. */
static int call_fault(const char *function, int32_t *hr)
{
    int sync;
    fake_init();
    return fault_take(function, hr, &sync);
}

FAKE_EXPORT HCS_OPERATION WINAPI HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback)
{
    op_obj *o;
    fake_init();
    if (creation_fault("HcsCreateOperation")) return NULL;
    o = new_op(context);
    if (!o) return NULL;
    o->cb = callback;
    return (HCS_OPERATION)o->h.value;
}

FAKE_EXPORT HCS_OPERATION WINAPI HcsCreateOperationWithNotifications(HCS_OPERATION_OPTIONS eventTypes,
                                                                     const void *context, HCS_EVENT_CALLBACK callback)
{
    op_obj *o;
    fake_init();
    /* choice: the notification callback receives HcsEventOperationCallback (event->Operation set) when the
     * operation completes; no progress events are generated. */
    if (creation_fault("HcsCreateOperationWithNotifications")) return NULL;
    o = new_op(context);
    if (!o) return NULL;
    o->ncb = callback;
    o->nopts = (uint32_t)eventTypes;
    return (HCS_OPERATION)o->h.value;
}

FAKE_EXPORT void WINAPI HcsCloseOperation(HCS_OPERATION operation)
{
    op_obj *o;
    fake_init();
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o) {
        /* HcsCloseOperation.md: "An operation can be closed from within a callback". Closing one that is still
         * running is safe: the work continues and its result is discarded (hcsshim v2/operation.go
         * submitOperation); the object lives on until the work and its callback are done. */
        handle_remove(&o->h);
        g_open_ops--;
    }
    plat_mutex_unlock(g_lock);
}

FAKE_EXPORT void *WINAPI HcsGetOperationContext(HCS_OPERATION operation)
{
    op_obj *o;
    void *ctx = NULL;
    fake_init();
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o) ctx = o->context;
    plat_mutex_unlock(g_lock);
    return ctx;
}

FAKE_EXPORT HRESULT WINAPI HcsSetOperationContext(HCS_OPERATION operation, const void *context)
{
    op_obj *o;
    int32_t hr = FAKE_E_HANDLE;
    if (call_fault("HcsSetOperationContext", &hr)) return hr;
    hr = FAKE_E_HANDLE;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o) {
        o->context = (void *)context;
        hr = 0;
    }
    plat_mutex_unlock(g_lock);
    return hr;
}

FAKE_EXPORT HCS_SYSTEM WINAPI HcsGetComputeSystemFromOperation(HCS_OPERATION operation)
{
    op_obj *o;
    HCS_SYSTEM s = NULL;
    int32_t hr;
    if (call_fault("HcsGetComputeSystemFromOperation", &hr)) return NULL;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    /* HcsGetComputeSystemFromOperation.md: NULL if the operation is not active (choice: never started). */
    if (o && o->state != OP_NOT_STARTED) s = (HCS_SYSTEM)o->sys_value;
    plat_mutex_unlock(g_lock);
    return s;
}

FAKE_EXPORT HCS_PROCESS WINAPI HcsGetProcessFromOperation(HCS_OPERATION operation)
{
    op_obj *o;
    HCS_PROCESS p = NULL;
    int32_t hr;
    if (call_fault("HcsGetProcessFromOperation", &hr)) return NULL;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o && o->state != OP_NOT_STARTED) p = (HCS_PROCESS)o->proc_value;
    plat_mutex_unlock(g_lock);
    return p;
}

FAKE_EXPORT HCS_OPERATION_TYPE WINAPI HcsGetOperationType(HCS_OPERATION operation)
{
    op_obj *o;
    int t = HcsOperationTypeNone;
    fake_init();
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o) t = o->type;
    plat_mutex_unlock(g_lock);
    return (HCS_OPERATION_TYPE)t;
}

FAKE_EXPORT UINT64 WINAPI HcsGetOperationId(HCS_OPERATION operation)
{
    op_obj *o;
    UINT64 id = HCS_INVALID_OPERATION_ID;   /* HcsGetOperationId.md: HCS_INVALID_OPERATION_ID if invalid */
    int32_t hr;
    if (call_fault("HcsGetOperationId", &hr)) return HCS_INVALID_OPERATION_ID;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (o) id = o->id;
    plat_mutex_unlock(g_lock);
    return id;
}

static PWSTR copy_doc(const op_obj *o) { return o->doc ? result_from_utf8(o->doc) : NULL; }

static int wants_process_info(int type)
{
    return type == HcsOperationTypeCreateProcess || type == HcsOperationTypeGetProcessInfo;
}

static void fill_pinfo(const op_obj *o, HCS_PROCESS_INFORMATION *pi)
{
    memset(pi, 0, sizeof *pi);
    if (o->hr < 0 || !o->has_pinfo) return;
    pi->ProcessId = o->pinfo.pid;
    /* The handles are caller-owned (hcsshim v2/utils.go makeOpenFiles closes them); every call hands out a fresh
     * set of duplicates (choice). A stream that was not requested is INVALID_HANDLE_VALUE, not NULL (hcsshim
     * v2/utils.go makeOpenFiles: "HCS APIs such as HcsGetProcessInfo use INVALID_HANDLE_VALUE to indicate std
     * streams the caller did not request"), so a caller testing `!= NULL` fails here as it would on Windows. */
    pi->StdInput = plat_fd_to_handle(plat_dup(o->pinfo.in));
    pi->StdOutput = plat_fd_to_handle(plat_dup(o->pinfo.out));
    pi->StdError = plat_fd_to_handle(plat_dup(o->pinfo.err));
}

/* Shared body of the four result getters. timeout: 0 for Get*, else a wait. with_pinfo: the *AndProcessInfo form
 * (pi may still be NULL: the parameter is _Out_opt_). */
static HRESULT get_result(const char *function, HCS_OPERATION operation, int wait, DWORD timeout_ms, int with_pinfo,
                          HCS_PROCESS_INFORMATION *pi, PWSTR *doc)
{
    op_obj *o;
    int32_t hr;
    uint64_t deadline;
    if (doc) *doc = NULL;
    if (pi) memset(pi, 0, sizeof *pi);
    if (call_fault(function, &hr)) return hr;
    deadline = plat_monotonic_ms() + (timeout_ms == PLAT_INFINITE ? 0 : timeout_ms);
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (!o) {
        plat_mutex_unlock(g_lock);
        return operation ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    }
    /* HcsGetOperationResult.md / HcsWaitForOperationResult.md: never used -> HCS_E_OPERATION_NOT_STARTED */
    if (o->state == OP_NOT_STARTED) {
        plat_mutex_unlock(g_lock);
        return HCS_E_OPERATION_NOT_STARTED;
    }
    /* HcsGetOperationResultAndProcessInfo.md: E_INVALIDARG for operations other than CreateProcess and
     * GetProcessInfo. */
    if (with_pinfo && !wants_process_info(o->type)) {
        plat_mutex_unlock(g_lock);
        return FAKE_E_INVALIDARG;
    }
    obj_retain(&o->h);
    if (wait) {
        while (o->state == OP_RUNNING) {
            uint64_t now = plat_monotonic_ms();
            if (timeout_ms != PLAT_INFINITE && now >= deadline) break;
            plat_cond_wait(g_cond, g_lock, timeout_ms == PLAT_INFINITE ? PLAT_INFINITE : (uint32_t)(deadline - now));
        }
    }
    if (o->state == OP_RUNNING) {
        /* Get while running -> HCS_E_OPERATION_PENDING; a wait that expires -> HCS_E_OPERATION_TIMEOUT
         * (HcsWaitForOperationResult.md, hcsshim v2/operation.go hcsErrOperationTimeout 0x80370118). */
        hr = wait ? HCS_E_OPERATION_TIMEOUT : HCS_E_OPERATION_PENDING;
    } else {
        hr = o->hr;
        if (doc) *doc = copy_doc(o);
        if (pi) fill_pinfo(o, pi);
    }
    obj_release(&o->h);
    plat_mutex_unlock(g_lock);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument)
{
    return get_result("HcsGetOperationResult", operation, 0, 0, 0, NULL, resultDocument);
}

/* HcsGetOperationResultAndProcessInfo.md / HcsWaitForOperationResultAndProcessInfo.md: processInformation is
 * _Out_opt_ -- NULL reads the result (and the document) without taking a set of std handles. */
FAKE_EXPORT HRESULT WINAPI HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation,
                                                               HCS_PROCESS_INFORMATION *processInformation,
                                                               PWSTR *resultDocument)
{
    return get_result("HcsGetOperationResultAndProcessInfo", operation, 0, 0, 1, processInformation, resultDocument);
}

FAKE_EXPORT HRESULT WINAPI HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument)
{
    return get_result("HcsWaitForOperationResult", operation, 1, timeoutMs, 0, NULL, resultDocument);
}

FAKE_EXPORT HRESULT WINAPI HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs,
                                                                   HCS_PROCESS_INFORMATION *processInformation,
                                                                   PWSTR *resultDocument)
{
    return get_result("HcsWaitForOperationResultAndProcessInfo", operation, 1, timeoutMs, 1, processInformation,
                      resultDocument);
}

FAKE_EXPORT HRESULT WINAPI HcsSetOperationCallback(HCS_OPERATION operation, const void *context,
                                                   HCS_OPERATION_COMPLETION callback)
{
    op_obj *o;
    int32_t hr = 0;
    if (call_fault("HcsSetOperationCallback", &hr)) return hr;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (!o) hr = FAKE_E_HANDLE;
    else if (o->state == OP_RUNNING) hr = HCS_E_OPERATION_ALREADY_STARTED;   /* choice */
    else {
        o->context = (void *)context;
        o->cb = callback;
    }
    plat_mutex_unlock(g_lock);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsCancelOperation(HCS_OPERATION operation)
{
    int32_t hr;
    (void)operation;
    if (call_fault("HcsCancelOperation", &hr)) return hr;
    /* HcsCancelOperation.md: "This function is not currently implemented and will always return E_NOTIMPL". */
    return FAKE_E_NOTIMPL;
}

FAKE_EXPORT HRESULT WINAPI HcsAddResourceToOperation(HCS_OPERATION operation, HCS_RESOURCE_TYPE type, PCWSTR uri,
                                                     HANDLE handle)
{
    op_obj *o;
    int32_t hr = 0;
    (void)handle;
    if (call_fault("HcsAddResourceToOperation", &hr)) return hr;
    /* choice: resources are recorded (not used); they must be added before the operation is started. */
    if (type <= HcsResourceTypeNone || type > HcsResourceTypeSocket || !uri) return FAKE_E_INVALIDARG;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (!o) hr = FAKE_E_HANDLE;
    else if (o->state == OP_RUNNING) hr = HCS_E_OPERATION_ALREADY_STARTED;
    else o->resources++;
    plat_mutex_unlock(g_lock);
    return hr;
}

static const char *op_type_name(int t)
{
    static const char *const names[] = { "Enumerate", "Create", "Start", "Shutdown", "Pause", "Resume", "Save",
                                         "Terminate", "Modify", "GetProperties", "CreateProcess", "SignalProcess",
                                         "GetProcessInfo", "GetProcessProperties", "ModifyProcess", "Crash",
                                         "Reserved1", "Reserved2", "Reserved3", "LiveMigration" };
    return t >= 0 && t <= 19 ? names[t] : "None";
}

FAKE_EXPORT HRESULT WINAPI HcsGetOperationProperties(HCS_OPERATION operation, PCWSTR options, PWSTR *resultDocument)
{
    op_obj *o;
    json_writer w;
    char ts[40];
    char *text;
    int32_t hr = 0;
    if (resultDocument) *resultDocument = NULL;
    if (call_fault("HcsGetOperationProperties", &hr)) return hr;
    if (!resultDocument) return FAKE_E_INVALIDARG;
    if (options) {
        char *opt = wide_to_utf8(options, &hr);
        json_value *v;
        if (hr) return hr;
        v = opt && opt[0] ? json_parse(opt, NULL, 0) : NULL;
        if (opt && opt[0] && !v) {
            free(opt);
            return HCS_E_INVALID_JSON;
        }
        json_free(v);
        free(opt);
    }
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (!o) {
        plat_mutex_unlock(g_lock);
        return FAKE_E_HANDLE;
    }
    if (o->state == OP_NOT_STARTED) {
        plat_mutex_unlock(g_lock);
        return HCS_E_OPERATION_NOT_STARTED;
    }
    /* choice: an OperationInfo-shaped document (SchemaReference.md 2.6: Operation, Start/EndTimestamp,
     * FailureInfo{Result}). */
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "Operation");
    jw_string(&w, op_type_name(o->type));
    jw_key(&w, "StartTimestamp");
    plat_format_filetime(o->start_ft, ts, sizeof ts);
    jw_string(&w, ts);
    if (o->state == OP_COMPLETED) {
        jw_key(&w, "EndTimestamp");
        plat_format_filetime(o->end_ft, ts, sizeof ts);
        jw_string(&w, ts);
        if (o->hr < 0) {
            jw_key(&w, "FailureInfo");
            jw_obj_begin(&w);
            jw_key(&w, "Result");
            jw_int(&w, o->hr);
            jw_obj_end(&w);
        }
    }
    jw_obj_end(&w);
    plat_mutex_unlock(g_lock);
    text = jw_finish(&w);
    *resultDocument = result_from_utf8(text);
    free(text);
    return 0;
}

/* ---------------------------------------------------------------- starting and completing */

int32_t op_begin(HCS_OPERATION operation, int type, uintptr_t sys_value, uintptr_t proc_value, uintptr_t target_value,
                 op_obj **out)
{
    op_obj *o;
    hobj *target;
    evreg *reg;
    *out = NULL;
    if (!operation) return FAKE_E_INVALIDARG;
    plat_mutex_lock(g_lock);
    o = (op_obj *)handle_find((uintptr_t)operation, HK_OP);
    if (!o) {
        plat_mutex_unlock(g_lock);
        return FAKE_E_HANDLE;
    }
    if (o->state == OP_RUNNING) {
        /* HCSHResult.md HCS_E_OPERATION_ALREADY_STARTED "The operation is already running"; reuse after
         * completion is allowed (Tutorial.md reuses one operation for Create/Start/GetProperties/Terminate). */
        plat_mutex_unlock(g_lock);
        return HCS_E_OPERATION_ALREADY_STARTED;
    }
    target = target_value ? handle_find(target_value, HK_SYS) : NULL;
    if (!target && target_value) target = handle_find(target_value, HK_PROC);
    reg = target ? handle_evreg(target) : NULL;
    if (reg && reg->cb && (reg->options & HcsEventOptionEnableOperationCallbacks) && (o->cb || o->ncb)) {
        /* HCS_EVENT_OPTIONS.md: "When event operation completion callbacks are enabled, hcs operations with
         * callbacks are not allowed ... Such function calls will fail with HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET." */
        plat_mutex_unlock(g_lock);
        return HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET;
    }
    free(o->doc);
    o->doc = NULL;
    if (o->has_pinfo) {
        plat_close(o->pinfo.in);
        plat_close(o->pinfo.out);
        plat_close(o->pinfo.err);
        o->has_pinfo = 0;
    }
    o->pinfo.in = o->pinfo.out = o->pinfo.err = PLAT_NO_FD;
    o->hr = 0;
    o->state = OP_RUNNING;
    o->type = type;
    o->gen++;
    o->sys_value = sys_value;
    o->proc_value = proc_value;
    o->target_value = target_value;
    o->start_ft = plat_filetime_now();
    o->start_ms = plat_monotonic_ms();
    o->end_ft = 0;
    obj_retain(&o->h);   /* held by the job */
    plat_mutex_unlock(g_lock);
    *out = o;
    return 0;
}

/* g_lock held. */
static void complete_locked(op_obj *o, int32_t hr, char *doc, const engine_stdio *io, int has_io, int callback)
{
    o->hr = hr;
    o->doc = doc;
    if (has_io) {
        o->pinfo = *io;
        o->has_pinfo = 1;
    }
    o->state = OP_COMPLETED;
    o->end_ft = plat_filetime_now();
    plat_cond_broadcast(g_cond);
    if (callback) {
        hobj *target = NULL;
        evreg *reg = NULL;
        if (o->target_value) {
            target = handle_find(o->target_value, HK_SYS);
            if (!target) target = handle_find(o->target_value, HK_PROC);
            reg = target ? handle_evreg(target) : NULL;
        }
        if (o->cb || o->ncb) dispatch_op_completion(o);
        else if (reg && reg->cb && (reg->options & HcsEventOptionEnableOperationCallbacks))
            /* HCS_EVENT_OPTIONS.md: completed operations arrive as HcsEventOperationCallback, event->Operation set */
            dispatch_event(target, HcsEventOperationCallback, NULL, o->h.value);
    }
}

typedef struct op_job {
    op_obj *op;
    uint64_t gen;
    int32_t fault;
    uint32_t latency;
    op_work_fn work;
    void *arg;
    void (*free_arg)(void *);
} op_job;

static void run_op_job(void *p)
{
    op_job *j = p;
    char *doc = NULL;
    engine_stdio io;
    int has_io = 0;
    int32_t hr;
    io.pid = 0;
    io.in = io.out = io.err = PLAT_NO_FD;
    if (j->latency) plat_sleep_ms(j->latency);   /* FakeHcsSetLatency */
    hr = j->work(j->arg, j->fault, &doc, &io, &has_io);
    if (hr < 0 && !doc)
        doc = result_error_json(hr, j->fault && hr == j->fault ? "Injected failure (FakeHcsInjectFault)"
                                                                : engine_last_error());
    plat_mutex_lock(g_lock);
    if (j->op->gen == j->gen && j->op->state == OP_RUNNING) {
        complete_locked(j->op, hr, doc, &io, has_io, 1);
    } else {
        /* The operation was completed meanwhile (service disconnect): discard the late result. */
        free(doc);
        if (has_io) {
            plat_close(io.in);
            plat_close(io.out);
            plat_close(io.err);
        }
    }
    obj_release(&j->op->h);
    plat_mutex_unlock(g_lock);
    if (j->free_arg) j->free_arg(j->arg);
    free(j);
}

void op_submit(op_obj *o, const char *function, int32_t fault, uint64_t key, op_work_fn work, void *arg,
               void (*free_arg)(void *))
{
    op_job *j = calloc(1, sizeof *j);
    uint32_t minimum = minimum_duration_for(function);
    if (!j) abort();
    j->op = o;
    j->gen = o->gen;
    j->fault = fault;
    j->latency = latency_for(function);
    j->work = work;
    j->arg = arg;
    j->free_arg = free_arg;
    /* FakeHcsSetMinimumDuration: the work waits in the queue (no thread held), later work of the same system
     * waits behind it, so the calls on one system still complete in order. */
    executor_submit_at(g_workers, key, minimum ? o->start_ms + minimum : 0, run_op_job, j);
}

typedef struct failure_arg {
    int32_t hr;
    char *message;
} failure_arg;

static int32_t work_failure(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    failure_arg *f = arg;
    (void)io, (void)has_io;
    if (fault) return fault;
    *doc = result_error_json(f->hr, f->message);
    return f->hr;
}

static void free_failure(void *arg)
{
    failure_arg *f = arg;
    free(f->message);
    free(f);
}

void op_submit_failure(op_obj *o, const char *function, int32_t fault, uint64_t key, int32_t hr, const char *message)
{
    failure_arg *f = calloc(1, sizeof *f);
    size_t n = message ? strlen(message) + 1 : 1;
    if (!f) abort();
    f->hr = hr;
    f->message = malloc(n);
    if (!f->message) abort();
    memcpy(f->message, message ? message : "", n);
    op_submit(o, function, fault, key, work_failure, f, free_failure);
}

void ops_fail_all_running(int32_t hr)
{
    plat_mutex_lock(g_lock);
    for (size_t i = 0; i < handles_count(); i++) {
        hobj *h = handles_at(i);
        if (h->kind == HK_OP && ((op_obj *)h)->state == OP_RUNNING)
            complete_locked((op_obj *)h, hr, result_error_json(hr, "The connection with the compute service was lost"),
                            NULL, 0, 1);
    }
    plat_mutex_unlock(g_lock);
}
