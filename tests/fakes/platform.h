/* platform.h -- every platform-specific service the fake HCS needs, behind one small C interface.
 *
 * platform_posix.c implements it with POSIX (pthreads, fork/exec, pipes, ptys, signals, /proc). A later
 * platform_win32.c implements the same interface with Win32 (threads, CreateProcessW, CreatePipe, LocalAlloc).
 * Nothing outside the platform_*.c files may call an OS API directly; the rest of the fake is portable C11.
 *
 * Errors are reported as Win32 error codes (0 = success) so that callers can wrap them with HRESULT_FROM_WIN32
 * the same way on every platform.
 */
#ifndef FAKEHCS_PLATFORM_H
#define FAKEHCS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#define PLAT_INFINITE 0xFFFFFFFFu

/* Win32 error codes used by the platform layer (winerror.h values; defined here when the SDK is absent). */
#ifndef ERROR_FILE_NOT_FOUND
#define ERROR_FILE_NOT_FOUND 2u
#define ERROR_PATH_NOT_FOUND 3u
#define ERROR_ACCESS_DENIED 5u
#define ERROR_INVALID_HANDLE 6u
#define ERROR_NOT_ENOUGH_MEMORY 8u
#define ERROR_INVALID_DATA 13u
#define ERROR_GEN_FAILURE 31u
#define ERROR_NOT_SUPPORTED 50u
#define ERROR_INVALID_PARAMETER 87u
#define ERROR_DIR_NOT_EMPTY 145u
#define ERROR_BAD_PATHNAME 161u
#define ERROR_BUSY 170u
#define ERROR_ALREADY_EXISTS 183u
#define ERROR_DIRECTORY 267u
#define ERROR_NOT_FOUND 1168u
#endif

/* ---- locks, condition variables, threads ---- */
typedef struct plat_mutex plat_mutex;
typedef struct plat_cond plat_cond;

plat_mutex *plat_mutex_create(void);
void plat_mutex_lock(plat_mutex *m);
void plat_mutex_unlock(plat_mutex *m);
plat_cond *plat_cond_create(void);
/* Waits at most `ms` milliseconds (PLAT_INFINITE: forever). Returns 0 when woken, 1 on timeout. */
int plat_cond_wait(plat_cond *c, plat_mutex *m, uint32_t ms);
void plat_cond_broadcast(plat_cond *c);
void plat_cond_signal(plat_cond *c);   /* wakes one waiter, if any */

/* Starts a detached thread. Returns 0 on success. */
int plat_thread_start(void (*fn)(void *), void *arg);
/* An identifier of the calling thread, never 0. */
uint64_t plat_thread_self(void);
/* Runs fn exactly once per process (the fake's lazy global initialisation). */
void plat_call_once(void (*fn)(void));

/* ---- host ---- */
/* Logical processors of the host (at least 1). */
uint32_t plat_cpu_count(void);

/* ---- time ---- */
uint64_t plat_monotonic_ms(void);
void plat_sleep_ms(uint32_t ms);
void plat_yield(void);   /* offer the CPU to another ready thread */
/* Wall-clock time as 100 ns units since 1601-01-01 (Windows FILETIME epoch). */
uint64_t plat_filetime_now(void);
/* Formats a FILETIME value as ISO 8601 UTC ("2024-01-02T03:04:05.1234567Z") into buf (>= 32 bytes). */
void plat_format_filetime(uint64_t ft, char *buf, size_t size);

/* ---- result strings (LocalAlloc on Windows, malloc here) ---- */
void *plat_result_alloc(size_t bytes);
void plat_result_free(void *p);

/* ---- byte streams ("handles"): fds off Windows, HANDLEs on Windows ---- */
typedef intptr_t plat_fd;
#define PLAT_NO_FD ((plat_fd)-1)
/* A new caller-owned duplicate (close-on-exec / not inheritable), or PLAT_NO_FD. */
plat_fd plat_dup(plat_fd fd);
void plat_close(plat_fd fd);
/* Writes all of buf; returns 0 or a Win32 error code. */
uint32_t plat_write(plat_fd fd, const void *buf, size_t len);
/* Whether `fd` is an open stream of this process. */
int plat_fd_valid(plat_fd fd);
/* The HCS HANDLE for a stream: off Windows the fd cast to HANDLE; INVALID_HANDLE_VALUE ((HANDLE)-1) for
 * PLAT_NO_FD, as HCS returns for std streams that were not requested (hcsshim v2/utils.go makeOpenFiles). */
