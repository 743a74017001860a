/* control.c -- the test control API (fakehcs_control.h): reset, fault injection, latency, service disconnect,
 * unexpected exit, counters. Not part of the HCS ABI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

/* Every exported HCS function (computecore.h: 59, computestorage.h: 14), in header order. */
static const char *const FUNCTIONS[] = {
    "HcsEnumerateComputeSystems",
    "HcsEnumerateComputeSystemsInNamespace",
    "HcsCreateOperation",
    "HcsCreateOperationWithNotifications",
    "HcsCloseOperation",
    "HcsGetOperationContext",
    "HcsSetOperationContext",
    "HcsGetComputeSystemFromOperation",
    "HcsGetProcessFromOperation",
    "HcsGetOperationType",
    "HcsGetOperationId",
    "HcsGetOperationResult",
    "HcsGetOperationResultAndProcessInfo",
    "HcsAddResourceToOperation",
    "HcsGetProcessorCompatibilityFromSavedState",
    "HcsWaitForOperationResult",
    "HcsWaitForOperationResultAndProcessInfo",
    "HcsSetOperationCallback",
    "HcsCancelOperation",
    "HcsGetOperationProperties",
    "HcsCreateComputeSystem",
    "HcsCreateComputeSystemInNamespace",
    "HcsOpenComputeSystem",
    "HcsOpenComputeSystemInNamespace",
    "HcsCloseComputeSystem",
    "HcsStartComputeSystem",
    "HcsShutDownComputeSystem",
    "HcsTerminateComputeSystem",
    "HcsCrashComputeSystem",
    "HcsPauseComputeSystem",
    "HcsResumeComputeSystem",
    "HcsSaveComputeSystem",
    "HcsGetComputeSystemProperties",
    "HcsModifyComputeSystem",
    "HcsWaitForComputeSystemExit",
    "HcsSetComputeSystemCallback",
    "HcsInitializeLiveMigrationOnSource",
    "HcsStartLiveMigrationOnSource",
    "HcsStartLiveMigrationTransfer",
    "HcsFinalizeLiveMigration",
    "HcsCreateProcess",
    "HcsOpenProcess",
    "HcsCloseProcess",
    "HcsTerminateProcess",
    "HcsSignalProcess",
    "HcsGetProcessInfo",
    "HcsGetProcessProperties",
    "HcsModifyProcess",
    "HcsSetProcessCallback",
    "HcsWaitForProcessExit",
    "HcsGetServiceProperties",
    "HcsModifyServiceSettings",
    "HcsSubmitWerReport",
    "HcsCreateEmptyGuestStateFile",
    "HcsCreateEmptyRuntimeStateFile",
    "HcsGrantVmAccess",
    "HcsRevokeVmAccess",
    "HcsGrantVmGroupAccess",
    "HcsRevokeVmGroupAccess",
    "HcsImportLayer",
    "HcsExportLayer",
    "HcsExportLegacyWritableLayer",
    "HcsDestroyLayer",
    "HcsSetupBaseOSLayer",
    "HcsInitializeWritableLayer",
    "HcsInitializeLegacyWritableLayer",
    "HcsAttachLayerStorageFilter",
    "HcsDetachLayerStorageFilter",
    "HcsFormatWritableLayerVhd",
    "HcsGetLayerVhdMountPath",
    "HcsSetupBaseOSVolume",
    "HcsAttachOverlayFilter",
    "HcsDetachOverlayFilter",
    NULL
};
#define NFUNCTIONS (sizeof FUNCTIONS / sizeof FUNCTIONS[0] - 1)

typedef struct fault {
    uint32_t count;
    int32_t hr;
    uint32_t flags;
} fault;

/* Functions that have no way to report a failure (void, or a value that cannot mean failure):
 * FakeHcsInjectFault refuses them. */
static const char *const CANNOT_FAIL[] = {
    "HcsCloseOperation", "HcsCloseComputeSystem", "HcsCloseProcess", "HcsGetOperationContext",
    "HcsGetOperationType", NULL
};

/* The realistic minimum duration of operations (FakeHcsSetMinimumDuration), by default only for the calls whose
 * handle is born by the call: HcsCreateComputeSystem* and HcsCreateProcess. Real HCS needs far longer to create
 * a container or a virtual machine (silo or worker process, storage, network) or to start a process in one, and
 * OperationCompletionSample.md relies on it: it registers the new system's event callback (with
 * HcsEventOptionEnableOperationCallbacks) after HcsCreateComputeSystem returns and then waits for the create's
 * completion through that callback -- which works only if the create is still running at registration. For the
 * other calls the handle exists before the call, so a caller can always register first. */
