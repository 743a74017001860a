/* platform_posix.c -- the POSIX implementation of platform.h (Linux first; other POSIX systems best effort).
 *
 * The only file of the fake that calls OS APIs. Conventions (see README.md, "POSIX conventions"):
 *   - a stream HANDLE is a file descriptor cast to HANDLE, every fd the fake creates is close-on-exec, and
 *     duplicates handed to callers are >= 3 so that a HANDLE is never NULL;
 *   - a process runs as `/bin/sh -c CommandLine` in its own process group (its own session with a pty when
 *     EmulateConsole), so signals reach the whole group;
 *   - children are reaped with waitpid(pid, WNOHANG) on exactly the pids the fake started, never waitpid(-1),
 *     so the host program's own children are untouched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------------------- locks, threads */

struct plat_mutex { pthread_mutex_t m; };
struct plat_cond { pthread_cond_t c; };

plat_mutex *plat_mutex_create(void)
{
    plat_mutex *m = calloc(1, sizeof *m);
    if (!m) abort();
    pthread_mutex_init(&m->m, NULL);
    return m;
}
void plat_mutex_lock(plat_mutex *m) { pthread_mutex_lock(&m->m); }
void plat_mutex_unlock(plat_mutex *m) { pthread_mutex_unlock(&m->m); }

plat_cond *plat_cond_create(void)
{
    plat_cond *c = calloc(1, sizeof *c);
    pthread_condattr_t attr;
    if (!c) abort();
    pthread_condattr_init(&attr);
#if !defined(__APPLE__)
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
    pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

int plat_cond_wait(plat_cond *c, plat_mutex *m, uint32_t ms)
{
    struct timespec ts;
    if (ms == PLAT_INFINITE) {
        pthread_cond_wait(&c->c, &m->m);
        return 0;
    }
#if defined(__APPLE__)
    clock_gettime(CLOCK_REALTIME, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&c->c, &m->m, &ts) == ETIMEDOUT ? 1 : 0;
}

void plat_cond_broadcast(plat_cond *c) { pthread_cond_broadcast(&c->c); }
void plat_cond_signal(plat_cond *c) { pthread_cond_signal(&c->c); }

struct thread_start { void (*fn)(void *); void *arg; };

static void *thread_main(void *p)
{
    struct thread_start ts = *(struct thread_start *)p;
    sigset_t all;
    free(p);
    /* Fake-owned threads never handle the host's asynchronous signals (Python expects them on its main thread). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ts.fn(ts.arg);
    return NULL;
}

int plat_thread_start(void (*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    struct thread_start *ts = malloc(sizeof *ts);
    int rc;
    if (!ts) return -1;
    ts->fn = fn;
    ts->arg = arg;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, thread_main, ts);
    pthread_attr_destroy(&attr);
    if (rc != 0) free(ts);
    return rc;
}

static _Thread_local uint64_t tls_thread_id;
static uint64_t next_thread_id = 1;
static pthread_mutex_t thread_id_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t plat_thread_self(void)
{
    if (tls_thread_id == 0) {
        pthread_mutex_lock(&thread_id_lock);
        tls_thread_id = next_thread_id++;
        pthread_mutex_unlock(&thread_id_lock);
    }
    return tls_thread_id;
}

static pthread_once_t once_control = PTHREAD_ONCE_INIT;
static void (*_Atomic once_fn)(void);
static void once_trampoline(void) { atomic_load(&once_fn)(); }

void plat_call_once(void (*fn)(void))
{
    atomic_store(&once_fn, fn);  /* the fake has a single initialiser: every caller passes the same function */
    pthread_once(&once_control, once_trampoline);
}

/* ---------------------------------------------------------------- time */

uint32_t plat_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1u;
}

uint64_t plat_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void plat_yield(void) { sched_yield(); }

void plat_sleep_ms(uint32_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

#define FILETIME_UNIX_EPOCH 116444736000000000ull

uint64_t plat_filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return FILETIME_UNIX_EPOCH + (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u;
}

void plat_format_filetime(uint64_t ft, char *buf, size_t size)
{
    time_t secs;
    struct tm tm;
    if (ft < FILETIME_UNIX_EPOCH) ft = FILETIME_UNIX_EPOCH;
    secs = (time_t)((ft - FILETIME_UNIX_EPOCH) / 10000000u);
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%07uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)((ft - FILETIME_UNIX_EPOCH) % 10000000u));
}