void *plat_fd_to_handle(plat_fd fd);
plat_fd plat_handle_to_fd(void *handle);

/* ---- child processes ---- */
/* Signal numbers use Linux numbering everywhere; the platform maps them to its own. */
enum { PLAT_SIGHUP = 1, PLAT_SIGINT = 2, PLAT_SIGQUIT = 3, PLAT_SIGKILL = 9, PLAT_SIGUSR1 = 10,
       PLAT_SIGTERM = 15, PLAT_SIGCONT = 18, PLAT_SIGSTOP = 19 };

typedef struct plat_spawn_spec {
    const char *command_line;   /* run through the platform shell (/bin/sh -c) when argv is NULL */
    const char *const *argv;    /* or: an argv vector executed directly (argv[0] searched in PATH) */
    const char *const *envp;    /* NULL: inherit the fake's environment; else the complete environment */
    const char *cwd;            /* NULL: inherit */
    int want_stdin, want_stdout, want_stderr;
    int console;                /* pseudo terminal: stdin/stdout/stderr all on it */
    uint16_t rows, cols;        /* console size, 0 = default */
} plat_spawn_spec;

typedef struct plat_child {
    int64_t pid;
    plat_fd stdin_w, stdout_r, stderr_r;  /* parent ends, PLAT_NO_FD when not requested */
    plat_fd console;                       /* pty master when spec.console */
} plat_child;

/* From now on, children end when this process ends (the fake HCS service: a new service starts empty, as after a
 * vmcompute restart). Windows: always so (each child's job object is closed with the process). */
void plat_children_die_with_process(void);
/* Starts a child in its own process group (session when console). Returns 0 or a Win32 error code. */
uint32_t plat_spawn(const plat_spawn_spec *spec, plat_child *child);
/* Sends a (Linux-numbered) signal to the child's whole process group. Returns 0 or a Win32 error code. */
uint32_t plat_signal_group(int64_t pid, int signo);
/* Non-blocking reap of one child: 1 = exited (exit_code set: status, or 128+signal), 0 = still running,
 * -1 = not a child of ours (already reaped). */
int plat_try_reap(int64_t pid, uint32_t *exit_code);
/* Whether signo is a valid signal number for plat_signal_group. */
int plat_signal_valid(int signo);
uint32_t plat_console_resize(plat_fd console, uint16_t rows, uint16_t cols);

typedef struct plat_proc_stats {
    char image_name[256];
    uint64_t create_filetime;    /* process start, FILETIME units */
    uint64_t user_100ns, kernel_100ns;
    uint64_t commit_bytes;       /* virtual size */
    uint64_t private_ws_bytes;   /* resident anon */
    uint64_t shared_ws_bytes;    /* resident shared */
    uint64_t read_bytes, write_bytes, read_count, write_count;
} plat_proc_stats;
/* Returns 0 or a Win32 error code. */
uint32_t plat_process_stats(int64_t pid, plat_proc_stats *st);

/* ---- file system (computestorage and a few file functions) ---- */
enum { PLAT_PATH_NONE = 0, PLAT_PATH_FILE = 1, PLAT_PATH_DIR = 2 };
int plat_path_kind(const char *path);
uint32_t plat_mkdir(const char *path);              /* parent must exist; ERROR_ALREADY_EXISTS if present */
uint32_t plat_copy_tree(const char *src, const char *dst); /* dst directory is created if missing */
uint32_t plat_remove_tree(const char *path);
uint32_t plat_write_file(const char *path, const void *data, size_t len);
int plat_dir_is_empty(const char *path);
/* The whole file as a malloc'd NUL-terminated buffer (*size bytes, NUL not counted); NULL with a Win32 error in
 * *error (ERROR_FILE_NOT_FOUND when absent, ERROR_INVALID_DATA when larger than max). */
char *plat_read_file(const char *path, size_t max, size_t *size, uint32_t *error);
/* The directory separator of host paths: '/' (POSIX) or '\\' (Windows). */
char plat_path_separator(void);

/* ---- environment ---- */
/* A malloc'd UTF-8 copy of the environment variable, or NULL when unset. The OS's environment as it is now
 * (Windows: GetEnvironmentVariableW, which Python's os.environ updates; a CRT's getenv copy may not be). */
char *plat_getenv(const char *name);

#endif
