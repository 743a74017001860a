/* transport_win32.c -- the Windows transport of the fake HCS service (transport.h): a named pipe.
 *
 * Why a named pipe: it is the Windows IPC that needs nothing but kernel32, identifies its client process
 * (GetNamedPipeClientProcessId), and reports a client's death as ERROR_BROKEN_PIPE -- and Wine implements all of it
 * in wineserver, so the service runs as a real Windows process under Wine. (AF_UNIX sockets exist on Windows 10
 * 1803+, but Wine 8 does not provide them; loopback TCP would let any local user in and cannot name its client.)
 *
 * Both ends use overlapped I/O on one handle: the reader thread's ReadFile must not block the writers (synchronous
 * I/O on one file object is serialised by the I/O manager, so a blocked read would stall every reply). Each
 * direction has its own OVERLAPPED and event; a per-connection "shut" event ends any wait at once
 * (transport_shutdown), and CancelIoEx takes back the I/O in progress.
 *
 * Stream handles reach the client with DuplicateHandle into its process (PROCESS_DUP_HANDLE): the values in the
 * payload are already the client's own handles; the service's copies are closed by the duplication
 * (DUPLICATE_CLOSE_SOURCE). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"

#define PIPE_PREFIX L"\\\\.\\pipe\\"
#define PIPE_BUFFER 65536

struct tconn {
    HANDLE pipe;
    HANDLE rd_event, wr_event, shut;
    DWORD pid;
    HANDLE peer;           /* the client process (PROCESS_DUP_HANDLE), service side */
};

struct tlistener {
    wchar_t *name;
    HANDLE pending;        /* the instance waiting for the next client */
    HANDLE event, closed;
    int first;
};

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w;
    if (n <= 0) return NULL;
    w = malloc((size_t)n * sizeof *w);
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

/* "\\.\pipe\NAME" as given, or NAME made into one. */
static wchar_t *pipe_name(const char *endpoint)
{
    wchar_t *w, *full;
    size_t n;
    if (!endpoint || !endpoint[0]) return NULL;
    w = widen(endpoint);
    if (!w) return NULL;
    if (_wcsnicmp(w, L"\\\\.\\pipe\\", 9) == 0 || _wcsnicmp(w, L"\\\\?\\pipe\\", 9) == 0) return w;
    n = wcslen(PIPE_PREFIX) + wcslen(w) + 1;
    full = malloc(n * sizeof *full);
    if (full) {
        wcscpy(full, PIPE_PREFIX);
        wcscat(full, w);
    }
    free(w);
    return full;
}

char *transport_endpoint_from_env(void)
{
    /* The OS environment, which os.environ keeps up to date (a CRT's getenv copy may not be). */
    wchar_t buf[1024];
    DWORD n = GetEnvironmentVariableW(L"" FAKEHCS_SERVICE_ENV, buf, 1024);
    char *s;
    int len;
    if (n == 0 || n >= 1024) return NULL;
    len = WideCharToMultiByte(CP_UTF8, 0, buf, -1, NULL, 0, NULL, NULL);
    if (len <= 0) return NULL;
    s = malloc((size_t)len);
    if (!s) abort();
    WideCharToMultiByte(CP_UTF8, 0, buf, -1, s, len, NULL, NULL);
    return s;
}

static tconn *wrap(HANDLE pipe)
{
    tconn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->pipe = pipe;
    c->rd_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    c->wr_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    c->shut = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!c->rd_event || !c->wr_event || !c->shut) abort();
    return c;
}

static HANDLE new_instance(tlistener *l)
{
    DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (l->first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
    HANDLE h = CreateNamedPipeW(l->name, open_mode, pipe_mode, PIPE_UNLIMITED_INSTANCES, PIPE_BUFFER, PIPE_BUFFER, 0,
                                NULL);
    if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_INVALID_PARAMETER)
        /* PIPE_REJECT_REMOTE_CLIENTS is Vista+; without it the pipe still only serves this machine under Wine. */
        h = CreateNamedPipeW(l->name, open_mode, pipe_mode & ~(DWORD)PIPE_REJECT_REMOTE_CLIENTS,
                             PIPE_UNLIMITED_INSTANCES, PIPE_BUFFER, PIPE_BUFFER, 0, NULL);
    return h;
}

uint32_t transport_listen(const char *endpoint, tlistener **out)
{
    tlistener *l;
    *out = NULL;
    l = calloc(1, sizeof *l);
    if (!l) abort();
    l->name = pipe_name(endpoint);
    if (!l->name) {
        free(l);
        return ERROR_BAD_PATHNAME;
    }
    l->first = 1;
    l->pending = new_instance(l);
    if (l->pending == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        free(l->name);
        free(l);
        /* FILE_FLAG_FIRST_PIPE_INSTANCE: another server owns the name. */
        return e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY ? ERROR_ALREADY_EXISTS : e;
    }
    l->first = 0;
    l->event = CreateEventW(NULL, TRUE, FALSE, NULL);
    l->closed = CreateEventW(NULL, TRUE, FALSE, NULL);
    *out = l;
    return 0;
}