/* ---------------------------------------------------------------- result strings */

void *plat_result_alloc(size_t bytes) { return malloc(bytes); }
void plat_result_free(void *p) { free(p); }

/* ---------------------------------------------------------------- streams */

plat_fd plat_dup(plat_fd fd)
{
    int r;
    if (fd < 0) return PLAT_NO_FD;
    r = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
    return r < 0 ? PLAT_NO_FD : (plat_fd)r;
}

void plat_close(plat_fd fd)
{
    if (fd >= 0) close((int)fd);
}

static uint32_t win32_from_errno(int e);

uint32_t plat_write(plat_fd fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write((int)fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return win32_from_errno(errno);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int plat_fd_valid(plat_fd fd)
{
    return fd >= 0 && fcntl((int)fd, F_GETFD) != -1;
}

void *plat_fd_to_handle(plat_fd fd) { return (void *)(intptr_t)(fd < 0 ? PLAT_NO_FD : fd); }

plat_fd plat_handle_to_fd(void *handle)
{
    intptr_t v = (intptr_t)handle;
    if (handle == NULL || v == -1 || v > 0x7fffffff) return PLAT_NO_FD;
    return (plat_fd)v;
}

/* ---------------------------------------------------------------- processes */

static uint32_t win32_from_errno(int e)
{
    switch (e) {
    case 0: return 0;
    case ENOENT: return ERROR_PATH_NOT_FOUND;
    case ENOTDIR: return ERROR_DIRECTORY;
    case EACCES: case EPERM: return ERROR_ACCESS_DENIED;
    case EEXIST: return ERROR_ALREADY_EXISTS;
    case ENOTEMPTY: return ERROR_DIR_NOT_EMPTY;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    case EBADF: return ERROR_INVALID_HANDLE;
    case EINVAL: return ERROR_INVALID_PARAMETER;
    case ESRCH: return ERROR_NOT_FOUND;
    case EBUSY: return ERROR_BUSY;
    case ENAMETOOLONG: return ERROR_BAD_PATHNAME;
    default: return ERROR_GEN_FAILURE;
    }
}

static int local_signal(int linux_signo)
{
#if defined(__linux__)
    return linux_signo;
#else
    switch (linux_signo) {
    case 1: return SIGHUP; case 2: return SIGINT; case 3: return SIGQUIT; case 6: return SIGABRT;
    case 9: return SIGKILL; case 10: return SIGUSR1; case 12: return SIGUSR2; case 13: return SIGPIPE;
    case 14: return SIGALRM; case 15: return SIGTERM; case 17: return SIGCHLD; case 18: return SIGCONT;
    case 19: return SIGSTOP; case 20: return SIGTSTP;
    default: return -1;
    }
#endif
}

int plat_signal_valid(int signo)
{
#if defined(__linux__)
    return signo >= 1 && signo <= 64 && !(signo >= 32 && signo < SIGRTMIN);
#else
    return local_signal(signo) > 0;
#endif
}

/* Resolves argv[0] against PATH taken from envp (or our environment) before fork, like execvpe. */
static char *resolve_program(const char *prog, const char *const *envp)
{
    const char *path = NULL;
    const char *p;
    size_t plen = strlen(prog);
    if (strchr(prog, '/')) return strdup(prog);
    if (envp) {
        for (size_t i = 0; envp[i]; i++)
            if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
    } else {
        path = getenv("PATH");
    }
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    p = path;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        char *cand = malloc(dlen + plen + 3);
        if (!cand) return NULL;
        if (dlen == 0) snprintf(cand, dlen + plen + 3, "./%s", prog);
        else snprintf(cand, dlen + plen + 3, "%.*s/%s", (int)dlen, p, prog);
        if (access(cand, X_OK) == 0) return cand;
        free(cand);
        if (!end) break;
        p = end + 1;
    }
    return strdup(prog);  /* execve will fail with ENOENT and report it */
}

static int die_with_process;
void plat_children_die_with_process(void) { die_with_process = 1; }

uint32_t plat_spawn(const plat_spawn_spec *spec, plat_child *child)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, status_pipe[2] = { -1, -1 };
    int master = -1, devnull = -1;
    char slave_name[256] = { 0 };
    const char *sh_argv[4] = { "/bin/sh", "-c", spec->command_line, NULL };
    const char *const *argv = spec->argv ? spec->argv : sh_argv;
    char *program = NULL;
    char *const *envp = spec->envp ? (char *const *)spec->envp : environ;
    uint32_t rc = 0;
    pid_t pid;
    int child_errno = 0;
    ssize_t n;

    child->pid = -1;
    child->stdin_w = child->stdout_r = child->stderr_r = child->console = PLAT_NO_FD;
    if (!spec->argv && !spec->command_line) return ERROR_INVALID_PARAMETER;
    if (spec->cwd && plat_path_kind(spec->cwd) != PLAT_PATH_DIR) return ERROR_DIRECTORY;

    program = resolve_program(argv[0], spec->envp);
    if (!program) return ERROR_NOT_ENOUGH_MEMORY;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (pipe2(status_pipe, O_CLOEXEC) != 0) { rc = win32_from_errno(errno); goto fail; }
    if (spec->console) {
        struct winsize ws = { spec->rows ? spec->rows : 25, spec->cols ? spec->cols : 80, 0, 0 };
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
            ptsname_r(master, slave_name, sizeof slave_name) != 0) {
            rc = win32_from_errno(errno);
            goto fail;
        }
        ioctl(master, TIOCSWINSZ, &ws);
    } else {
        if ((spec->want_stdin && pipe2(in, O_CLOEXEC) != 0) || (spec->want_stdout && pipe2(out, O_CLOEXEC) != 0) ||
            (spec->want_stderr && pipe2(err, O_CLOEXEC) != 0)) {
            rc = win32_from_errno(errno);
            goto fail;
        }
    }

