/* processes.c -- the process exports of computecore. Processes are real OS processes run by the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

typedef struct proc_job {
    uint64_t puid;
    char *doc;
    int retained;   /* holds an engine reference on the process until the job is done */
} proc_job;

static void free_proc_job(void *p)
{
    proc_job *j = p;
    /* Runs on the worker after the operation completed, no client lock held: the engine may now forget an
     * exited process whose handles are all closed. */
    if (j->retained) engine_process_release(j->puid);
    free(j->doc);
    free(j);
}

/* A job on process puid; it keeps the process known to the engine while it is queued or running, even if the
 * caller closes the process handle meanwhile (closing a handle with an operation in flight is allowed). */
static proc_job *new_proc_job(uint64_t puid, char *doc)
{
    proc_job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->puid = puid;
    j->doc = doc;
    j->retained = puid != 0 && engine_process_retain(puid) == 0;
    return j;
}

static uintptr_t new_proc_handle(uint64_t sys_uid, uint64_t puid)
{
    proc_handle *h = calloc(1, sizeof *h);
    uintptr_t v;
    if (!h) abort();
    h->h.kind = HK_PROC;
    h->sys_uid = sys_uid;
    h->puid = puid;
    plat_mutex_lock(g_lock);
    v = handle_insert(&h->h);
    g_open_procs++;
    plat_mutex_unlock(g_lock);
    return v;
}

/* Whether process is an open process handle; its system and process uids (puid 0: a process that was never
 * created, see HcsCreateProcess). */
static int lookup_proc(HCS_PROCESS process, uint64_t *sys_uid, uint64_t *puid)
{
    proc_handle *h;
    int ok = 0;
    plat_mutex_lock(g_lock);
    h = (proc_handle *)handle_find((uintptr_t)process, HK_PROC);
    if (h) {
        *sys_uid = h->sys_uid;
        *puid = h->puid;
        ok = 1;
    }
    plat_mutex_unlock(g_lock);
    return ok;
}

static int32_t work_start(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    int32_t hr;
    (void)doc;
    if (fault) {
        /* the process is never started: later calls on its handle fail with ERROR_NOT_FOUND */
        engine_process_abandon(j->puid);
        return fault;
    }
    hr = engine_process_start(j->puid, io);
    *has_io = hr == 0;
    return hr;
}

static int32_t work_info(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    int32_t hr;
    (void)doc;
    if (fault) return fault;
    hr = engine_process_info(j->puid, io);
    *has_io = hr == 0;
    return hr;
}

static int32_t work_signal(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    (void)doc, (void)io, (void)has_io;
    return fault ? fault : engine_process_signal(j->puid, j->doc);
}

static int32_t work_terminate(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    (void)doc, (void)io, (void)has_io;
    return fault ? fault : engine_process_terminate(j->puid, j->doc);
}

static int32_t work_modify(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    (void)doc, (void)io, (void)has_io;
    return fault ? fault : engine_process_modify(j->puid, j->doc);
}

static int32_t work_properties(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    proc_job *j = arg;
    (void)io, (void)has_io;
    return fault ? fault : engine_process_properties(j->puid, j->doc, doc);
}

FAKE_EXPORT HRESULT WINAPI HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation,
                                            const SECURITY_DESCRIPTOR *securityDescriptor, HCS_PROCESS *process)
{
    int32_t fault = 0, hr;
    sys_handle *sh;
    uint64_t uid = 0, puid = 0;
    char *params;
    char message[512];
    op_obj *o;
    uintptr_t value;
    hr = api_enter("HcsCreateProcess", &fault);
    if (hr) return hr;
    if (!process) return FAKE_E_INVALIDARG;
    *process = NULL;
    /* HcsCreateProcess.md: securityDescriptor "must be NULL" */
    if (securityDescriptor) return FAKE_E_INVALIDARG;
    plat_mutex_lock(g_lock);
    sh = (sys_handle *)handle_find((uintptr_t)computeSystem, HK_SYS);
    if (sh) uid = sh->uid;
    plat_mutex_unlock(g_lock);
    if (!sh) return computeSystem ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    params = wide_to_utf8(processParameters, &hr);
    if (hr) return hr;
    /* HcsCreateProcess.md: processParameters is _In_ (required): a missing argument fails the call. */
    if (!params) return FAKE_E_INVALIDARG;
    hr = op_begin(operation, HcsOperationTypeCreateProcess, (uintptr_t)computeSystem, 0, (uintptr_t)computeSystem, &o);
    if (hr) {
        free(params);
        return hr;
    }
    /* HcsCreateProcess.md: S_OK from the call means the operation started; what goes wrong creating the process
     * is the operation's result (as for HcsCreateComputeSystem, whose documents HCS validates in the operation:
     * HcsCreateComputeSystem.md "Operation Results"). So malformed ProcessParameters (HCS_E_INVALID_JSON) and a
     * system that no longer exists (HCS_E_SYSTEM_NOT_FOUND) fail the operation; the call returns S_OK with a
     * process handle that names a process that never starts (its calls fail with ERROR_NOT_FOUND) and must be
     * closed. Whether the system is running is decided when the operation executes, in order after earlier
     * calls on the system (HCS_E_INVALID_STATE: processes only exist in a running system). */
    hr = engine_process_create(uid, params, &puid);
    free(params);
    if (hr) snprintf(message, sizeof message, "%s", engine_last_error());
    value = new_proc_handle(uid, hr ? 0 : puid);
    plat_mutex_lock(g_lock);
    o->proc_value = value;
    plat_mutex_unlock(g_lock);
    if (hr) op_submit_failure(o, "HcsCreateProcess", fault, uid, hr, message);
    else op_submit(o, "HcsCreateProcess", fault, uid, work_start, new_proc_job(puid, NULL), free_proc_job);
    *process = (HCS_PROCESS)value;
    return 0;
}

