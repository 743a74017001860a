/* systems.c -- the compute system exports of computecore (client side of the engine's systems). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

typedef struct sys_job {
    uint64_t uid;
    int action;
    char *doc;
    char *ns;
} sys_job;

static void free_sys_job(void *p)
{
    sys_job *j = p;
    free(j->doc);
    free(j->ns);
    free(j);
}

static sys_job *new_sys_job(uint64_t uid, int action, char *doc)
{
    sys_job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->uid = uid;
    j->action = action;
    j->doc = doc;
    return j;
}

static uintptr_t new_sys_handle(uint64_t uid)
{
    sys_handle *h = calloc(1, sizeof *h);
    uintptr_t v;
    if (!h) abort();
    h->h.kind = HK_SYS;
    h->uid = uid;
    plat_mutex_lock(g_lock);
    v = handle_insert(&h->h);
    g_open_sys++;
    plat_mutex_unlock(g_lock);
    return v;
}

/* Whether system is an open system handle, and the engine uid behind it (0: the handle of a compute system whose
 * creation failed, see create_system; engine calls with it fail with HCS_E_SYSTEM_NOT_FOUND). */
static int sys_lookup(HCS_SYSTEM system, uint64_t *uid)
{
    sys_handle *h;
    plat_mutex_lock(g_lock);
    h = (sys_handle *)handle_find((uintptr_t)system, HK_SYS);
    *uid = h ? h->uid : 0;
    plat_mutex_unlock(g_lock);
    return h != NULL;
}

static int32_t work_create(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    sys_job *j = arg;
    (void)doc, (void)io, (void)has_io;
    if (fault) {
        engine_system_complete_create(j->uid, fault);
        return fault;
    }
    return engine_system_complete_create(j->uid, 0);
}

static int32_t work_action(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    sys_job *j = arg;
    (void)doc, (void)io, (void)has_io;
    if (fault) return fault;
    return engine_system_action(j->uid, j->action, j->doc);
}

static int32_t work_properties(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    sys_job *j = arg;
    (void)io, (void)has_io;
    if (fault) return fault;
    return engine_system_properties(j->uid, j->doc, doc);
}

static int32_t work_enumerate(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    sys_job *j = arg;
    (void)io, (void)has_io;
    if (fault) return fault;
    return engine_enumerate(j->ns, j->doc, doc);
}

static int32_t work_live_migration(void *arg, int32_t fault, char **doc, engine_stdio *io, int *has_io)
{
    (void)arg, (void)doc, (void)io, (void)has_io;
    if (fault) return fault;
    /* choice: the fake's systems are never configured for live migration. */
    *doc = result_error_json(HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION,
                             "The fake HCS does not implement live migration");
    return HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION;
}

/* ---------------------------------------------------------------- enumerate */

static HRESULT enumerate(const char *function, PCWSTR idNamespace, PCWSTR query, HCS_OPERATION operation)
{
    int32_t fault = 0, hr;
    char *ns, *q;
    op_obj *o;
    sys_job *j;
    hr = api_enter(function, &fault);
    if (hr) return hr;
    ns = wide_to_utf8(idNamespace, &hr);
    if (hr) return hr;
    q = wide_to_utf8(query, &hr);
    if (hr) {
        free(ns);
        return hr;
    }
    hr = op_begin(operation, HcsOperationTypeEnumerate, 0, 0, 0, &o);
    if (hr) {
        free(ns);
        free(q);
        return hr;
    }
    j = new_sys_job(0, 0, q);
    j->ns = ns ? ns : calloc(1, 1);
    op_submit(o, function, fault, 0, work_enumerate, j, free_sys_job);
    return 0;
}

FAKE_EXPORT HRESULT WINAPI HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation)
{
    return enumerate("HcsEnumerateComputeSystems", NULL, query, operation);
}

