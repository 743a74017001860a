/* wire.h -- the protocol between the fake HCS's client library and the fake HCS service (fakehcs-service), as
 * computecore.dll talks to vmcompute.exe. Portable C: framing and encoding only, no OS calls (transport.h moves
 * the bytes and the stream handles).
 *
 * A connection carries messages. Each is a 16-byte header, then `length` bytes of payload (little-endian):
 *
 *     u32 length     payload bytes, at most WIRE_MAX_PAYLOAD (a larger value ends the connection)
 *     u16 kind       enum wire_kind
 *     u16 handles    stream handles travelling with this message (POSIX: SCM_RIGHTS descriptors; Windows: 0,
 *                    the handles are duplicated into the receiver and their values are in the payload)
 *     u64 id         a request's id, echoed by its reply (0 for unsolicited messages)
 *
 * Payload values: u8/u16/u32/u64/i32/i64 little-endian; a string is u32 byte count + UTF-8 bytes without NUL
 * (0xFFFFFFFF = NULL; an embedded NUL is malformed).
 *
 * A session: the client sends HELLO {u32 magic, u16 min version, u16 max version, u32 pid, u32 flags}; the service
 * answers WELCOME {u32 magic, u16 version, u16 0, u32 service pid, u64 instance, state} or REFUSED
 * {i32 HRESULT, string} and closes. Then the client sends REQUESTs {u16 op, u16 0, arguments} and the service
 * answers each with a REPLY {i32 status, string message, and when status is 0: i64 return value, outputs}, in any
 * order (the id pairs them), interleaved with EVENTs {u32 engine event kind, u64 system, u64 process, string data},
 * NOTICEs {u64 seq, u32 flags, state} that the client acknowledges with NOTICE_ACK {u64 seq}, and
 * COUNTERS_QUERY that it answers with COUNTERS {6 x i64}. Arguments and outputs follow the op's format
 * (engine_calls.h). The control state that every client
 * mirrors: {u32 disconnected, u32 faults armed, u32 latency of every function, u32 n, n x (string function, u32 ms)}.
 * Messages of a kind the receiver does not expect are answered (a REQUEST-less kind: with a REPLY carrying
 * HCS_E_UNKNOWN_MESSAGE) and skipped; a malformed REQUEST gets a REPLY with HCS_E_PROTOCOL_ERROR; a header that
 * cannot be trusted (oversized, handle count mismatch) ends the connection. */
#ifndef FAKEHCS_WIRE_H
#define FAKEHCS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

#define WIRE_MAGIC 0x53434846u            /* "FHCS" */
#define WIRE_VERSION 1u                   /* the only version so far */
#define WIRE_HEADER_SIZE 16u
#define WIRE_MAX_PAYLOAD (16u << 20)      /* 16 MiB: far above any HCS document the fake produces */
#define WIRE_MAX_HANDLES 3                /* stdin, stdout, stderr of one process */
#define WIRE_NULL_STRING 0xFFFFFFFFu

enum wire_kind {
    WIRE_HELLO = 1,            /* client -> service, first message */
    WIRE_WELCOME = 2,          /* service -> client */
    WIRE_REFUSED = 3,          /* service -> client, then the service closes */
    WIRE_REQUEST = 4,          /* client -> service */
    WIRE_REPLY = 5,            /* service -> client */
    WIRE_EVENT = 6,            /* service -> client */
    WIRE_NOTICE = 7,           /* service -> client: the control state changed */
    WIRE_NOTICE_ACK = 8,       /* client -> service */
    WIRE_COUNTERS_QUERY = 9,   /* service -> client */
    WIRE_COUNTERS = 10,        /* client -> service */
};

/* HELLO flags */
#define WIRE_HELLO_CONTROL 1u   /* a control connection (tools, tests): no events, notices or counter queries */

/* NOTICE flags */
#define WIRE_NOTICE_DISCONNECT 1u   /* FakeHcsSimulateServiceDisconnect: deliver ServiceDisconnect, fail operations */
#define WIRE_NOTICE_STOPPING 2u     /* the service was asked to stop: the end of the connection is no crash */