tconn *transport_accept(tlistener *l)
{
    for (;;) {
        OVERLAPPED ov;
        HANDLE waits[2];
        HANDLE client;
        DWORD ignored;
        BOOL connected;
        if (WaitForSingleObject(l->closed, 0) == WAIT_OBJECT_0) return NULL;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = l->event;
        ResetEvent(l->event);
        connected = ConnectNamedPipe(l->pending, &ov);
        if (!connected) {
            DWORD e = GetLastError();
            if (e == ERROR_IO_PENDING) {
                waits[0] = l->event;
                waits[1] = l->closed;
                if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) != WAIT_OBJECT_0) {
                    CancelIoEx(l->pending, &ov);
                    GetOverlappedResult(l->pending, &ov, &ignored, TRUE);
                    return NULL;
                }
                connected = GetOverlappedResult(l->pending, &ov, &ignored, FALSE);
            } else if (e == ERROR_PIPE_CONNECTED) {
                connected = TRUE;
            } else if (e == ERROR_NO_DATA) {
                /* The client came and went: start over with this instance. */
                DisconnectNamedPipe(l->pending);
                continue;
            }
        }
        if (!connected) {
            DisconnectNamedPipe(l->pending);
            continue;
        }
        client = l->pending;
        l->pending = new_instance(l);
        if (l->pending == INVALID_HANDLE_VALUE) {
            CloseHandle(client);
            return NULL;
        }
        {
            tconn *c = wrap(client);
            static BOOL(WINAPI * client_pid)(HANDLE, PULONG);
            static int looked;
            if (!looked) {
                client_pid = (BOOL(WINAPI *)(HANDLE, PULONG))(void (*)(void))GetProcAddress(
                    GetModuleHandleW(L"kernel32.dll"), "GetNamedPipeClientProcessId");
                looked = 1;
            }
            if (client_pid) {
                ULONG pid = 0;
                if (client_pid(client, &pid)) c->pid = pid;
            }
            return c;
        }
    }
}

void transport_listener_close(tlistener *l)
{
    SetEvent(l->closed);
}

uint32_t transport_connect(const char *endpoint, tconn **out)
{
    wchar_t *name = pipe_name(endpoint);
    HANDLE h = INVALID_HANDLE_VALUE;
    *out = NULL;
    if (!name) return ERROR_BAD_PATHNAME;
    for (int attempt = 0; attempt < 50; attempt++) {
        DWORD e;
        h = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
        if (h != INVALID_HANDLE_VALUE) break;
        e = GetLastError();
        if (e != ERROR_PIPE_BUSY) {
            free(name);
            return e == ERROR_PATH_NOT_FOUND ? ERROR_FILE_NOT_FOUND : e;
        }
        /* Every instance is taken for a moment (the service is creating the next one). */
        if (!WaitNamedPipeW(name, 200)) Sleep(10);
    }
    free(name);
    if (h == INVALID_HANDLE_VALUE) return ERROR_PIPE_BUSY;
    *out = wrap(h);
    return 0;
}

/* Reads or writes exactly n bytes. 0; -1 end/error/shut; -3 timeout before the first byte. */
static int io_full(tconn *c, int writing, void *buf, size_t n, uint32_t first_timeout)
{
    size_t done = 0;
    while (done < n) {
        OVERLAPPED ov;
        HANDLE waits[2];
        DWORD got = 0, chunk = n - done > 0x10000000u ? 0x10000000u : (DWORD)(n - done), w;
        BOOL ok;
        if (WaitForSingleObject(c->shut, 0) == WAIT_OBJECT_0) return -1;
        memset(&ov, 0, sizeof ov);
        ov.hEvent = writing ? c->wr_event : c->rd_event;
        ResetEvent(ov.hEvent);
        ok = writing ? WriteFile(c->pipe, (const char *)buf + done, chunk, NULL, &ov)
                     : ReadFile(c->pipe, (char *)buf + done, chunk, NULL, &ov);
        if (!ok && GetLastError() != ERROR_IO_PENDING) return -1;
        waits[0] = ov.hEvent;
        waits[1] = c->shut;
        w = WaitForMultipleObjects(2, waits, FALSE, done == 0 && first_timeout != PLAT_INFINITE ? first_timeout
                                                                                                : INFINITE);
        if (w != WAIT_OBJECT_0) {
            CancelIoEx(c->pipe, &ov);
            GetOverlappedResult(c->pipe, &ov, &got, TRUE);
            if (got > 0) {
                done += got;   /* it completed while being cancelled */
                continue;
            }
            return w == WAIT_TIMEOUT ? -3 : -1;
        }
        if (!GetOverlappedResult(c->pipe, &ov, &got, FALSE)) return -1;
        if (got == 0 && !writing) return -1;
        done += got;
    }
    return 0;
}