/* choice: a namespace is a separate id space; NULL is the default namespace used by the plain functions. */
FAKE_EXPORT HRESULT WINAPI HcsEnumerateComputeSystemsInNamespace(PCWSTR idNamespace, PCWSTR query,
                                                                 HCS_OPERATION operation)
{
    return enumerate("HcsEnumerateComputeSystemsInNamespace", idNamespace, query, operation);
}

/* ---------------------------------------------------------------- create / open / close */

static HRESULT create_system(const char *function, PCWSTR idNamespace, PCWSTR id, PCWSTR configuration,
                             HCS_OPERATION operation, int bad_security_descriptor,
                             const HCS_CREATE_OPTIONS *options, HCS_SYSTEM *computeSystem)
{
    int32_t fault = 0, hr;
    char *ns = NULL, *sid = NULL, *config = NULL;
    char message[512];
    op_obj *o;
    uint64_t uid;
    uintptr_t value;
    const HCS_CREATE_OPTIONS_1 *opt1 = NULL;
    hr = api_enter(function, &fault);
    if (hr) return hr;
    if (!computeSystem) return FAKE_E_INVALIDARG;
    *computeSystem = NULL;
    /* HcsCreateComputeSystem.md: securityDescriptor "Reserved for future use, must be NULL". */
    if (bad_security_descriptor) return FAKE_E_INVALIDARG;
    if (options) {
        /* HCS_CREATE_OPTIONS is the version tag at the start of HCS_CREATE_OPTIONS_1. */
        if (*options != HcsCreateOptions_1) return FAKE_E_INVALIDARG;
        opt1 = (const HCS_CREATE_OPTIONS_1 *)options;
    }
    ns = wide_to_utf8(idNamespace, &hr);
    if (!hr) sid = wide_to_utf8(id, &hr);
    if (!hr) config = wide_to_utf8(configuration, &hr);
    if (!hr && (!sid || !sid[0])) hr = FAKE_E_INVALIDARG;
    if (hr) goto out;
    /* HcsCreateComputeSystem.md: configuration is _In_ (required): a missing argument fails the call. */
    if (!config) {
        hr = FAKE_E_INVALIDARG;
        goto out;
    }
    hr = op_begin(operation, HcsOperationTypeCreate, 0, 0, 0, &o);
    if (hr) goto out;
    /* HcsCreateComputeSystem.md, "Operation Results": S_OK from the call means the operation started; "if
     * something went wrong when creating the compute system", the *operation's* result says what, with a
     * ResultError document (real HCS reports an invalid configuration that way: the ResultError quoted in
     * MicrosoftDocs/Virtualization-Documentation issue #1702 came from Tutorial.md's HcsWaitForOperationResult).
     * So an invalid document (HCS_E_INVALID_JSON) or a duplicate id (HCS_E_SYSTEM_ALREADY_EXISTS) fails the
     * operation, and the call returns S_OK with a handle that names no system: the caller closes it, and calls
     * on it fail with HCS_E_SYSTEM_NOT_FOUND (which hcsshim's Terminate tolerates on this cleanup path). The id
     * is checked and reserved when the call is made, so two creates of one id cannot both succeed. */
    hr = engine_system_create(ns ? ns : "", sid, config, &uid);
    if (hr) {
        snprintf(message, sizeof message, "%s", engine_last_error());
        uid = 0;
    }
    value = new_sys_handle(uid);
    plat_mutex_lock(g_lock);
    o->sys_value = value;
    o->target_value = value;
    plat_mutex_unlock(g_lock);
    if (opt1 && opt1->Callback)
        register_callback(value, HK_SYS, opt1->CallbackOptions, opt1->CallbackContext, opt1->Callback);
    if (hr) op_submit_failure(o, function, fault, 0, hr, message);
    else op_submit(o, function, fault, uid, work_create, new_sys_job(uid, 0, NULL), free_sys_job);
    *computeSystem = (HCS_SYSTEM)value;
    hr = 0;
out:
    free(ns);
    free(sid);
    free(config);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation,
                                                  const SECURITY_DESCRIPTOR *securityDescriptor,
                                                  HCS_SYSTEM *computeSystem)
{
    return create_system("HcsCreateComputeSystem", NULL, id, configuration, operation, securityDescriptor != NULL,
                         NULL, computeSystem);
}

