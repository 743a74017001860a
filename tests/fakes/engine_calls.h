/* engine_calls.h -- every engine.h call that the client mode of the fake forwards to the fake HCS service: one row
 * per call, read by remote.c (the client stubs, which also choose in-process or service at run time) and by
 * server.c (what the service runs). Included several times with different definitions of the two row macros
 * (an X-macro file: no include guard).
 *
 *   ENGINE_CALL(op, ret, name, params, format, args, unreachable, service)      for calls that return a value
 *   ENGINE_CALL_VOID(op, name, params, format, args, service)                   for void calls
 *
 *   op           the REQUEST op number on the wire (stable: never reuse or renumber one; new calls take new ones)
 *   ret, name, params   exactly as engine.h declares engine_<name> (the compiler checks them against it)
 *   format       how the arguments cross, inputs then '>' then outputs (wire.h gives the encoding):
 *                  inputs   s const char * (NULL allowed)   t const char * (never NULL: the engine needs it)
 *                           U uint64_t uid   u uint32_t   i int32_t / int
 *                  outputs  U uint64_t * uid   S char ** (malloc'd, caller frees)   n int *   L int64_t *
 *                           F engine_stdio * (the pid and the streams, which cross as handles: transport.h)
 *   args         the parameter names, in format order
 *   unreachable  what the client returns when the service cannot be asked (not connected, or the uid belongs to
 *                a connection that was lost); engine_last_error() says why
 *   service      the expression the service evaluates: S(i) U(i) W(i) I(i) read input i, OUT_U(i) OUT_S(i)
 *                OUT_N(i) OUT_L(i) OUT_F(i) point at output i, c is the client's connection. Most rows call the
 *                in-process engine (local_engine_*); the svc_* wrappers (server.c) also keep the per-client
 *                bookkeeping that lets the service close a dead client's handles.
 *
 * Forwarding a new engine.h call: add its row here (a new op number) and its line to engine_local.h. */

ENGINE_CALL(1, int32_t, system_create, (const char *ns, const char *id, const char *config, uint64_t *uid),
            "tss>U", (ns, id, config, uid), HCS_E_SERVICE_DISCONNECT,
            svc_system_create(c, S(0), S(1), S(2), OUT_U(3)))
ENGINE_CALL(2, int32_t, system_complete_create, (uint64_t uid, int32_t failure),
            "Ui", (uid, failure), HCS_E_SERVICE_DISCONNECT,
            svc_system_complete_create(c, U(0), I(1)))
ENGINE_CALL(3, int32_t, system_open, (const char *ns, const char *id, uint64_t *uid),
            "tt>U", (ns, id, uid), HCS_E_SERVICE_DISCONNECT,
            svc_system_open(c, S(0), S(1), OUT_U(2)))
ENGINE_CALL_VOID(4, system_release, (uint64_t uid),
                 "U", (uid),
                 svc_system_release(c, U(0)))
/* op 5 was system_precheck (removed: no state is checked at call time any more); never reuse it. */
ENGINE_CALL(6, int32_t, system_action, (uint64_t uid, int action, const char *document),
            "Uis", (uid, action, document), HCS_E_SERVICE_DISCONNECT,
            local_engine_system_action(U(0), I(1), S(2)))