uint32_t transport_send(tconn *c, wire_msg *m)
{
    unsigned char *buf = malloc(WIRE_HEADER_SIZE + m->len);
    int r;
    if (!buf) abort();
    /* Handles are already the peer's (transport_export_handle): none travel beside the bytes. */
    m->nfds = 0;
    wire_header_encode(m, buf);
    if (m->len) memcpy(buf + WIRE_HEADER_SIZE, m->data, m->len);
    r = io_full(c, 1, buf, WIRE_HEADER_SIZE + m->len, PLAT_INFINITE);
    free(buf);
    return r == 0 ? 0 : ERROR_BROKEN_PIPE;
}

int transport_recv(tconn *c, wire_msg *m, uint32_t timeout_ms)
{
    unsigned char header[WIRE_HEADER_SIZE];
    uint32_t len;
    int rc;
    wire_init(m, 0, 0);
    rc = io_full(c, 0, header, WIRE_HEADER_SIZE, timeout_ms);
    if (rc != 0) return rc;
    if (wire_header_decode(header, &len, m) != 0 || m->handles != 0) return -2;
    m->data = malloc(len ? len : 1);
    if (!m->data) abort();
    m->cap = len;
    rc = io_full(c, 0, m->data, len, PLAT_INFINITE);
    m->len = len;
    return rc == 0 ? 0 : -1;
}

void transport_shutdown(tconn *c)
{
    SetEvent(c->shut);
    CancelIoEx(c->pipe, NULL);
}

void transport_free(tconn *c)
{
    if (!c) return;
    CloseHandle(c->pipe);
    CloseHandle(c->rd_event);
    CloseHandle(c->wr_event);
    CloseHandle(c->shut);
    if (c->peer) CloseHandle(c->peer);
    free(c);
}

uint32_t transport_peer_pid(tconn *c) { return c->pid; }

uint32_t transport_set_peer(tconn *c, uint32_t pid)
{
    if (!c->pid) c->pid = pid;
    c->peer = OpenProcess(PROCESS_DUP_HANDLE | SYNCHRONIZE, FALSE, c->pid);
    return c->peer ? 0 : GetLastError();
}

uint64_t transport_export_handle(tconn *c, wire_msg *m, plat_fd fd)
{
    HANDLE theirs = NULL;
    (void)m;
    if (fd == PLAT_NO_FD) return UINT64_MAX;
    if (!c->peer || !DuplicateHandle(GetCurrentProcess(), (HANDLE)fd, c->peer, &theirs, 0, FALSE,
                                     DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)) {
        if (!c->peer) CloseHandle((HANDLE)fd);
        return UINT64_MAX;
    }
    return (uint64_t)(uintptr_t)theirs;
}

plat_fd transport_import_handle(tconn *c, wire_msg *m, uint64_t v)
{
    (void)c, (void)m;
    if (v == UINT64_MAX || v == 0) return PLAT_NO_FD;
    return (plat_fd)(uintptr_t)v;   /* duplicated into this process by the service */
}

/* ---------------------------------------------------------------- the service process */

static void (*stop_fn)(void);

static BOOL WINAPI console_handler(DWORD type)
{
    (void)type;
    if (stop_fn) stop_fn();
    return TRUE;
}

void transport_on_stop_signal(void (*stop)(void))
{
    stop_fn = stop;
    SetConsoleCtrlHandler(console_handler, TRUE);
}

int transport_process_alive(uint32_t pid)
{
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, pid);
    int alive;
    if (!h) return 0;
    alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return alive;
}

uint32_t transport_self_pid(void) { return (uint32_t)GetCurrentProcessId(); }

void transport_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    /* At once, without DLL detach: threads may be anywhere. The job objects of the processes close with us, and
     * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE ends them (platform_win32.c). */
    TerminateProcess(GetCurrentProcess(), (UINT)code);
}

void transport_detach_stdout(void)
{
    int nul = _open("NUL", _O_WRONLY);
    fflush(stdout);
    if (nul >= 0) {
        _dup2(nul, 1);
        _close(nul);
    }
    SetStdHandle(STD_OUTPUT_HANDLE, (HANDLE)_get_osfhandle(1));
}
