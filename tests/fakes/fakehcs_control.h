/* Test control API of the fake HCS (names prefixed FakeHcs). Not part of the HCS ABI: tests and tools use it to
 * reset the fake, inject faults and latency, simulate service failures and read leak counters. */
#ifndef FAKEHCS_CONTROL_H
#define FAKEHCS_CONTROL_H

#include <stdint.h>

#if defined(_WIN32)
#define FAKEHCS_API __declspec(dllexport)
#else
#define FAKEHCS_API __attribute__((visibility("default")))
#endif

typedef struct FAKEHCS_COUNTERS {
    int64_t OpenOperations;      /* HCS_OPERATION handles created and not closed */
    int64_t OpenSystemHandles;   /* HCS_SYSTEM handles created/opened and not closed */
    int64_t OpenProcessHandles;  /* HCS_PROCESS handles created/opened and not closed */
    int64_t OutstandingStrings;  /* result strings handed to the caller and not yet LocalFree'd */
    int64_t LiveSystems;         /* compute systems known to the engine (any state) */
    int64_t RunningProcesses;    /* OS processes started by the fake and not yet reaped */
    int64_t CallbacksInFlight;   /* callbacks executing right now */
    int64_t CallbacksDelivered;  /* total callbacks invoked since the last reset */
} FAKEHCS_COUNTERS;

/* Fault flags */
#define FAKEHCS_FAULT_ASYNC 0u   /* default: the call returns S_OK and its operation completes with the HRESULT */
#define FAKEHCS_FAULT_SYNC 1u    /* the call itself returns the HRESULT (nothing is started) */

/* Terminates every process, forgets every system, clears faults/latency/disconnect state, zeroes counters.
 * Handles still open stay valid to close (closing them after a reset is harmless). */
FAKEHCS_API void FakeHcsReset(void);

/* The next `count` calls of `function` (an exported name such as "HcsStartComputeSystem", UTF-8) fail with `hr`:
 *  - a function that starts an operation: FAKEHCS_FAULT_ASYNC (default) -- the call returns S_OK and its operation
 *    completes with hr without doing the work; FAKEHCS_FAULT_SYNC -- the call returns hr and nothing starts;
 *  - any other function returning an HRESULT (including HcsGetOperationResult*, HcsWaitForOperationResult*,
 *    HcsSetOperationCallback, ...): the call returns hr and changes nothing (output pointers are NULL); the
 *    operation it names is untouched and a later call sees its real result;
 *  - HcsCreateOperation / HcsCreateOperationWithNotifications return NULL, their documented failure ("if resources
 *    required for the operation couldn't be allocated", HcsCreateOperation.md); hr is not used;
 *  - HcsGetOperationId returns HCS_INVALID_OPERATION_ID, HcsGetComputeSystemFromOperation and
 *    HcsGetProcessFromOperation return NULL (their documented "invalid/not active" answers); hr is not used.
 * Returns 0, -1 for an unknown function name, -2 for a function that cannot report a failure (HcsClose*,
 * HcsGetOperationContext, HcsGetOperationType). */
FAKEHCS_API int FakeHcsInjectFault(const char *function, int32_t hr, uint32_t count, uint32_t flags);

/* Adds `milliseconds` of latency before operations of `function` complete ("*" = every function; 0 clears). */
FAKEHCS_API int FakeHcsSetLatency(const char *function, uint32_t milliseconds);

/* Default minimum durations (milliseconds) of the operations whose handle is born by the call. */
#define FAKEHCS_DEFAULT_CREATE_SYSTEM_MS 100u
#define FAKEHCS_DEFAULT_CREATE_PROCESS_MS 10u

/* Operations of `function` complete no earlier than `milliseconds` after the call started them ("*" = every
 * function; 0 = as soon as the work is done): their work runs at that time (the state change it makes happens
 * then), in order with the other calls on the same compute system, without holding a fake thread while it
 * waits. FakeHcsSetLatency adds to it. Defaults (restored by FakeHcsReset):
 * HcsCreateComputeSystem and HcsCreateComputeSystemInNamespace FAKEHCS_DEFAULT_CREATE_SYSTEM_MS, HcsCreateProcess
 * FAKEHCS_DEFAULT_CREATE_PROCESS_MS, every other function 0. Returns 0, or -1 for an unknown function name. */
FAKEHCS_API int FakeHcsSetMinimumDuration(const char *function, uint32_t milliseconds);

/* The service "crashes": every registered callback receives HcsEventServiceDisconnect, operations in flight
 * complete with HCS_E_SERVICE_DISCONNECT, waits fail with it, and later calls fail with it until FakeHcsReset. */
FAKEHCS_API void FakeHcsSimulateServiceDisconnect(void);

/* The system stops by itself (its processes are killed); SystemExited carries ExitType "UnexpectedExit" and
 * `status` as Status. Returns 0, or -1 when no such system exists. */
FAKEHCS_API int FakeHcsSimulateUnexpectedExit(const char *systemId, int32_t status);

FAKEHCS_API void FakeHcsGetCounters(FAKEHCS_COUNTERS *counters);

/* The host the fake checks container images against (0xC0370101 when one does not fit; README "Utility VMs and
 * pods"): `version` in pyhcs.compat's PYHCS_HOST_OS_VERSION format, "<major>.<minor>.<build>[.<revision>]
 * [server|client]"; NULL or "" goes back to PYHCS_HOST_OS_VERSION of the engine's process (the service's, in
 * service mode), or "10.0.20348.2655 server" when it is unset. FakeHcsReset does the same. Returns 0, -1 for text
 * that is not a host (nothing changes), -2 when the service cannot be reached. */
FAKEHCS_API int FakeHcsSetHostOsVersion(const char *version);

/* Writes the host's version (the format above, always with its SKU) into buffer; returns its length, or -1 when
 * buffer is too small (or NULL) and -2 when the service cannot be reached. */
FAKEHCS_API int FakeHcsGetHostOsVersion(char *buffer, uint32_t size);

/* Waits until no operation work is queued or running, every engine event has been handed to the handles and no
 * callback is queued or running. Returns 1 when idle, 0 on timeout. (Added for the leak checks of the tests.) */
FAKEHCS_API int FakeHcsWaitIdle(uint32_t timeout_ms);

/* ---- service mode: the library is a client of a fake HCS service (PYHCS_FAKE_SERVICE names its endpoint) ----
 * FakeHcsGetCounters then gives this process's handle, string and callback counters with the service's
 * LiveSystems and RunningProcesses; FakeHcsReset, faults, latency, disconnect and unexpected exit act on the
 * service, so on every client. In process these functions describe this process, the only client. */

/* Every connected client's counters summed, with the service's LiveSystems and RunningProcesses. */
FAKEHCS_API void FakeHcsGetGlobalCounters(FAKEHCS_COUNTERS *counters);

/* The counters of the connected client with process id `pid` (its own handles, strings and callbacks; the
 * service's LiveSystems and RunningProcesses). Returns 0, or -1 when no such client is connected. */
FAKEHCS_API int FakeHcsGetClientCounters(uint32_t pid, FAKEHCS_COUNTERS *counters);

/* Writes up to `capacity` process ids of the connected clients into `pids`; returns how many are connected (-1 when
 * the service cannot be reached). */
FAKEHCS_API int FakeHcsListClients(uint32_t *pids, int capacity);

/* 0: in-process mode; 1: connected to the fake HCS service; -1: the service cannot be reached (HCS calls fail with
 * HCS_E_SERVICE_DISCONNECT until it can). */
FAKEHCS_API int FakeHcsServiceStatus(void);

#endif
