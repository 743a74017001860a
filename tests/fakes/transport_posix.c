/* transport_posix.c -- the POSIX transport of the fake HCS service (transport.h): a Unix domain stream socket.
 *
 * Stream handles travel with their message as SCM_RIGHTS ancillary data [unix(7): "Send or receive a set of open
 * file descriptors from another process"], attached to the message's first byte; the receiver reads a header and a
 * payload with separate recvmsg calls, so the descriptors of one message never mix with the next one's. Every
 * descriptor is close-on-exec (SOCK_CLOEXEC, MSG_CMSG_CLOEXEC); sends use MSG_NOSIGNAL so a vanished peer is an
 * error, never a SIGPIPE in the host program. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

struct tconn {
    int fd;
    uint32_t pid;
};

struct tlistener {
    int fd;
    char *path;
    atomic_int closed;
};

char *transport_endpoint_from_env(void)
{
    const char *v = getenv(FAKEHCS_SERVICE_ENV);
    char *copy;
    if (!v || !v[0]) return NULL;
    copy = strdup(v);
    if (!copy) abort();
    return copy;
}

static int make_address(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    /* sun_path holds 108 bytes on Linux: a longer path cannot be an endpoint. */
    if (!path || !path[0] || strlen(path) >= sizeof sa->sun_path) return -1;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

static uint32_t win32_error(int e)
{
    switch (e) {
    case ENOENT: case ECONNREFUSED: return ERROR_FILE_NOT_FOUND;
    case EACCES: case EPERM: return ERROR_ACCESS_DENIED;
    case EADDRINUSE: return ERROR_ALREADY_EXISTS;
    case ENAMETOOLONG: return ERROR_BAD_PATHNAME;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    default: return ERROR_GEN_FAILURE;
    }
}

uint32_t transport_connect(const char *endpoint, tconn **out)
{
    struct sockaddr_un sa;
    int fd;
    *out = NULL;
    if (make_address(endpoint, &sa) != 0) return ERROR_BAD_PATHNAME;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return win32_error(errno);
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (e == EINTR) continue;
        close(fd);
        return win32_error(e);
    }
    *out = calloc(1, sizeof **out);
    if (!*out) abort();
    (*out)->fd = fd;
    return 0;
}

uint32_t transport_listen(const char *endpoint, tlistener **out)
{
    struct sockaddr_un sa;
    tconn *probe = NULL;
    int fd;
    *out = NULL;
    if (make_address(endpoint, &sa) != 0) return ERROR_BAD_PATHNAME;
    /* A socket file may be left by a service that died: replace it, unless a service answers there. */
    if (transport_connect(endpoint, &probe) == 0) {
        transport_free(probe);
        return ERROR_ALREADY_EXISTS;
    }
    {
        struct stat st;
        if (lstat(endpoint, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(endpoint);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return win32_error(errno);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return win32_error(e);
    }
    *out = calloc(1, sizeof **out);
    if (!*out) abort();
    (*out)->fd = fd;
    (*out)->path = strdup(endpoint);
    if (!(*out)->path) abort();
    return 0;
}

tconn *transport_accept(tlistener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        tconn *c;
        if (fd < 0) {
            if (atomic_load(&l->closed)) return NULL;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                plat_sleep_ms(50);   /* out of descriptors for a moment: clients leaving will free some */
                continue;
            }
            return NULL;
        }
        c = calloc(1, sizeof *c);
        if (!c) abort();
        c->fd = fd;
#if defined(SO_PEERCRED)
        {
            struct ucred cred;
            socklen_t len = sizeof cred;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) c->pid = (uint32_t)cred.pid;
        }
#endif
        return c;
    }
}

void transport_listener_close(tlistener *l)
{
    atomic_store(&l->closed, 1);
    shutdown(l->fd, SHUT_RDWR);   /* wakes accept() */
    unlink(l->path);
}

uint32_t transport_send(tconn *c, wire_msg *m)
{
    unsigned char header[WIRE_HEADER_SIZE];
    struct iovec iov[2];
    struct msghdr mh;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_HANDLES)];
    } control;
    size_t total, sent = 0;
    int first = 1;
    wire_header_encode(m, header);
    total = WIRE_HEADER_SIZE + m->len;
    while (sent < total) {
        ssize_t n;
        size_t off = sent;
        int k = 0;
        if (off < WIRE_HEADER_SIZE) {
            iov[k].iov_base = header + off;
            iov[k++].iov_len = WIRE_HEADER_SIZE - off;
            off = 0;
        } else {
            off -= WIRE_HEADER_SIZE;
        }
        if (m->len > off) {
            iov[k].iov_base = m->data + off;
            iov[k++].iov_len = m->len - off;
        }
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)k;
        if (first && m->nfds > 0) {
            /* The descriptors ride on the message's first byte. */
            struct cmsghdr *h;
            memset(&control, 0, sizeof control);
            mh.msg_control = control.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)m->nfds);
            h = CMSG_FIRSTHDR(&mh);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)m->nfds);
            for (int i = 0; i < m->nfds; i++) {
                int fd = (int)m->fds[i];
                memcpy(CMSG_DATA(h) + i * sizeof(int), &fd, sizeof fd);
            }
        }
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ERROR_BROKEN_PIPE;
        }
        first = 0;
        sent += (size_t)n;
    }
    return 0;
}