#if defined(__linux__)
    pid_t parent = getpid();
#endif
    pid = fork();
    if (pid < 0) { rc = win32_from_errno(errno); goto fail; }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        sigset_t none;
        struct sigaction dfl;
        int e;
#if defined(__linux__)
        /* The service's children: SIGKILL when the forking thread ends -- the service's pool threads never end, so
         * that is when the service process ends (prctl(2) PR_SET_PDEATHSIG). */
        if (die_with_process && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)) _exit(127);
#endif
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < 32; s++)
            if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (spec->console) {
            int slave;
            setsid();
            slave = open(slave_name, O_RDWR);
            if (slave < 0) goto child_fail;
#ifdef TIOCSCTTY
            ioctl(slave, TIOCSCTTY, 0);
#endif
            if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) goto child_fail;
            if (slave > 2) close(slave);
        } else {
            setpgid(0, 0);
            if (dup2(in[0] >= 0 ? in[0] : devnull, 0) < 0 || dup2(out[1] >= 0 ? out[1] : devnull, 1) < 0 ||
                dup2(err[1] >= 0 ? err[1] : devnull, 2) < 0)
                goto child_fail;
        }
        if (spec->cwd && chdir(spec->cwd) != 0) goto child_fail;
        execve(program, (char *const *)argv, envp);
    child_fail:
        e = errno;
        n = write(status_pipe[1], &e, sizeof e);
        (void)n;
        _exit(127);
    }
    /* Parent. Make the group exist before anyone signals it (the child does the same; whichever runs first). */
    if (!spec->console) setpgid(pid, pid);
    close(status_pipe[1]);
    status_pipe[1] = -1;
    do {
        n = read(status_pipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof child_errno) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        rc = child_errno == ENOENT ? ERROR_FILE_NOT_FOUND : win32_from_errno(child_errno);
        goto fail;
    }
    child->pid = pid;
    if (spec->console) {
        child->console = master;
        master = -1;
    } else {
        if (in[0] >= 0) { close(in[0]); in[0] = -1; child->stdin_w = in[1]; in[1] = -1; }
        if (out[1] >= 0) { close(out[1]); out[1] = -1; child->stdout_r = out[0]; out[0] = -1; }
        if (err[1] >= 0) { close(err[1]); err[1] = -1; child->stderr_r = err[0]; err[0] = -1; }
    }
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (status_pipe[i] >= 0) close(status_pipe[i]);
    }
    if (master >= 0) close(master);
    if (devnull >= 0) close(devnull);
    free(program);
    return rc;
}

