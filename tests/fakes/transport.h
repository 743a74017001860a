/* transport.h -- the OS side of the fake HCS service protocol: endpoints, connections, whole messages, stream handles
 * crossing to the peer, and the few process-level services the service executable needs.
 *
 * transport_posix.c: a Unix domain stream socket at a path; stream handles (descriptors) travel with a message as
 * SCM_RIGHTS ancillary data [unix(7)]. transport_win32.c: a named pipe \\.\pipe\NAME in byte mode with overlapped
 * I/O (one reader and one writer at a time on the same handle); stream handles are duplicated into the client
 * with DuplicateHandle [learn.microsoft.com DuplicateHandle: "duplicates an object handle ... into another
 * process"], which is also how vmcompute hands a container process's std handles to computecore's caller.
 *
 * Errors are Win32 error codes (0 = success), as in platform.h. */
#ifndef FAKEHCS_TRANSPORT_H
#define FAKEHCS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "wire.h"

#ifndef ERROR_BROKEN_PIPE
#define ERROR_BROKEN_PIPE 109u
#endif

/* The environment variable that selects the client mode of the library, and the endpoint it names. */
#define FAKEHCS_SERVICE_ENV "PYHCS_FAKE_SERVICE"

typedef struct tconn tconn;
typedef struct tlistener tlistener;

/* The value of PYHCS_FAKE_SERVICE (malloc'd), or NULL when it is unset or empty. Read from the process
 * environment as the OS holds it (Windows: GetEnvironmentVariableW, which Python's os.environ updates). */
char *transport_endpoint_from_env(void);

/* Creates the endpoint and listens. ERROR_ALREADY_EXISTS: a service is already listening there (a stale POSIX
 * socket file nobody listens on is replaced). */
uint32_t transport_listen(const char *endpoint, tlistener **out);
/* Blocks until a client connects; NULL once transport_listener_close was called. */
tconn *transport_accept(tlistener *l);
/* Stops accepting (wakes transport_accept) and removes the endpoint. */
void transport_listener_close(tlistener *l);

/* Connects to a listening service; ERROR_FILE_NOT_FOUND when nothing listens at the endpoint. */
uint32_t transport_connect(const char *endpoint, tconn **out);

/* Sends one whole message with its descriptors (POSIX). One sender at a time per connection (callers serialise).
 * Returns 0 or a Win32 error code (the peer is gone). */
uint32_t transport_send(tconn *c, wire_msg *m);
/* Receives one whole message. One receiver at a time. timeout_ms bounds the wait for its first byte
 * (PLAT_INFINITE: none). Returns 0; -1 when the connection ended or failed (the peer is gone, or
 * transport_shutdown); -2 on a protocol violation (a header announcing an oversized payload or too many handles,
 * descriptors that do not match the header); -3 on timeout. m is initialised in every case. */
int transport_recv(tconn *c, wire_msg *m, uint32_t timeout_ms);
/* Ends the connection: a blocked transport_recv returns -1 and the peer sees the end. Safe from any thread. */
void transport_shutdown(tconn *c);
void transport_free(tconn *c);

/* The peer's process id as the OS reports it (0 if unknown). */
uint32_t transport_peer_pid(tconn *c);
/* The service side, once the client said who it is: lets handles be duplicated into it. 0 or a Win32 error. */
uint32_t transport_set_peer(tconn *c, uint32_t pid);
/* Hands a stream handle of ours to the peer with message m and returns the value the peer will use to name it
 * (POSIX: an index into m's descriptors; Windows: the handle's value in the peer). Takes ownership of fd.
 * Returns UINT64_MAX when it cannot (fd is closed). */
uint64_t transport_export_handle(tconn *c, wire_msg *m, plat_fd fd);
/* The receiving side: the stream handle named by v in message m (ownership passes to the caller), or PLAT_NO_FD. */
plat_fd transport_import_handle(tconn *c, wire_msg *m, uint64_t v);

/* ---- process-level services of the service executable ---- */
/* Calls stop() (on its own thread) when the service is asked to stop by the OS (SIGTERM/SIGINT; console close). */
void transport_on_stop_signal(void (*stop)(void));
/* 1 while the process exists. */
int transport_process_alive(uint32_t pid);
uint32_t transport_self_pid(void);
/* Ends the service process at once with this exit code (after stderr is flushed). */
void transport_exit(int code);
/* Points stdout at the null device (after the readiness line, so a launcher may stop reading). */
void transport_detach_stdout(void);

#endif