static const struct { const char *function; uint32_t ms; } MINIMUM_DEFAULTS[] = {
    { "HcsCreateComputeSystem", FAKEHCS_DEFAULT_CREATE_SYSTEM_MS },
    { "HcsCreateComputeSystemInNamespace", FAKEHCS_DEFAULT_CREATE_SYSTEM_MS },
    { "HcsCreateProcess", FAKEHCS_DEFAULT_CREATE_PROCESS_MS },
};

static plat_mutex *ctl_lock;
static fault faults[NFUNCTIONS];
static uint32_t latency[NFUNCTIONS];
static uint32_t latency_all;
static uint32_t minimum[NFUNCTIONS];

static int function_index(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < NFUNCTIONS; i++)
        if (strcmp(FUNCTIONS[i], name) == 0) return (int)i;
    return -1;
}

/* ctl_lock held. */
static void minimum_defaults(void)
{
    memset(minimum, 0, sizeof minimum);
    for (size_t i = 0; i < sizeof MINIMUM_DEFAULTS / sizeof MINIMUM_DEFAULTS[0]; i++)
        minimum[function_index(MINIMUM_DEFAULTS[i].function)] = MINIMUM_DEFAULTS[i].ms;
}

void control_init(void)
{
    ctl_lock = plat_mutex_create();
    minimum_defaults();
}

int fault_take(const char *function, int32_t *hr, int *sync)
{
    int i = function_index(function), hit = 0;
    if (i < 0) return 0;
    if (remote_active()) return remote_fault_take(function, hr, sync);   /* the service counts faults */
    plat_mutex_lock(ctl_lock);
    if (faults[i].count > 0) {
        faults[i].count--;
        *hr = faults[i].hr;
        *sync = (faults[i].flags & FAKEHCS_FAULT_SYNC) != 0;
        hit = 1;
    }
    plat_mutex_unlock(ctl_lock);
    return hit;
}

uint32_t minimum_duration_for(const char *function)
{
    int i = function_index(function);
    uint32_t ms;
    if (i < 0) return 0;
    plat_mutex_lock(ctl_lock);
    ms = minimum[i];
    plat_mutex_unlock(ctl_lock);
    return ms;
}

uint32_t latency_for(const char *function)
{
    int i = function_index(function);
    uint32_t ms;
    if (remote_active()) return remote_latency_for(function);
    plat_mutex_lock(ctl_lock);
    ms = i >= 0 && latency[i] ? latency[i] : latency_all;
    plat_mutex_unlock(ctl_lock);
    return ms;
}

FAKEHCS_API int FakeHcsInjectFault(const char *function, int32_t hr, uint32_t count, uint32_t flags)
{
    int i;
    fake_init();
    i = function_index(function);
    if (i < 0) return -1;
    for (int k = 0; CANNOT_FAIL[k]; k++)
        if (strcmp(CANNOT_FAIL[k], function) == 0) return -2;
    if (remote_active()) return remote_inject_fault(function, hr, count, flags);
    plat_mutex_lock(ctl_lock);
    faults[i].count = count;
    faults[i].hr = hr;
    faults[i].flags = flags;
    plat_mutex_unlock(ctl_lock);
    return 0;
}

FAKEHCS_API int FakeHcsSetLatency(const char *function, uint32_t milliseconds)
{
    int i;
    fake_init();
    if (remote_active()) return remote_set_latency(function, milliseconds);   /* the service validates the name */
    if (function && strcmp(function, "*") == 0) {
        plat_mutex_lock(ctl_lock);
        latency_all = milliseconds;
        plat_mutex_unlock(ctl_lock);
        return 0;
    }
    i = function_index(function);
    if (i < 0) return -1;
    plat_mutex_lock(ctl_lock);
    latency[i] = milliseconds;
    plat_mutex_unlock(ctl_lock);
    return 0;
}

FAKEHCS_API int FakeHcsSetMinimumDuration(const char *function, uint32_t milliseconds)
{
    int i;
    fake_init();
    if (function && strcmp(function, "*") == 0) {
        plat_mutex_lock(ctl_lock);
        for (size_t k = 0; k < NFUNCTIONS; k++) minimum[k] = milliseconds;
        plat_mutex_unlock(ctl_lock);
        return 0;
    }
    i = function_index(function);
    if (i < 0) return -1;
    plat_mutex_lock(ctl_lock);
    minimum[i] = milliseconds;
    plat_mutex_unlock(ctl_lock);
    return 0;
}