uint32_t plat_signal_group(int64_t pid, int signo)
{
    int s = local_signal(signo);
    if (s <= 0 || pid <= 0) return ERROR_INVALID_PARAMETER;
    if (kill(-(pid_t)pid, s) == 0) return 0;
    if (kill((pid_t)pid, s) == 0) return 0;
    return win32_from_errno(errno);
}

int plat_try_reap(int64_t pid, uint32_t *exit_code)
{
    int st = 0;
    pid_t r = waitpid((pid_t)pid, &st, WNOHANG);
    if (r == 0) return 0;
    if (r < 0) return errno == EINTR ? 0 : -1;
    if (WIFEXITED(st)) *exit_code = (uint32_t)WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) *exit_code = 128u + (uint32_t)WTERMSIG(st);
    else return 0;
    return 1;
}

uint32_t plat_console_resize(plat_fd console, uint16_t rows, uint16_t cols)
{
    struct winsize ws = { rows, cols, 0, 0 };
    if (console < 0) return ERROR_INVALID_HANDLE;
    return ioctl((int)console, TIOCSWINSZ, &ws) == 0 ? 0 : win32_from_errno(errno);
}

uint32_t plat_process_stats(int64_t pid, plat_proc_stats *st)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;
    char *rp;
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long long btime = 0, size = 0, resident = 0, shared = 0;

    memset(st, 0, sizeof *st);
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    f = fopen(path, "re");
    if (!f) return ERROR_NOT_FOUND;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    rp = strrchr(buf, ')');
    if (!rp) return ERROR_NOT_FOUND;
    {
        char *lp = strchr(buf, '(');
        if (lp && lp < rp) snprintf(st->image_name, sizeof st->image_name, "%.*s", (int)(rp - lp - 1), lp + 1);
    }
    /* fields after ") ": 3=state ... 14=utime 15=stime ... 22=starttime 23=vsize 24=rss */
    if (sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) != 5)
        return ERROR_NOT_FOUND;
    if (ticks <= 0) ticks = 100;
    st->user_100ns = utime * 10000000ull / (unsigned long long)ticks;
    st->kernel_100ns = stime * 10000000ull / (unsigned long long)ticks;
    st->commit_bytes = vsize;
    f = fopen("/proc/stat", "re");
    if (f) {
        while (fgets(buf, sizeof buf, f))
            if (sscanf(buf, "btime %llu", &btime) == 1) break;
        fclose(f);
    }
    st->create_filetime = FILETIME_UNIX_EPOCH + btime * 10000000ull + start * 10000000ull / (unsigned long long)ticks;
    snprintf(path, sizeof path, "/proc/%lld/statm", (long long)pid);
    f = fopen(path, "re");
    if (f) {
        if (fscanf(f, "%llu %llu %llu", &size, &resident, &shared) != 3) resident = shared = 0;
        fclose(f);
    }
    st->shared_ws_bytes = shared * (unsigned long long)page;
    st->private_ws_bytes = (resident > shared ? resident - shared : 0) * (unsigned long long)page;
    if (st->private_ws_bytes == 0 && rss > 0) st->private_ws_bytes = (unsigned long long)rss * (unsigned long long)page;
    snprintf(path, sizeof path, "/proc/%lld/io", (long long)pid);
    f = fopen(path, "re");
    if (f) {
        unsigned long long v;
        while (fgets(buf, sizeof buf, f)) {
            if (sscanf(buf, "rchar: %llu", &v) == 1) st->read_bytes = v;
            else if (sscanf(buf, "wchar: %llu", &v) == 1) st->write_bytes = v;
            else if (sscanf(buf, "syscr: %llu", &v) == 1) st->read_count = v;
            else if (sscanf(buf, "syscw: %llu", &v) == 1) st->write_count = v;
        }
        fclose(f);
    }
    return 0;
}

/* ---------------------------------------------------------------- file system */

int plat_path_kind(const char *path)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return PLAT_PATH_NONE;
    return S_ISDIR(sb.st_mode) ? PLAT_PATH_DIR : PLAT_PATH_FILE;
}

uint32_t plat_mkdir(const char *path)
{
    return mkdir(path, 0777) == 0 ? 0 : win32_from_errno(errno);
}