ENGINE_CALL(7, int32_t, system_properties, (uint64_t uid, const char *query, char **result),
            "Us>S", (uid, query, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_system_properties(U(0), S(1), OUT_S(2)))
ENGINE_CALL(8, int32_t, enumerate, (const char *ns, const char *query, char **result),
            "ts>S", (ns, query, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_enumerate(S(0), S(1), OUT_S(2)))
ENGINE_CALL(9, int32_t, system_wait_exit, (uint64_t uid, uint32_t timeout_ms, char **result),
            "Uu>S", (uid, timeout_ms, result), HCS_E_SERVICE_DISCONNECT,
            svc_system_wait_exit(c, U(0), W(1), OUT_S(2)))
ENGINE_CALL(10, int32_t, system_exit_status, (uint64_t uid, int *stopped, char **result),
            "U>nS", (uid, stopped, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_system_exit_status(U(0), OUT_N(1), OUT_S(2)))
ENGINE_CALL(11, int32_t, process_create, (uint64_t sys_uid, const char *parameters, uint64_t *puid),
            "Us>U", (sys_uid, parameters, puid), HCS_E_SERVICE_DISCONNECT,
            svc_process_create(c, U(0), S(1), OUT_U(2)))
ENGINE_CALL(12, int32_t, process_start, (uint64_t puid, engine_stdio *stdio),
            "U>F", (puid, stdio), HCS_E_SERVICE_DISCONNECT,
            svc_process_start(c, U(0), OUT_F(1)))
ENGINE_CALL_VOID(13, process_abandon, (uint64_t puid),
                 "U", (puid),
                 svc_process_abandon(c, U(0)))
ENGINE_CALL(14, int32_t, process_open, (uint64_t sys_uid, uint32_t pid, uint64_t *puid),
            "Uu>U", (sys_uid, pid, puid), HCS_E_SERVICE_DISCONNECT,
            svc_process_open(c, U(0), W(1), OUT_U(2)))
ENGINE_CALL(15, int32_t, process_info, (uint64_t puid, engine_stdio *stdio),
            "U>F", (puid, stdio), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_info(U(0), OUT_F(1)))
ENGINE_CALL(16, int32_t, process_signal, (uint64_t puid, const char *options),
            "Us", (puid, options), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_signal(U(0), S(1)))
ENGINE_CALL(17, int32_t, process_terminate, (uint64_t puid, const char *options),
            "Us", (puid, options), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_terminate(U(0), S(1)))
ENGINE_CALL(18, int32_t, process_modify, (uint64_t puid, const char *settings),
            "Us", (puid, settings), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_modify(U(0), S(1)))
ENGINE_CALL(19, int32_t, process_properties, (uint64_t puid, const char *query, char **result),
            "Us>S", (puid, query, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_properties(U(0), S(1), OUT_S(2)))
ENGINE_CALL(20, int32_t, process_wait_exit, (uint64_t puid, uint32_t timeout_ms, char **result),
            "Uu>S", (puid, timeout_ms, result), HCS_E_SERVICE_DISCONNECT,
            svc_process_wait_exit(c, U(0), W(1), OUT_S(2)))
ENGINE_CALL(21, int32_t, process_exit_status, (uint64_t puid, int *exited, char **result),
            "U>nS", (puid, exited, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_process_exit_status(U(0), OUT_N(1), OUT_S(2)))
ENGINE_CALL(22, uint32_t, process_pid, (uint64_t puid),
            "U", (puid), 0,
            local_engine_process_pid(U(0)))
ENGINE_CALL(23, int32_t, service_properties, (const char *query, char **result),
            "s>S", (query, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_service_properties(S(0), OUT_S(1)))
ENGINE_CALL_VOID(24, set_disconnected, (int disconnected),
                 "i", (disconnected),
                 svc_set_disconnected(c, I(0)))
ENGINE_CALL(25, int, unexpected_exit, (const char *id, int32_t status),
            "ti", (id, status), -1,
            local_engine_unexpected_exit(S(0), I(1)))
ENGINE_CALL_VOID(26, kill_all, (uint32_t timeout_ms),
                 "u", (timeout_ms),
                 local_engine_kill_all(W(0)))
ENGINE_CALL_VOID(27, reset, (void),
                 "", (),
                 svc_reset(c))
ENGINE_CALL_VOID(28, counts, (int64_t *live_systems, int64_t *running_processes),
                 ">LL", (live_systems, running_processes),
                 local_engine_counts(OUT_L(0), OUT_L(1)))
ENGINE_CALL(29, int, events_idle, (void),
            "", (), 1,
            local_engine_events_idle())
ENGINE_CALL(30, int32_t, process_retain, (uint64_t puid),
            "U", (puid), HCS_E_SERVICE_DISCONNECT,
            svc_process_retain(c, U(0)))
ENGINE_CALL_VOID(31, process_release, (uint64_t puid),
                 "U", (puid),
                 svc_process_release(c, U(0)))
ENGINE_CALL(32, int32_t, service_modify, (const char *settings, char **result),
            "s>S", (settings, result), HCS_E_SERVICE_DISCONNECT,
            local_engine_service_modify(S(0), OUT_S(1)))
ENGINE_CALL(33, int32_t, host_os, (const char *version, char **current),
            "s>S", (version, current), HCS_E_SERVICE_DISCONNECT,
            local_engine_host_os(S(0), OUT_S(1)))
