/* engine.h -- the "service" half of the fake HCS: compute systems, their real OS processes, and their states.
 *
 * The engine knows nothing of HCS handles, operations or user callbacks. Systems and processes are named by
 * engine-assigned ids (uids); every function is synchronous and thread-safe; documents are UTF-8 JSON. This is
 * the shape of a request/response protocol: the engine could run in a separate service process serving several
 * client processes (as vmcompute.exe serves computecore.dll), with the client side (operations.c, systems.c,
 * processes.c, events.c) talking to it through these calls plus one event subscription.
 *
 * On failure a function returns an HRESULT and leaves a message for engine_last_error() (per thread).
 */
#ifndef FAKEHCS_ENGINE_H
#define FAKEHCS_ENGINE_H

#include <stdint.h>

#include "platform.h"

enum {
    ENGINE_EVENT_SYSTEM_EXITED = 1,   /* data: SystemExitStatus */
    ENGINE_EVENT_PROCESS_EXITED = 2,  /* data: ProcessStatus */
    /* HCS_EVENT.md: both crash events carry a CrashReport (SchemaReference.md#CrashReport). */
    ENGINE_EVENT_SYSTEM_CRASH_INITIATED = 3,   /* data: CrashReport */
    ENGINE_EVENT_SYSTEM_CRASH_REPORT = 4,      /* data: CrashReport */
};

typedef struct engine_event {
    int kind;
    uint64_t system_uid;
    uint64_t process_uid;
    const char *data;   /* UTF-8 JSON, valid during the sink call */
} engine_event;

/* Starts the engine threads (reaper, notifier). Called once by the fake's global initialisation. */
void engine_init(void);

/* The sink runs on the engine's notifier thread (never on a caller's thread, never with an engine lock held),
 * one event at a time, in the order the events happened. */
typedef void (*engine_event_sink)(const engine_event *event, void *context);
void engine_subscribe(engine_event_sink sink, void *context);

/* Message describing the last failure of an engine call on this thread ("" if none). */
const char *engine_last_error(void);

typedef struct engine_stdio {
    uint32_t pid;
    plat_fd in, out, err;   /* caller-owned duplicates, PLAT_NO_FD for streams that do not exist */
} engine_stdio;

/* ---- systems ---- */
/* Validates the ComputeSystem document and reserves (ns, id) in state "Created"-pending; one handle reference. */
int32_t engine_system_create(const char *ns, const char *id, const char *config, uint64_t *uid);
/* Completes a reservation (failure != 0: the creation failed, the reservation is dropped). */
int32_t engine_system_complete_create(uint64_t uid, int32_t failure);
/* Looks up (ns, id) and adds a handle reference. */
int32_t engine_system_open(const char *ns, const char *id, uint64_t *uid);
/* Drops a handle reference; the last one terminates a system created with ShouldTerminateOnLastHandleClosed and
 * forgets a stopped system. */
void engine_system_release(uint64_t uid);

enum { ENGINE_SYS_START, ENGINE_SYS_SHUTDOWN, ENGINE_SYS_TERMINATE, ENGINE_SYS_PAUSE, ENGINE_SYS_RESUME,
       ENGINE_SYS_SAVE, ENGINE_SYS_CRASH, ENGINE_SYS_MODIFY };
/* Runs a state change; `document` is the call's options/settings (may be NULL). */
int32_t engine_system_action(uint64_t uid, int action, const char *document);
int32_t engine_system_properties(uint64_t uid, const char *query, char **result);
int32_t engine_enumerate(const char *ns, const char *query, char **result);
int32_t engine_system_wait_exit(uint64_t uid, uint32_t timeout_ms, char **result);
/* *stopped = 1 and *result = SystemExitStatus when the system has stopped. */
int32_t engine_system_exit_status(uint64_t uid, int *stopped, char **result);

/* ---- processes ----
 * A process is referenced by each client handle (engine_process_create / engine_process_open give one) and by
 * each client job in flight (engine_process_retain). Once it has exited (or never started) and its last
 * reference is released, the engine forgets it and closes its own ends of its pipes: calls with its puid then
 * fail with HRESULT_FROM_WIN32(ERROR_NOT_FOUND). */
/* Validates ProcessParameters and reserves a process of system sys_uid (started by engine_process_start); the
 * reservation holds one reference (the creator's handle). */
int32_t engine_process_create(uint64_t sys_uid, const char *parameters, uint64_t *puid);
int32_t engine_process_start(uint64_t puid, engine_stdio *stdio);
/* The reserved process will never be started (its creation failed). */
void engine_process_abandon(uint64_t puid);
/* Looks up a running process by pid and adds a reference (the new handle). */
int32_t engine_process_open(uint64_t sys_uid, uint32_t pid, uint64_t *puid);
/* Adds a reference (a job in flight); HRESULT_FROM_WIN32(ERROR_NOT_FOUND) when the process is gone. */
int32_t engine_process_retain(uint64_t puid);
/* Drops a reference (a closed handle, a finished job). */
void engine_process_release(uint64_t puid);
int32_t engine_process_info(uint64_t puid, engine_stdio *stdio);
int32_t engine_process_signal(uint64_t puid, const char *options);
int32_t engine_process_terminate(uint64_t puid, const char *options);
int32_t engine_process_modify(uint64_t puid, const char *settings);
int32_t engine_process_properties(uint64_t puid, const char *query, char **result);
int32_t engine_process_wait_exit(uint64_t puid, uint32_t timeout_ms, char **result);
int32_t engine_process_exit_status(uint64_t puid, int *exited, char **result);
uint32_t engine_process_pid(uint64_t puid);

/* ---- service ----
 * Host-wide state: CPU groups and Container Credential Guard instances, changed by engine_service_modify and
 * reported by engine_service_properties (cleared by engine_reset). */
int32_t engine_service_properties(const char *query, char **result);
/* HcsModifyServiceSettings: a ModificationRequest (PropertyType CpuGroup / ContainerCredentialGuard). *result is
 * reserved for a result document (NULL today); on failure the caller builds the ResultError from
 * engine_last_error(). */
int32_t engine_service_modify(const char *settings, char **result);

/* ---- the host's OS version ----
 * The version container images are checked against (oscompat.h): PYHCS_HOST_OS_VERSION of the engine's process,
 * else OSCOMPAT_DEFAULT_HOST; engine_reset reads it again. version NULL: only report it; "": back to the
 * environment's (or the default); else the new host ("10.0.17763.1234 [server|client]", E_INVALIDARG for anything
 * else, nothing changed). *current (malloc'd) is the host afterwards, in that format. */
int32_t engine_host_os(const char *version, char **current);

/* ---- control (FakeHcs*) ---- */
void engine_set_disconnected(int disconnected);
int engine_is_disconnected(void);
/* The system named id (any namespace) stops by itself: returns 0, or -1 if there is no such running system. */
int engine_unexpected_exit(const char *id, int32_t status);
/* SIGKILLs every process and waits until all are reaped (or timeout). */
void engine_kill_all(uint32_t timeout_ms);
/* Forgets every system and process and drops queued events. */
void engine_reset(void);
void engine_counts(int64_t *live_systems, int64_t *running_processes);
/* 1 when no event is queued or being delivered. */
int engine_events_idle(void);

#endif
