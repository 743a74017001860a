/* engine_local.h -- engine.c's functions under the names local_engine_* (included first by engine.c only).
 *
 * The rest of the fake calls engine_*, which remote.c defines: the in-process engine (these functions) by default,
 * or the fake HCS service when PYHCS_FAKE_SERVICE names one (client mode). The service executable calls the
 * local_engine_* functions directly. Every function engine.h declares is listed here and, unless it is one of the
 * four remote.c handles itself (init, subscribe, last_error, is_disconnected), forwarded in engine_calls.h;
 * tests/test_service_protocol.py checks both lists against engine.h. */
#ifndef FAKEHCS_ENGINE_LOCAL_H
#define FAKEHCS_ENGINE_LOCAL_H

#define engine_init local_engine_init
#define engine_subscribe local_engine_subscribe
#define engine_last_error local_engine_last_error
#define engine_system_create local_engine_system_create
#define engine_system_complete_create local_engine_system_complete_create
#define engine_system_open local_engine_system_open
#define engine_system_release local_engine_system_release
#define engine_system_action local_engine_system_action
#define engine_system_properties local_engine_system_properties
#define engine_enumerate local_engine_enumerate
#define engine_system_wait_exit local_engine_system_wait_exit
#define engine_system_exit_status local_engine_system_exit_status
#define engine_process_create local_engine_process_create
#define engine_process_start local_engine_process_start
#define engine_process_abandon local_engine_process_abandon
#define engine_process_open local_engine_process_open
#define engine_process_retain local_engine_process_retain
#define engine_process_release local_engine_process_release
#define engine_process_info local_engine_process_info
#define engine_process_signal local_engine_process_signal
#define engine_process_terminate local_engine_process_terminate
#define engine_process_modify local_engine_process_modify
#define engine_process_properties local_engine_process_properties
#define engine_process_wait_exit local_engine_process_wait_exit
#define engine_process_exit_status local_engine_process_exit_status
#define engine_process_pid local_engine_process_pid
#define engine_service_properties local_engine_service_properties
#define engine_service_modify local_engine_service_modify
#define engine_host_os local_engine_host_os
#define engine_set_disconnected local_engine_set_disconnected
#define engine_is_disconnected local_engine_is_disconnected
#define engine_unexpected_exit local_engine_unexpected_exit
#define engine_kill_all local_engine_kill_all
#define engine_reset local_engine_reset
#define engine_counts local_engine_counts
#define engine_events_idle local_engine_events_idle

#endif