/* Reads exactly n bytes into buf, collecting descriptors into m. 0, -1 (end/error), -3 (timeout before any byte). */
static int read_full(tconn *c, void *buf, size_t n, wire_msg *m, int *fd_overflow, uint32_t timeout_ms)
{
    size_t got = 0;
    while (got < n) {
        struct iovec iov;
        struct msghdr mh;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control;
        ssize_t r;
        if (timeout_ms != PLAT_INFINITE && got == 0) {
            struct pollfd p = { c->fd, POLLIN, 0 };
            int rc = poll(&p, 1, (int)timeout_ms);
            if (rc == 0) return -3;
            if (rc < 0 && errno != EINTR) return -1;
            if (rc < 0) continue;
        }
        iov.iov_base = (char *)buf + got;
        iov.iov_len = n - got;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof control.buf;
        r = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
            for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
                if (m->nfds < WIRE_MAX_HANDLES) m->fds[m->nfds++] = fd;
                else {
                    close(fd);
                    *fd_overflow = 1;
                }
            }
        }
        if (mh.msg_flags & MSG_CTRUNC) *fd_overflow = 1;
        if (r == 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

int transport_recv(tconn *c, wire_msg *m, uint32_t timeout_ms)
{
    unsigned char header[WIRE_HEADER_SIZE];
    wire_msg fds;
    uint32_t len;
    int overflow = 0, rc;
    wire_init(&fds, 0, 0);
    wire_init(m, 0, 0);
    rc = read_full(c, header, WIRE_HEADER_SIZE, &fds, &overflow, timeout_ms);
    if (rc != 0) {
        wire_free(&fds);
        return rc;
    }
    if (wire_header_decode(header, &len, m) != 0) {
        wire_free(&fds);
        return -2;
    }
    m->data = malloc(len ? len : 1);
    if (!m->data) abort();
    m->cap = len;
    rc = read_full(c, m->data, len, &fds, &overflow, PLAT_INFINITE);
    m->len = len;
    for (int i = 0; i < fds.nfds; i++) m->fds[i] = fds.fds[i];
    m->nfds = fds.nfds;
    fds.nfds = 0;
    if (rc != 0) return -1;
    if (overflow || m->nfds != m->handles) return -2;
    return 0;
}

void transport_shutdown(tconn *c) { shutdown(c->fd, SHUT_RDWR); }

void transport_free(tconn *c)
{
    if (!c) return;
    close(c->fd);
    free(c);
}

uint32_t transport_peer_pid(tconn *c) { return c->pid; }

uint32_t transport_set_peer(tconn *c, uint32_t pid)
{
    if (!c->pid) c->pid = pid;   /* SO_PEERCRED, when the OS has it, is what counts */
    return 0;
}

uint64_t transport_export_handle(tconn *c, wire_msg *m, plat_fd fd)
{
    (void)c;
    if (fd == PLAT_NO_FD) return UINT64_MAX;
    if (m->nfds >= WIRE_MAX_HANDLES) {
        plat_close(fd);
        return UINT64_MAX;
    }
    m->fds[m->nfds] = fd;
    return (uint64_t)m->nfds++;
}

plat_fd transport_import_handle(tconn *c, wire_msg *m, uint64_t v)
{
    plat_fd fd;
    (void)c;
    if (v >= (uint64_t)m->nfds) return PLAT_NO_FD;
    fd = m->fds[v];
    m->fds[v] = PLAT_NO_FD;   /* the caller owns it now */
    if (fd < 3) {
        /* HANDLE values handed out are >= 3 (never NULL when cast), as platform_posix.c's duplicates are. */
        plat_fd moved = plat_dup(fd);
        plat_close(fd);
        fd = moved;
    }
    return fd;
}

/* ---------------------------------------------------------------- the service process */

static void (*stop_fn)(void);
static sigset_t stop_signals;

static void stop_signal_main(void *arg)
{
    int sig = 0;
    (void)arg;
    while (sigwait(&stop_signals, &sig) != 0) {}
    stop_fn();
}

void transport_on_stop_signal(void (*stop)(void))
{
    stop_fn = stop;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    /* Blocked in the calling (main) thread before any other starts, so every thread inherits the mask and only
     * the waiting thread takes them. */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (plat_thread_start(stop_signal_main, NULL) != 0) abort();
}

int transport_process_alive(uint32_t pid) { return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM); }

uint32_t transport_self_pid(void) { return (uint32_t)getpid(); }

void transport_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

void transport_detach_stdout(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    fflush(stdout);
    if (fd >= 0) {
        dup2(fd, 1);
        close(fd);
    }
}