FAKEHCS_API void FakeHcsSimulateServiceDisconnect(void)
{
    fake_init();
    /* HCS_EVENT.md HcsEventServiceDisconnect: the service crashed or was stopped. Operations in flight complete
     * with HCS_E_SERVICE_DISCONNECT, waits fail with it, later calls fail with it (until FakeHcsReset). */
    engine_set_disconnected(1);
    events_broadcast_disconnect();
    ops_fail_all_running(HCS_E_SERVICE_DISCONNECT);
}

FAKEHCS_API int FakeHcsSimulateUnexpectedExit(const char *systemId, int32_t status)
{
    fake_init();
    if (!systemId) return -1;
    return engine_unexpected_exit(systemId, status);
}

FAKEHCS_API int FakeHcsSetHostOsVersion(const char *version)
{
    char *current = NULL;
    int32_t hr;
    fake_init();
    hr = engine_host_os(version ? version : "", &current);
    free(current);
    if (hr == FAKE_E_INVALIDARG) return -1;
    return hr ? -2 : 0;
}

FAKEHCS_API int FakeHcsGetHostOsVersion(char *buffer, uint32_t size)
{
    char *current = NULL;
    size_t n;
    fake_init();
    if (engine_host_os(NULL, &current) != 0 || !current) {
        free(current);
        return -2;
    }
    n = strlen(current);
    if (!buffer || n + 1 > size) {
        free(current);
        return -1;
    }
    memcpy(buffer, current, n + 1);
    free(current);
    return (int)n;
}

FAKEHCS_API void FakeHcsGetCounters(FAKEHCS_COUNTERS *c)
{
    fake_init();
    if (!c) return;
    memset(c, 0, sizeof *c);
    plat_mutex_lock(g_lock);
    c->OpenOperations = g_open_ops;
    c->OpenSystemHandles = g_open_sys;
    c->OpenProcessHandles = g_open_procs;
    c->CallbacksInFlight = g_callbacks_in_flight;
    c->CallbacksDelivered = g_callbacks_delivered;
    plat_mutex_unlock(g_lock);
    c->OutstandingStrings = alloc_outstanding();
    engine_counts(&c->LiveSystems, &c->RunningProcesses);
}

FAKEHCS_API int FakeHcsWaitIdle(uint32_t timeout_ms)
{
    uint64_t deadline;
    fake_init();
    deadline = plat_monotonic_ms() + timeout_ms;
    for (;;) {
        uint64_t now = plat_monotonic_ms();
        uint32_t left = now < deadline ? (uint32_t)(deadline - now) : 0;
        /* workers idle, engine events delivered, callbacks done -- checked twice because each stage feeds the
         * next (a worker completes an operation -> a callback is queued). */
        if (executor_wait_idle(g_workers, left) && engine_events_idle() && executor_wait_idle(g_dispatcher, 0) &&
            executor_wait_idle(g_workers, 0) && engine_events_idle() && executor_wait_idle(g_dispatcher, 0))
            return 1;
        if (plat_monotonic_ms() >= deadline) return 0;
        if (!engine_events_idle()) plat_sleep_ms(1);
        executor_wait_idle(g_dispatcher, 10);
    }
}

FAKEHCS_API void FakeHcsReset(void)
{
    fake_init();
    /* Kill every process first so that waits and shutdowns in progress finish, then let queued work drain. */
    engine_kill_all(10000);
    executor_wait_idle(g_workers, 10000);
    engine_reset();
    FakeHcsWaitIdle(10000);
    plat_mutex_lock(ctl_lock);
    memset(faults, 0, sizeof faults);
    memset(latency, 0, sizeof latency);
    latency_all = 0;
    minimum_defaults();
    plat_mutex_unlock(ctl_lock);
    plat_mutex_lock(g_lock);
    /* Handles still open become unknown: closing them later is a harmless no-op. */
    handles_clear();
    g_open_ops = g_open_sys = g_open_procs = 0;
    g_callbacks_in_flight = 0;
    g_callbacks_delivered = 0;
    plat_cond_broadcast(g_cond);
    plat_mutex_unlock(g_lock);
    alloc_reset();
    storage_reset();
}