typedef struct wire_msg {
    uint16_t kind;
    uint16_t handles;                 /* the header field */
    uint64_t id;
    unsigned char *data;              /* payload */
    size_t len, cap;
    size_t pos;                       /* read cursor */
    int bad;                          /* a read ran past the payload or met a malformed value */
    plat_fd fds[WIRE_MAX_HANDLES];    /* POSIX: descriptors received with / to send with the message (owned) */
    int nfds;
} wire_msg;

void wire_init(wire_msg *m, uint16_t kind, uint64_t id);
/* Frees the payload and closes the descriptors the message still owns. */
void wire_free(wire_msg *m);
/* Moves src into dst (dst is overwritten; src is left empty). */
void wire_move(wire_msg *dst, wire_msg *src);

void wire_put_u8(wire_msg *m, uint8_t v);
void wire_put_u16(wire_msg *m, uint16_t v);
void wire_put_u32(wire_msg *m, uint32_t v);
void wire_put_u64(wire_msg *m, uint64_t v);
void wire_put_i32(wire_msg *m, int32_t v);
void wire_put_i64(wire_msg *m, int64_t v);
void wire_put_str(wire_msg *m, const char *s);   /* NULL allowed */

/* Readers return 0 / NULL and set m->bad when the payload is too short or the value malformed. */
uint8_t wire_get_u8(wire_msg *m);
uint16_t wire_get_u16(wire_msg *m);
uint32_t wire_get_u32(wire_msg *m);
uint64_t wire_get_u64(wire_msg *m);
int32_t wire_get_i32(wire_msg *m);
int64_t wire_get_i64(wire_msg *m);
/* A malloc'd copy, or NULL for the NULL string (check m->bad to tell it from an error). */
char *wire_get_str(wire_msg *m);
/* 1 when the whole payload was read and nothing was malformed. */
int wire_complete(const wire_msg *m);

void wire_header_encode(const wire_msg *m, unsigned char out[WIRE_HEADER_SIZE]);
/* Returns 0, or -1 when the header announces more than WIRE_MAX_PAYLOAD or more than WIRE_MAX_HANDLES. */
int wire_header_decode(const unsigned char in[WIRE_HEADER_SIZE], uint32_t *length, wire_msg *m);

/* ---- the operations of REQUEST messages ---- */
/* Engine calls use the ops of engine_calls.h (1..99). Service control (the FakeHcs* functions in service mode),
 * with their formats in the notation of engine_calls.h: */
enum {
    WIRE_OP_FAULT_TAKE = 100,        /* function -> hit; hr, sync */
    WIRE_OP_INJECT_FAULT = 101,      /* function, hr, count, flags -> 0 | -1 */
    WIRE_OP_SET_LATENCY = 102,       /* function, ms -> 0 | -1 */
    WIRE_OP_GLOBAL_COUNTERS = 103,   /* every client's counters summed, with the engine's (FAKEHCS_COUNTERS order) */
    WIRE_OP_CLIENT_COUNTERS = 104,   /* pid -> 0, or -1 when no client with that pid is connected */
    WIRE_OP_LIST_CLIENTS = 105,      /* a JSON array of the connected clients' process ids */
    WIRE_OP_STOP = 106,              /* the service stops after replying (its processes are killed) */
};
#define WIRE_FMT_FAULT_TAKE "t>nn"
#define WIRE_FMT_INJECT_FAULT "tiuu"
#define WIRE_FMT_SET_LATENCY "tu"
#define WIRE_FMT_GLOBAL_COUNTERS ">LLLLLLLL"
#define WIRE_FMT_CLIENT_COUNTERS "u>LLLLLLLL"
#define WIRE_FMT_LIST_CLIENTS ">S"
#define WIRE_FMT_STOP ""

/* A client's own counters in COUNTERS messages: OpenOperations, OpenSystemHandles, OpenProcessHandles,
 * OutstandingStrings, CallbacksInFlight, CallbacksDelivered. */
#define WIRE_CLIENT_COUNTERS 6

#endif