FAKE_EXPORT HRESULT WINAPI HcsCreateComputeSystemInNamespace(PCWSTR idNamespace, PCWSTR id, PCWSTR configuration,
                                                             HCS_OPERATION operation, const HCS_CREATE_OPTIONS *options,
                                                             HCS_SYSTEM *computeSystem)
{
    return create_system("HcsCreateComputeSystemInNamespace", idNamespace, id, configuration, operation, 0, options,
                         computeSystem);
}

static HRESULT open_system(const char *function, PCWSTR idNamespace, PCWSTR id, DWORD requestedAccess,
                           HCS_SYSTEM *computeSystem)
{
    int32_t hr;
    char *ns = NULL, *sid = NULL;
    uint64_t uid;
    hr = api_enter(function, NULL);
    if (hr) return hr;
    if (!computeSystem) return FAKE_E_INVALIDARG;
    *computeSystem = NULL;
    /* HcsOpenComputeSystem.md: requestedAccess "must be GENERIC_ALL" (choice: anything else is E_INVALIDARG). */
    if (requestedAccess != FAKE_GENERIC_ALL) return FAKE_E_INVALIDARG;
    ns = wide_to_utf8(idNamespace, &hr);
    if (!hr) sid = wide_to_utf8(id, &hr);
    if (!hr && (!sid || !sid[0])) hr = FAKE_E_INVALIDARG;
    if (!hr) hr = engine_system_open(ns ? ns : "", sid, &uid);
    if (!hr) *computeSystem = (HCS_SYSTEM)new_sys_handle(uid);
    free(ns);
    free(sid);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem)
{
    return open_system("HcsOpenComputeSystem", NULL, id, requestedAccess, computeSystem);
}

FAKE_EXPORT HRESULT WINAPI HcsOpenComputeSystemInNamespace(PCWSTR idNamespace, PCWSTR id, DWORD requestedAccess,
                                                           HCS_SYSTEM *computeSystem)
{
    return open_system("HcsOpenComputeSystemInNamespace", idNamespace, id, requestedAccess, computeSystem);
}

FAKE_EXPORT void WINAPI HcsCloseComputeSystem(HCS_SYSTEM computeSystem)
{
    fake_init();
    close_event_handle((uintptr_t)computeSystem, HK_SYS, "HcsCloseComputeSystem");
}

/* ---------------------------------------------------------------- state changes and queries */

static HRESULT system_call(const char *function, HCS_SYSTEM computeSystem, HCS_OPERATION operation, int type,
                           int action, PCWSTR document, op_work_fn work)
{
    int32_t fault = 0, hr;
    uint64_t uid;
    char *doc;
    op_obj *o;
    hr = api_enter(function, &fault);
    if (hr) return hr;
    if (!sys_lookup(computeSystem, &uid)) return computeSystem ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    doc = wide_to_utf8(document, &hr);
    if (hr) return hr;
    /* HcsModifyComputeSystem.md: configuration is _In_ (required): a missing argument fails the call. */
    if (!doc && action == ENGINE_SYS_MODIFY) return FAKE_E_INVALIDARG;
    hr = op_begin(operation, type, (uintptr_t)computeSystem, 0, (uintptr_t)computeSystem, &o);
    if (hr) {
        free(doc);
        return hr;
    }
    /* Everything about the system's state is the operation's result, decided in order with the earlier calls on
     * the system: e.g. HcsShutDownComputeSystem.md lists HCS_E_SYSTEM_ALREADY_STOPPED ("duplicate shutdown or
     * terminate for same compute system") under "Operation Results", with the call returning S_OK;
     * HcsSaveComputeSystem.md lists HCS_E_INVALID_STATE there too; Tutorial.md retries HcsModifyComputeSystem on
     * the operation's result while the VM boots. */
    op_submit(o, function, fault, uid, work, new_sys_job(uid, action, doc), free_sys_job);
    return 0;
}