static uint32_t copy_file(const char *src, const char *dst, mode_t mode)
{
    char buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC), out;
    ssize_t n;
    uint32_t rc = 0;
    if (in < 0) return win32_from_errno(errno);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        rc = win32_from_errno(errno);
        close(in);
        return rc;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) {
        char *p = buf;
        while (n > 0) {
            ssize_t w = write(out, p, (size_t)n);
            if (w < 0) {
                if (errno == EINTR) continue;
                rc = win32_from_errno(errno);
                goto done;
            }
            p += w;
            n -= w;
        }
    }
    if (n < 0) rc = win32_from_errno(errno);
done:
    close(in);
    close(out);
    return rc;
}

uint32_t plat_copy_tree(const char *src, const char *dst)
{
    DIR *d;
    struct dirent *e;
    uint32_t rc = 0;
    if (plat_path_kind(dst) != PLAT_PATH_DIR && mkdir(dst, 0777) != 0) return win32_from_errno(errno);
    d = opendir(src);
    if (!d) return win32_from_errno(errno);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t ls, ld;
        char *s, *t;
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        ls = strlen(src) + strlen(e->d_name) + 2;
        ld = strlen(dst) + strlen(e->d_name) + 2;
        s = malloc(ls);
        t = malloc(ld);
        if (!s || !t) {
            free(s);
            free(t);
            rc = ERROR_NOT_ENOUGH_MEMORY;
            break;
        }
        snprintf(s, ls, "%s/%s", src, e->d_name);
        snprintf(t, ld, "%s/%s", dst, e->d_name);
        if (lstat(s, &sb) != 0) rc = win32_from_errno(errno);
        else if (S_ISDIR(sb.st_mode)) rc = plat_copy_tree(s, t);
        else if (S_ISLNK(sb.st_mode)) {
            char target[4096];
            ssize_t n = readlink(s, target, sizeof target - 1);
            if (n < 0) rc = win32_from_errno(errno);
            else {
                target[n] = 0;
                if (symlink(target, t) != 0) rc = win32_from_errno(errno);
            }
        } else if (S_ISREG(sb.st_mode)) rc = copy_file(s, t, sb.st_mode);
        free(s);
        free(t);
    }
    closedir(d);
    return rc;
}

uint32_t plat_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return win32_from_errno(errno);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        uint32_t rc = 0;
        if (!d) return win32_from_errno(errno);
        while (rc == 0 && (e = readdir(d)) != NULL) {
            size_t l;
            char *s;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            l = strlen(path) + strlen(e->d_name) + 2;
            s = malloc(l);
            if (!s) { rc = ERROR_NOT_ENOUGH_MEMORY; break; }
            snprintf(s, l, "%s/%s", path, e->d_name);
            rc = plat_remove_tree(s);
            free(s);
        }
        closedir(d);
        if (rc) return rc;
        return rmdir(path) == 0 ? 0 : win32_from_errno(errno);
    }
    return unlink(path) == 0 ? 0 : win32_from_errno(errno);
}

uint32_t plat_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    const char *p = data;
    if (fd < 0) return win32_from_errno(errno);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            uint32_t rc;
            if (errno == EINTR) continue;
            rc = win32_from_errno(errno);
            close(fd);
            return rc;
        }
        p += w;
        len -= (size_t)w;
    }
    close(fd);
    return 0;
}

char *plat_read_file(const char *path, size_t max, size_t *size, uint32_t *error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0, cap = 4096;
    char *buf;
    *size = 0;
    *error = 0;
    if (fd < 0) {
        *error = win32_from_errno(errno);
        return NULL;
    }
    buf = malloc(cap + 1);
    if (!buf) abort();
    for (;;) {
        ssize_t n;
        if (len == cap) {
            if (cap >= max) {
                free(buf);
                close(fd);
                *error = ERROR_INVALID_DATA;
                return NULL;
            }
            cap *= 2;
            buf = realloc(buf, cap + 1);
            if (!buf) abort();
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            *error = win32_from_errno(errno);
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (len > max) {
        free(buf);
        *error = ERROR_INVALID_DATA;
        return NULL;
    }
    buf[len] = 0;
    *size = len;
    return buf;
}

char plat_path_separator(void) { return '/'; }

char *plat_getenv(const char *name)
{
    const char *v = getenv(name);
    char *copy;
    size_t n;
    if (!v) return NULL;
    n = strlen(v) + 1;
    copy = malloc(n);
    if (!copy) abort();
    memcpy(copy, v, n);
    return copy;
}

int plat_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;
    if (!d) return 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { empty = 0; break; }
    closedir(d);
    return empty;
}