FAKE_EXPORT HRESULT WINAPI HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess,
                                          HCS_PROCESS *process)
{
    int32_t hr;
    sys_handle *sh;
    uint64_t uid = 0, puid;
    hr = api_enter("HcsOpenProcess", NULL);
    if (hr) return hr;
    if (!process) return FAKE_E_INVALIDARG;
    *process = NULL;
    /* HcsOpenProcess.md: requestedAccess must be GENERIC_ALL (choice: anything else is E_INVALIDARG). */
    if (requestedAccess != FAKE_GENERIC_ALL) return FAKE_E_INVALIDARG;
    plat_mutex_lock(g_lock);
    sh = (sys_handle *)handle_find((uintptr_t)computeSystem, HK_SYS);
    if (sh) uid = sh->uid;
    plat_mutex_unlock(g_lock);
    if (!uid) return computeSystem ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    hr = engine_process_open(uid, processId, &puid);
    if (hr) return hr;
    *process = (HCS_PROCESS)new_proc_handle(uid, puid);
    return 0;
}

FAKE_EXPORT void WINAPI HcsCloseProcess(HCS_PROCESS process)
{
    fake_init();
    /* hcsshim v2/process.go: HcsCloseProcess delivers no final event; it unregisters and drains callbacks. */
    close_event_handle((uintptr_t)process, HK_PROC, "HcsCloseProcess");
}

/* What a process call's document argument may be: optional, required (_In_), or reserved ("Must be NULL"). */
enum { DOC_OPTIONAL, DOC_REQUIRED, DOC_RESERVED };

static HRESULT process_call(const char *function, HCS_PROCESS process, HCS_OPERATION operation, int type,
                            PCWSTR document, int document_kind, op_work_fn work)
{
    int32_t fault = 0, hr;
    uint64_t sys_uid, puid;
    char *doc;
    op_obj *o;
    hr = api_enter(function, &fault);
    if (hr) return hr;
    if (!lookup_proc(process, &sys_uid, &puid)) return process ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    doc = wide_to_utf8(document, &hr);
    if (hr) return hr;
    /* HcsModifyProcess.md: settings is _In_ (required); HcsTerminateProcess.md: options "Reserved for future use.
     * Must be NULL" (an empty string is tolerated, as hcsshim passes ""). Either mistake is the caller's: the call
     * fails and nothing starts. */
    if ((document_kind == DOC_REQUIRED && !doc) || (document_kind == DOC_RESERVED && doc && doc[0])) {
        free(doc);
        return FAKE_E_INVALIDARG;
    }
    hr = op_begin(operation, type, 0, (uintptr_t)process, (uintptr_t)process, &o);
    if (hr) {
        free(doc);
        return hr;
    }
    /* Process calls are ordered with the other calls on the same compute system. */
    op_submit(o, function, fault, sys_uid, work, new_proc_job(puid, doc), free_proc_job);
    return 0;
}

FAKE_EXPORT HRESULT WINAPI HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options)
{
    return process_call("HcsTerminateProcess", process, operation, HcsOperationTypeTerminate, options, DOC_RESERVED,
                        work_terminate);
}

FAKE_EXPORT HRESULT WINAPI HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options)
{
    return process_call("HcsSignalProcess", process, operation, HcsOperationTypeSignalProcess, options, DOC_OPTIONAL,
                        work_signal);
}

FAKE_EXPORT HRESULT WINAPI HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation)
{
    return process_call("HcsGetProcessInfo", process, operation, HcsOperationTypeGetProcessInfo, NULL, DOC_OPTIONAL,
                        work_info);
}

FAKE_EXPORT HRESULT WINAPI HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery)
{
    return process_call("HcsGetProcessProperties", process, operation, HcsOperationTypeGetProcessProperties,
                        propertyQuery, DOC_OPTIONAL, work_properties);
}

FAKE_EXPORT HRESULT WINAPI HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings)
{
    return process_call("HcsModifyProcess", process, operation, HcsOperationTypeModifyProcess, settings, DOC_REQUIRED,
                        work_modify);
}

FAKE_EXPORT HRESULT WINAPI HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, void *context,
                                                 HCS_EVENT_CALLBACK callback)
{
    int32_t hr = api_enter("HcsSetProcessCallback", NULL);
    if (hr) return hr;
    return register_callback((uintptr_t)process, HK_PROC, callbackOptions, context, callback);
}

FAKE_EXPORT HRESULT WINAPI HcsWaitForProcessExit(HCS_PROCESS computeSystem, DWORD timeoutMs, PWSTR *result)
{
    int32_t hr;
    uint64_t sys_uid, puid;
    char *doc = NULL;
    if (result) *result = NULL;
    hr = api_enter("HcsWaitForProcessExit", NULL);
    if (hr) return hr;
    if (!lookup_proc(computeSystem, &sys_uid, &puid)) return computeSystem ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    /* HcsWaitForProcessExit.md: result is ProcessStatus (LocalFree); a timeout gives HCS_E_OPERATION_TIMEOUT. */
    hr = engine_process_wait_exit(puid, timeoutMs, &doc);
    if (result) *result = result_from_utf8(doc);
    free(doc);
    return hr;
}