FAKE_EXPORT HRESULT WINAPI HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsStartComputeSystem", computeSystem, operation, HcsOperationTypeStart, ENGINE_SYS_START,
                       options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsShutDownComputeSystem", computeSystem, operation, HcsOperationTypeShutdown,
                       ENGINE_SYS_SHUTDOWN, options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                     PCWSTR options)
{
    return system_call("HcsTerminateComputeSystem", computeSystem, operation, HcsOperationTypeTerminate,
                       ENGINE_SYS_TERMINATE, options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsCrashComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsCrashComputeSystem", computeSystem, operation, HcsOperationTypeCrash, ENGINE_SYS_CRASH,
                       options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsPauseComputeSystem", computeSystem, operation, HcsOperationTypePause, ENGINE_SYS_PAUSE,
                       options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsResumeComputeSystem", computeSystem, operation, HcsOperationTypeResume, ENGINE_SYS_RESUME,
                       options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsSaveComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsSaveComputeSystem", computeSystem, operation, HcsOperationTypeSave, ENGINE_SYS_SAVE,
                       options, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                         PCWSTR propertyQuery)
{
    return system_call("HcsGetComputeSystemProperties", computeSystem, operation, HcsOperationTypeGetProperties, -1,
                       propertyQuery, work_properties);
}

FAKE_EXPORT HRESULT WINAPI HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                  PCWSTR configuration, HANDLE identity)
{
    (void)identity;
    return system_call("HcsModifyComputeSystem", computeSystem, operation, HcsOperationTypeModify, ENGINE_SYS_MODIFY,
                       configuration, work_action);
}

FAKE_EXPORT HRESULT WINAPI HcsInitializeLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                              PCWSTR options)
{
    return system_call("HcsInitializeLiveMigrationOnSource", computeSystem, operation, HcsOperationTypeLiveMigration,
                       -1, options, work_live_migration);
}

FAKE_EXPORT HRESULT WINAPI HcsStartLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                         PCWSTR options)
{
    return system_call("HcsStartLiveMigrationOnSource", computeSystem, operation, HcsOperationTypeLiveMigration, -1,
                       options, work_live_migration);
}

FAKE_EXPORT HRESULT WINAPI HcsStartLiveMigrationTransfer(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                         PCWSTR options)
{
    return system_call("HcsStartLiveMigrationTransfer", computeSystem, operation, HcsOperationTypeLiveMigration, -1,
                       options, work_live_migration);
}

FAKE_EXPORT HRESULT WINAPI HcsFinalizeLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)
{
    return system_call("HcsFinalizeLiveMigration", computeSystem, operation, HcsOperationTypeLiveMigration, -1,
                       options, work_live_migration);
}

FAKE_EXPORT HRESULT WINAPI HcsWaitForComputeSystemExit(HCS_SYSTEM computeSystem, DWORD timeoutMs, PWSTR *result)
{
    int32_t hr;
    uint64_t uid;
    char *doc = NULL;
    if (result) *result = NULL;
    hr = api_enter("HcsWaitForComputeSystemExit", NULL);
    if (hr) return hr;
    if (!sys_lookup(computeSystem, &uid)) return computeSystem ? FAKE_E_HANDLE : FAKE_E_INVALIDARG;
    /* HcsWaitForComputeSystemExit.md: result is SystemExitStatus, freed with LocalFree; a timeout gives
     * HCS_E_OPERATION_TIMEOUT. */
    hr = engine_system_wait_exit(uid, timeoutMs, &doc);   /* choice: no document on failure */
    if (result) *result = result_from_utf8(doc);
    free(doc);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions,
                                                       const void *context, HCS_EVENT_CALLBACK callback)
{
    int32_t hr = api_enter("HcsSetComputeSystemCallback", NULL);
    if (hr) return hr;
    return register_callback((uintptr_t)computeSystem, HK_SYS, callbackOptions, (void *)context, callback);
}
