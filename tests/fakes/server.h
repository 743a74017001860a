/* server.h -- the fake HCS service (server.c), started by service_main.c. */
#ifndef FAKEHCS_SERVER_H
#define FAKEHCS_SERVER_H

#include <stdint.h>

/* Starts the engine and listens at endpoint (transport.h). on_stop_request runs (on a service thread) when a
 * client sends the STOP request. Returns 0 or a Win32 error code (ERROR_ALREADY_EXISTS: a service listens there). */
uint32_t server_start(const char *endpoint, void (*on_stop_request)(void), int quiet);
/* Stops accepting, lets queued replies go out (at most 1 s), disconnects every client, kills every process. */
void server_stop(void);

#endif
