/* platform_win32.c -- the Win32 implementation of platform.h (cross-compiled with mingw-w64; run under Wine in CI).
 *
 * Conventions (see README-windows.md):
 *   - a stream "fd" is a Win32 HANDLE; PLAT_NO_FD (-1) is INVALID_HANDLE_VALUE; every handle the fake keeps is
 *     non-inheritable, and the child's ends are inherited through an explicit handle list under one spawn lock, so
 *     one child never inherits another's pipe (which would keep that pipe open after its writer exits);
 *   - a process runs its CommandLine as is, with CreateProcessW (as HCS runs a Windows container's process:
 *     "cmd /c echo hello"), in a new process group and in a job object of its own: the job is the "process group"
 *     that signals reach, and closing it when the process is reaped ends anything the process left running;
 *   - console control events are NOT generated (Wine has no console here: GenerateConsoleCtrlEvent fails with
 *     ERROR_INVALID_ACCESS). A Ctrl* signal ends the job with STATUS_CONTROL_C_EXIT (0xC000013A), which is what a
 *     Windows console process without a handler reports when the default handler ends it on any console control
 *     event (and what `docker stop` reports for Windows containers); SIGKILL (HcsTerminateProcess) ends it with
 *     128 + 9, like every other signal number, the code a POSIX shell reports for a signal death;
 *   - EmulateConsole: there is no pseudo console; the child's stdin, stdout and stderr are the client end of one
 *     duplex named pipe, and the "console" stream is its server end (bidirectional, like a pty master);
 *   - result strings are LocalAlloc'd, so the real kernel32 LocalFree frees them.
 * Strings (paths, command lines, environment) arrive as UTF-8 and are converted to UTF-16 for the W functions.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <psapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* STATUS_CONTROL_C_EXIT: "{Application Exit by CTRL+C} The application terminated as a result of a CTRL+C." */
#define PLAT_CTRL_EXIT_CODE 0xC000013Au

/* ---------------------------------------------------------------- UTF-8 <-> UTF-16 */

static wchar_t *widen(const char *s)
{
    int n;
    wchar_t *w;
    if (!s) return NULL;
    n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) return NULL;
    w = malloc((size_t)n * sizeof *w);
    if (!w) return NULL;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

static char *narrow(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s;
    if (n <= 0) return NULL;
    s = malloc((size_t)n);
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

/* A new wide string a + sep + b. */
static wchar_t *wjoin(const wchar_t *a, const wchar_t *sep, const wchar_t *b)
{
    size_t la = wcslen(a), ls = wcslen(sep), lb = wcslen(b);
    wchar_t *r = malloc((la + ls + lb + 1) * sizeof *r);
    if (!r) return NULL;
    memcpy(r, a, la * sizeof *r);
    memcpy(r + la, sep, ls * sizeof *r);
    memcpy(r + la + ls, b, (lb + 1) * sizeof *r);
    return r;
}

/* ---------------------------------------------------------------- locks, threads */

struct plat_mutex { SRWLOCK lock; };
struct plat_cond { CONDITION_VARIABLE cv; };

plat_mutex *plat_mutex_create(void)
{
    plat_mutex *m = calloc(1, sizeof *m);
    if (!m) abort();
    InitializeSRWLock(&m->lock);
    return m;
}
void plat_mutex_lock(plat_mutex *m) { AcquireSRWLockExclusive(&m->lock); }
void plat_mutex_unlock(plat_mutex *m) { ReleaseSRWLockExclusive(&m->lock); }

plat_cond *plat_cond_create(void)
{
    plat_cond *c = calloc(1, sizeof *c);
    if (!c) abort();
    InitializeConditionVariable(&c->cv);
    return c;
}

int plat_cond_wait(plat_cond *c, plat_mutex *m, uint32_t ms)
{
    if (SleepConditionVariableSRW(&c->cv, &m->lock, ms == PLAT_INFINITE ? INFINITE : (DWORD)ms, 0)) return 0;
    return GetLastError() == ERROR_TIMEOUT ? 1 : 0;
}

void plat_cond_broadcast(plat_cond *c) { WakeAllConditionVariable(&c->cv); }
void plat_cond_signal(plat_cond *c) { WakeConditionVariable(&c->cv); }

struct thread_start { void (*fn)(void *); void *arg; };

static DWORD WINAPI thread_main(LPVOID p)
{
    struct thread_start ts = *(struct thread_start *)p;
    free(p);
    ts.fn(ts.arg);
    return 0;
}

int plat_thread_start(void (*fn)(void *), void *arg)
{
    struct thread_start *ts = malloc(sizeof *ts);
    HANDLE t;
    if (!ts) return -1;
    ts->fn = fn;
    ts->arg = arg;
    t = CreateThread(NULL, 0, thread_main, ts, 0, NULL);
    if (!t) {
        free(ts);
        return -1;
    }
    CloseHandle(t);  /* detached */
    return 0;
}

/* Win32 thread ids are never 0 and are unique among live threads. */
uint64_t plat_thread_self(void) { return (uint64_t)GetCurrentThreadId(); }

static INIT_ONCE once_control = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK once_trampoline(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once;
    (void)context;
    ((void (*)(void))(uintptr_t)param)();
    return TRUE;
}

void plat_call_once(void (*fn)(void))
{
    InitOnceExecuteOnce(&once_control, once_trampoline, (PVOID)(uintptr_t)fn, NULL);
}

/* ---------------------------------------------------------------- time */

uint32_t plat_cpu_count(void)
{
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (uint32_t)n : 1u;
}

uint64_t plat_monotonic_ms(void) { return (uint64_t)GetTickCount64(); }

void plat_sleep_ms(uint32_t ms) { Sleep(ms); }
void plat_yield(void) { SwitchToThread(); }

uint64_t plat_filetime_now(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    return ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
}

void plat_format_filetime(uint64_t ft, char *buf, size_t size)
{
    FILETIME f;
    SYSTEMTIME st;
    f.dwLowDateTime = (DWORD)ft;
    f.dwHighDateTime = (DWORD)(ft >> 32);
    if (!FileTimeToSystemTime(&f, &st)) memset(&st, 0, sizeof st);
    snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02u.%07uZ", st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute,
             st.wSecond, (unsigned)(ft % 10000000u));
}

/* ---------------------------------------------------------------- result strings */

/* LMEM_FIXED: the returned pointer is the HLOCAL, so the caller's LocalFree(pointer) frees it. */
void *plat_result_alloc(size_t bytes) { return (void *)LocalAlloc(LMEM_FIXED, bytes); }
void plat_result_free(void *p) { LocalFree((HLOCAL)p); }

/* ---------------------------------------------------------------- streams */

static HANDLE as_handle(plat_fd fd) { return (HANDLE)fd; }

plat_fd plat_dup(plat_fd fd)
{
    HANDLE out = NULL;
    if (fd == PLAT_NO_FD || fd == 0) return PLAT_NO_FD;
    if (!DuplicateHandle(GetCurrentProcess(), as_handle(fd), GetCurrentProcess(), &out, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
        return PLAT_NO_FD;
    return (plat_fd)out;
}

void plat_close(plat_fd fd)
{
    if (fd != PLAT_NO_FD && fd != 0) CloseHandle(as_handle(fd));
}

uint32_t plat_write(plat_fd fd, const void *buf, size_t len)
{
    const char *p = buf;
    if (fd == PLAT_NO_FD || fd == 0) return ERROR_INVALID_HANDLE;
    while (len > 0) {
        DWORD chunk = len > 0x40000000u ? 0x40000000u : (DWORD)len, done = 0;
        if (!WriteFile(as_handle(fd), p, chunk, &done, NULL)) return GetLastError();
        p += done;
        len -= done;
    }
    return 0;
}

int plat_fd_valid(plat_fd fd)
{
    DWORD flags;
    return fd != PLAT_NO_FD && fd != 0 && GetHandleInformation(as_handle(fd), &flags);
}

void *plat_fd_to_handle(plat_fd fd) { return fd == PLAT_NO_FD ? INVALID_HANDLE_VALUE : (void *)fd; }

plat_fd plat_handle_to_fd(void *handle)
{
    if (handle == NULL || handle == INVALID_HANDLE_VALUE) return PLAT_NO_FD;
    return (plat_fd)handle;
}

/* ---------------------------------------------------------------- processes */

/* Every child the fake started and has not reaped: its process handle and its job. */
typedef struct child_rec {
    DWORD pid;
    HANDLE process;
    HANDLE job;
    struct child_rec *next;
} child_rec;

static SRWLOCK children_lock = SRWLOCK_INIT;
static child_rec *children;
/* Inheritable handles exist only inside this lock, so concurrent spawns never leak pipes into each other. */
static SRWLOCK spawn_lock = SRWLOCK_INIT;
static volatile LONG pipe_serial;

/* Appends one argument to a command line with the quoting CommandLineToArgvW and the MSVC runtime undo. */
static void append_arg(wchar_t *cmd, size_t *pos, const wchar_t *arg)
{
    size_t p = *pos;
    int quote = arg[0] == 0 || wcspbrk(arg, L" \t\n\v\"") != NULL;
    if (p) cmd[p++] = L' ';
    if (!quote) {
        size_t l = wcslen(arg);
        memcpy(cmd + p, arg, l * sizeof *cmd);
        *pos = p + l;
        return;
    }
    cmd[p++] = L'"';
    for (const wchar_t *a = arg;; a++) {
        size_t backslashes = 0;
        while (*a == L'\\') { a++; backslashes++; }
        if (*a == 0) {
            for (size_t i = 0; i < backslashes * 2; i++) cmd[p++] = L'\\';
            break;
        }
        if (*a == L'"') {
            for (size_t i = 0; i < backslashes * 2 + 1; i++) cmd[p++] = L'\\';
        } else {
            for (size_t i = 0; i < backslashes; i++) cmd[p++] = L'\\';
        }
        cmd[p++] = *a;
    }
    cmd[p++] = L'"';
    *pos = p;
}

static wchar_t *command_from_argv(const char *const *argv)
{
    size_t cap = 1, pos = 0, n = 0;
    wchar_t **w, *cmd;
    while (argv[n]) n++;
    w = calloc(n + 1, sizeof *w);
    if (!w) return NULL;
    for (size_t i = 0; i < n; i++) {
        w[i] = widen(argv[i]);
        if (!w[i]) goto fail;
        cap += wcslen(w[i]) * 2 + 3;
    }
    cmd = malloc(cap * sizeof *cmd);
    if (!cmd) goto fail;
    for (size_t i = 0; i < n; i++) append_arg(cmd, &pos, w[i]);
    cmd[pos] = 0;
    for (size_t i = 0; i < n; i++) free(w[i]);
    free(w);
    return cmd;
fail:
    for (size_t i = 0; i < n; i++) free(w[i]);
    free(w);
    return NULL;
}

/* A CREATE_UNICODE_ENVIRONMENT block ("K=V\0...\0\0") from UTF-8 "K=V" strings. */
static wchar_t *environment_block(const char *const *envp)
{
    size_t total = 1, pos = 0, n = 0;
    wchar_t **w, *block;
    while (envp[n]) n++;
    w = calloc(n + 1, sizeof *w);
    if (!w) return NULL;
    for (size_t i = 0; i < n; i++) {
        w[i] = widen(envp[i]);
        if (!w[i]) {
            for (size_t j = 0; j < i; j++) free(w[j]);
            free(w);
            return NULL;
        }
        total += wcslen(w[i]) + 1;
    }
    block = malloc((total + 1) * sizeof *block);
    if (block) {
        for (size_t i = 0; i < n; i++) {
            size_t l = wcslen(w[i]) + 1;
            memcpy(block + pos, w[i], l * sizeof *block);
            pos += l;
        }
        block[pos++] = 0;
        if (n == 0) block[pos++] = 0;
    }
    for (size_t i = 0; i < n; i++) free(w[i]);
    free(w);
    return block;
}

static HANDLE inheritable_null(void)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
    return CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING,
                       0, NULL);
}

/* An anonymous pipe: the child's end inheritable, the parent's end not. */
static BOOL make_pipe(HANDLE *child_end, HANDLE *parent_end, int child_reads)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
    HANDLE r, w;
    if (!CreatePipe(&r, &w, &sa, 0)) return FALSE;
    *child_end = child_reads ? r : w;
    *parent_end = child_reads ? w : r;
    SetHandleInformation(*parent_end, HANDLE_FLAG_INHERIT, 0);
    return TRUE;
}

/* The EmulateConsole stream: one duplex named pipe; the server end is the parent's "console". */
static BOOL make_console_pipe(HANDLE *child_end, HANDLE *parent_end)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
    wchar_t name[96];
    HANDLE server, client;
    swprintf(name, sizeof name / sizeof name[0], L"\\\\.\\pipe\\fakehcs-console-%lu-%ld",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&pipe_serial));
    server = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                              PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536,
                              65536, 0, NULL);
    if (server == INVALID_HANDLE_VALUE) return FALSE;
    client = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, &sa, OPEN_EXISTING, 0, NULL);
    if (client == INVALID_HANDLE_VALUE) {
        CloseHandle(server);
        return FALSE;
    }
    if (!ConnectNamedPipe(server, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
        CloseHandle(client);
        CloseHandle(server);
        return FALSE;
    }
    *child_end = client;
    *parent_end = server;
    return TRUE;
}

static void close_if(HANDLE *h)
{
    if (*h && *h != INVALID_HANDLE_VALUE) CloseHandle(*h);
    *h = NULL;
}

/* Already so: each child runs in a job with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE whose only handle is ours. */
void plat_children_die_with_process(void) {}

uint32_t plat_spawn(const plat_spawn_spec *spec, plat_child *child)
{
    HANDLE child_std[3] = { NULL, NULL, NULL }, parent_std[3] = { NULL, NULL, NULL }, console = NULL, job = NULL;
    HANDLE inherit[3];
    DWORD ninherit = 0;
    wchar_t *cmd = NULL, *env = NULL, *cwd = NULL;
    STARTUPINFOEXW si;
    PROCESS_INFORMATION pi;
    SIZE_T attr_size = 0;
    LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    DWORD flags = CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED;
    uint32_t rc = 0;
    child_rec *rec = NULL;

    child->pid = -1;
    child->stdin_w = child->stdout_r = child->stderr_r = child->console = PLAT_NO_FD;
    memset(&pi, 0, sizeof pi);
    if (!spec->argv && !spec->command_line) return ERROR_INVALID_PARAMETER;
    if (spec->cwd && plat_path_kind(spec->cwd) != PLAT_PATH_DIR) return ERROR_DIRECTORY;

    cmd = spec->argv ? command_from_argv(spec->argv) : widen(spec->command_line);
    if (!cmd) return ERROR_INVALID_PARAMETER;
    if (spec->envp && !(env = environment_block(spec->envp))) { rc = ERROR_INVALID_PARAMETER; goto out_free; }
    if (spec->cwd && !(cwd = widen(spec->cwd))) { rc = ERROR_INVALID_PARAMETER; goto out_free; }
    rec = calloc(1, sizeof *rec);
    if (!rec) { rc = ERROR_NOT_ENOUGH_MEMORY; goto out_free; }

    job = CreateJobObjectW(NULL, NULL);
    if (!job) { rc = GetLastError(); goto out_free; }
    memset(&limits, 0, sizeof limits);
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits);

    AcquireSRWLockExclusive(&spawn_lock);
    if (spec->console) {
        HANDLE client;
        if (!make_console_pipe(&client, &console)) { rc = GetLastError(); goto out_locked; }
        child_std[0] = client;
        if (!DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &child_std[1], 0, TRUE,
                             DUPLICATE_SAME_ACCESS) ||
            !DuplicateHandle(GetCurrentProcess(), client, GetCurrentProcess(), &child_std[2], 0, TRUE,
                             DUPLICATE_SAME_ACCESS)) {
            rc = GetLastError();
            goto out_locked;
        }
    } else {
        const int wants[3] = { spec->want_stdin, spec->want_stdout, spec->want_stderr };
        for (int i = 0; i < 3; i++) {
            if (wants[i]) {
                if (!make_pipe(&child_std[i], &parent_std[i], i == 0)) { rc = GetLastError(); goto out_locked; }
            } else if ((child_std[i] = inheritable_null()) == INVALID_HANDLE_VALUE) {
                child_std[i] = NULL;
                rc = GetLastError();
                goto out_locked;
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        int dup = 0;
        for (DWORD j = 0; j < ninherit; j++) dup |= inherit[j] == child_std[i];
        if (!dup) inherit[ninherit++] = child_std[i];
    }

    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = child_std[0];
    si.StartupInfo.hStdOutput = child_std[1];
    si.StartupInfo.hStdError = child_std[2];
    /* Only the three std handles are inherited (where the attribute is supported; the spawn lock covers the
     * rest: no other inheritable handle of the fake exists while it is held). */
    InitializeProcThreadAttributeList(NULL, 1, 0, &attr_size);
    attrs = attr_size ? malloc(attr_size) : NULL;
    if (attrs && InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size)) {
        if (UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                      ninherit * sizeof inherit[0], NULL, NULL)) {
            si.lpAttributeList = attrs;
            flags |= EXTENDED_STARTUPINFO_PRESENT;
        } else {
            DeleteProcThreadAttributeList(attrs);
            free(attrs);
            attrs = NULL;
        }
    } else {
        free(attrs);
        attrs = NULL;
    }
    for (int attempt = 0;; attempt++) {
        if (CreateProcessW(NULL, cmd, NULL, NULL, TRUE, flags, env, cwd, &si.StartupInfo, &pi)) break;
        rc = GetLastError();
        /* Wine has been seen failing a CreateProcessW with ERROR_INTERNAL_ERROR under load (one in a few hundred
         * spawns while a new prefix was still starting its services); that is transient: try again. */
        if (rc != ERROR_INTERNAL_ERROR || attempt == 4) {
            if (rc == 0) rc = ERROR_GEN_FAILURE;
            goto out_locked;
        }
        rc = 0;
        Sleep(20u << attempt);
    }
out_locked:
    for (int i = 0; i < 3; i++) close_if(&child_std[i]);
    ReleaseSRWLockExclusive(&spawn_lock);
    if (attrs) {
        DeleteProcThreadAttributeList(attrs);
        free(attrs);
    }
    if (rc) goto out_free;

    /* In the job before it runs a single instruction, so everything it starts is in the job too. */
    if (!AssignProcessToJobObject(job, pi.hProcess)) {
        /* Without a job the process is still tracked and signalled alone (nested jobs need Windows 8). */
        CloseHandle(job);
        job = NULL;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);

    rec->pid = pi.dwProcessId;
    rec->process = pi.hProcess;
    rec->job = job;
    job = NULL;
    AcquireSRWLockExclusive(&children_lock);
    rec->next = children;
    children = rec;
    ReleaseSRWLockExclusive(&children_lock);
    rec = NULL;

    child->pid = (int64_t)pi.dwProcessId;
    child->stdin_w = parent_std[0] ? (plat_fd)parent_std[0] : PLAT_NO_FD;
    child->stdout_r = parent_std[1] ? (plat_fd)parent_std[1] : PLAT_NO_FD;
    child->stderr_r = parent_std[2] ? (plat_fd)parent_std[2] : PLAT_NO_FD;
    child->console = console ? (plat_fd)console : PLAT_NO_FD;
    parent_std[0] = parent_std[1] = parent_std[2] = console = NULL;
out_free:
    for (int i = 0; i < 3; i++) close_if(&parent_std[i]);
    close_if(&console);
    close_if(&job);
    free(rec);
    free(cmd);
    free(env);
    free(cwd);
    return rc;
}

/* Finds a child record (children_lock held). */
static child_rec *find_child(DWORD pid, child_rec ***link)
{
    child_rec **l = &children;
    for (; *l; l = &(*l)->next)
        if ((*l)->pid == pid) {
            if (link) *link = l;
            return *l;
        }
    return NULL;
}

typedef LONG(NTAPI *nt_process_fn)(HANDLE);

/* Suspends (or resumes) every process of the job: SIGSTOP / SIGCONT. */
static uint32_t freeze(child_rec *c, int suspend)
{
    static nt_process_fn nt_suspend, nt_resume;
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    nt_process_fn fn;
    union {
        JOBOBJECT_BASIC_PROCESS_ID_LIST list;
        char bytes[sizeof(JOBOBJECT_BASIC_PROCESS_ID_LIST) + 255 * sizeof(ULONG_PTR)];
    } ids;
    if (!nt_suspend && ntdll) {
        nt_suspend = (nt_process_fn)(void (*)(void))GetProcAddress(ntdll, "NtSuspendProcess");
        nt_resume = (nt_process_fn)(void (*)(void))GetProcAddress(ntdll, "NtResumeProcess");
    }
    fn = suspend ? nt_suspend : nt_resume;
    if (!fn) return ERROR_NOT_SUPPORTED;
    memset(&ids, 0, sizeof ids);
    if (c->job && QueryInformationJobObject(c->job, JobObjectBasicProcessIdList, &ids, sizeof ids, NULL) &&
        ids.list.NumberOfProcessIdsInList > 0) {
        for (DWORD i = 0; i < ids.list.NumberOfProcessIdsInList; i++) {
            DWORD pid = (DWORD)ids.list.ProcessIdList[i];
            HANDLE h = pid == c->pid ? c->process : OpenProcess(PROCESS_SUSPEND_RESUME, FALSE, pid);
            if (!h) continue;
            fn(h);
            if (h != c->process) CloseHandle(h);
        }
        return 0;
    }
    return fn(c->process) >= 0 ? 0 : ERROR_ACCESS_DENIED;
}

int plat_signal_valid(int signo) { return signo >= 1 && signo <= 64; }

uint32_t plat_signal_group(int64_t pid, int signo)
{
    child_rec *c;
    uint32_t rc = 0;
    UINT code;
    if (pid <= 0 || !plat_signal_valid(signo)) return ERROR_INVALID_PARAMETER;
    AcquireSRWLockExclusive(&children_lock);
    c = find_child((DWORD)pid, NULL);
    if (!c) {
        ReleaseSRWLockExclusive(&children_lock);
        return ERROR_NOT_FOUND;
    }
    switch (signo) {
    case PLAT_SIGSTOP: case 20 /* SIGTSTP */:
        rc = freeze(c, 1);
        break;
    case PLAT_SIGCONT:
        rc = freeze(c, 0);
        break;
    case 17 /* SIGCHLD */: case 23 /* SIGURG */: case 28 /* SIGWINCH */:
        break;  /* ignored by default on POSIX: nothing to do */
    default:
        /* CtrlC, CtrlBreak, CtrlClose/CtrlLogOff, CtrlShutdown (SIGINT, SIGQUIT, SIGHUP, SIGTERM): what the default
         * console control handler does; any other signal (SIGKILL first): 128 + signo. */
        code = (signo == PLAT_SIGINT || signo == PLAT_SIGQUIT || signo == PLAT_SIGHUP || signo == PLAT_SIGTERM)
                   ? PLAT_CTRL_EXIT_CODE
                   : 128u + (UINT)signo;
        if (c->job ? !TerminateJobObject(c->job, code) : !TerminateProcess(c->process, code)) {
            rc = GetLastError();
            if (WaitForSingleObject(c->process, 0) == WAIT_OBJECT_0) rc = 0;  /* already gone */
        }
        break;
    }
    ReleaseSRWLockExclusive(&children_lock);
    return rc;
}

int plat_try_reap(int64_t pid, uint32_t *exit_code)
{
    child_rec *c, **link = NULL;
    DWORD code = 0;
    AcquireSRWLockExclusive(&children_lock);
    c = pid > 0 ? find_child((DWORD)pid, &link) : NULL;
    if (!c) {
        ReleaseSRWLockExclusive(&children_lock);
        return -1;
    }
    if (WaitForSingleObject(c->process, 0) != WAIT_OBJECT_0) {
        ReleaseSRWLockExclusive(&children_lock);
        return 0;
    }
    GetExitCodeProcess(c->process, &code);
    *link = c->next;
    ReleaseSRWLockExclusive(&children_lock);
    *exit_code = (uint32_t)code;
    CloseHandle(c->process);
    /* Whatever the process left running goes with it, and with it any copy of its pipes: terminated now, and
     * KILL_ON_JOB_CLOSE covers a process still being created while the job ends. */
    if (c->job) {
        TerminateJobObject(c->job, code);
        CloseHandle(c->job);
    }
    free(c);
    return 1;
}

uint32_t plat_console_resize(plat_fd console, uint16_t rows, uint16_t cols)
{
    /* No pseudo console (see the top of this file): a resize of a live console stream is accepted and has no
     * effect. */
    (void)rows;
    (void)cols;
    return plat_fd_valid(console) ? 0 : ERROR_INVALID_HANDLE;
}

static uint64_t ft64(FILETIME f) { return ((uint64_t)f.dwHighDateTime << 32) | f.dwLowDateTime; }

uint32_t plat_process_stats(int64_t pid, plat_proc_stats *st)
{
    HANDLE h = NULL;
    FILETIME created, exited, kernel, user;
    PROCESS_MEMORY_COUNTERS_EX mem;
    IO_COUNTERS io;
    wchar_t image[MAX_PATH];
    DWORD len = MAX_PATH;
    memset(st, 0, sizeof *st);
    if (pid <= 0) return ERROR_NOT_FOUND;
    AcquireSRWLockShared(&children_lock);
    {
        child_rec *c = children;
        while (c && c->pid != (DWORD)pid) c = c->next;
        if (c) DuplicateHandle(GetCurrentProcess(), c->process, GetCurrentProcess(), &h, 0, FALSE,
                               DUPLICATE_SAME_ACCESS);
    }
    ReleaseSRWLockShared(&children_lock);
    if (!h) h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE, (DWORD)pid);
    if (!h) return ERROR_NOT_FOUND;
    if (GetProcessTimes(h, &created, &exited, &kernel, &user)) {
        st->create_filetime = ft64(created);
        st->kernel_100ns = ft64(kernel);
        st->user_100ns = ft64(user);
    }
    memset(&mem, 0, sizeof mem);
    mem.cb = sizeof mem;
    if (GetProcessMemoryInfo(h, (PROCESS_MEMORY_COUNTERS *)&mem, sizeof mem)) {
        st->commit_bytes = mem.PagefileUsage;
        st->private_ws_bytes = mem.PrivateUsage < mem.WorkingSetSize ? mem.PrivateUsage : mem.WorkingSetSize;
        st->shared_ws_bytes = mem.WorkingSetSize > st->private_ws_bytes ? mem.WorkingSetSize - st->private_ws_bytes
                                                                        : 0;
    }
    if (GetProcessIoCounters(h, &io)) {
        st->read_bytes = io.ReadTransferCount;
        st->write_bytes = io.WriteTransferCount;
        st->read_count = io.ReadOperationCount;
        st->write_count = io.WriteOperationCount;
    }
    if (QueryFullProcessImageNameW(h, 0, image, &len)) {
        const wchar_t *base = image;
        char *name;
        for (const wchar_t *p = image; *p; p++)
            if (*p == L'\\' || *p == L'/') base = p + 1;
        name = narrow(base);
        if (name) {
            snprintf(st->image_name, sizeof st->image_name, "%s", name);
            free(name);
        }
    }
    CloseHandle(h);
    return 0;
}

/* ---------------------------------------------------------------- file system */

int plat_path_kind(const char *path)
{
    wchar_t *w = widen(path);
    DWORD a;
    if (!w) return PLAT_PATH_NONE;
    a = GetFileAttributesW(w);
    free(w);
    if (a == INVALID_FILE_ATTRIBUTES) return PLAT_PATH_NONE;
    return (a & FILE_ATTRIBUTE_DIRECTORY) ? PLAT_PATH_DIR : PLAT_PATH_FILE;
}

uint32_t plat_mkdir(const char *path)
{
    wchar_t *w = widen(path);
    uint32_t rc;
    if (!w) return ERROR_BAD_PATHNAME;
    rc = CreateDirectoryW(w, NULL) ? 0 : GetLastError();
    free(w);
    return rc;
}

static uint32_t copy_tree_w(const wchar_t *src, const wchar_t *dst)
{
    WIN32_FIND_DATAW fd;
    HANDLE find;
    wchar_t *pattern;
    uint32_t rc = 0;
    DWORD a = GetFileAttributesW(dst);
    if (a == INVALID_FILE_ATTRIBUTES) {
        if (!CreateDirectoryW(dst, NULL)) return GetLastError();
    } else if (!(a & FILE_ATTRIBUTE_DIRECTORY)) {
        return ERROR_ALREADY_EXISTS;
    }
    pattern = wjoin(src, L"\\", L"*");
    if (!pattern) return ERROR_NOT_ENOUGH_MEMORY;
    find = FindFirstFileW(pattern, &fd);
    free(pattern);
    if (find == INVALID_HANDLE_VALUE) {
        rc = GetLastError();
        return rc == ERROR_FILE_NOT_FOUND ? 0 : rc;
    }
    do {
        wchar_t *s, *t;
        if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) continue;
        s = wjoin(src, L"\\", fd.cFileName);
        t = wjoin(dst, L"\\", fd.cFileName);
        if (!s || !t) rc = ERROR_NOT_ENOUGH_MEMORY;
        else if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) rc = copy_tree_w(s, t);
        else if (!CopyFileW(s, t, FALSE)) rc = GetLastError();
        free(s);
        free(t);
    } while (rc == 0 && FindNextFileW(find, &fd));
    FindClose(find);
    return rc;
}

uint32_t plat_copy_tree(const char *src, const char *dst)
{
    wchar_t *s = widen(src), *d = widen(dst);
    uint32_t rc;
    if (!s || !d) rc = ERROR_BAD_PATHNAME;
    else if (!(GetFileAttributesW(s) != INVALID_FILE_ATTRIBUTES)) rc = GetLastError();
    else rc = copy_tree_w(s, d);
    free(s);
    free(d);
    return rc;
}

static uint32_t remove_tree_w(const wchar_t *path)
{
    DWORD a = GetFileAttributesW(path);
    if (a == INVALID_FILE_ATTRIBUTES) return GetLastError();
    if (a & FILE_ATTRIBUTE_READONLY) SetFileAttributesW(path, a & ~(DWORD)FILE_ATTRIBUTE_READONLY);
    if ((a & FILE_ATTRIBUTE_DIRECTORY) && !(a & FILE_ATTRIBUTE_REPARSE_POINT)) {
        WIN32_FIND_DATAW fd;
        HANDLE find;
        uint32_t rc = 0;
        wchar_t *pattern = wjoin(path, L"\\", L"*");
        if (!pattern) return ERROR_NOT_ENOUGH_MEMORY;
        find = FindFirstFileW(pattern, &fd);
        free(pattern);
        if (find != INVALID_HANDLE_VALUE) {
            do {
                wchar_t *s;
                if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) continue;
                s = wjoin(path, L"\\", fd.cFileName);
                rc = s ? remove_tree_w(s) : ERROR_NOT_ENOUGH_MEMORY;
                free(s);
            } while (rc == 0 && FindNextFileW(find, &fd));
            FindClose(find);
        }
        if (rc) return rc;
        return RemoveDirectoryW(path) ? 0 : GetLastError();
    }
    if (a & FILE_ATTRIBUTE_DIRECTORY) return RemoveDirectoryW(path) ? 0 : GetLastError();
    return DeleteFileW(path) ? 0 : GetLastError();
}

uint32_t plat_remove_tree(const char *path)
{
    wchar_t *w = widen(path);
    uint32_t rc = w ? remove_tree_w(w) : ERROR_BAD_PATHNAME;
    free(w);
    return rc;
}

uint32_t plat_write_file(const char *path, const void *data, size_t len)
{
    wchar_t *w = widen(path);
    HANDLE h;
    uint32_t rc;
    if (!w) return ERROR_BAD_PATHNAME;
    h = CreateFileW(w, GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) return GetLastError();
    rc = plat_write((plat_fd)h, data, len);
    CloseHandle(h);
    return rc;
}

char *plat_read_file(const char *path, size_t max, size_t *size, uint32_t *error)
{
    wchar_t *w = widen(path);
    HANDLE h;
    LARGE_INTEGER length;
    char *buf;
    DWORD got = 0;
    *size = 0;
    *error = 0;
    if (!w) {
        *error = ERROR_BAD_PATHNAME;
        return NULL;
    }
    h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        *error = GetLastError();
        return NULL;
    }
    if (!GetFileSizeEx(h, &length)) {
        *error = GetLastError();
        CloseHandle(h);
        return NULL;
    }
    if (length.QuadPart < 0 || (unsigned long long)length.QuadPart > max) {
        *error = ERROR_INVALID_DATA;
        CloseHandle(h);
        return NULL;
    }
    buf = malloc((size_t)length.QuadPart + 1);
    if (!buf) abort();
    if (length.QuadPart > 0 && (!ReadFile(h, buf, (DWORD)length.QuadPart, &got, NULL) || got != length.QuadPart)) {
        *error = GetLastError() ? GetLastError() : ERROR_INVALID_DATA;
        free(buf);
        CloseHandle(h);
        return NULL;
    }
    CloseHandle(h);
    buf[got] = 0;
    *size = got;
    return buf;
}

char plat_path_separator(void) { return '\\'; }

char *plat_getenv(const char *name)
{
    wchar_t *wname = widen(name), *value;
    DWORD n;
    char *result;
    if (!wname) return NULL;
    n = GetEnvironmentVariableW(wname, NULL, 0);
    if (n == 0) {
        free(wname);
        return NULL;
    }
    value = malloc((size_t)n * sizeof *value);
    if (!value) abort();
    if (GetEnvironmentVariableW(wname, value, n) >= n) {
        free(value);
        free(wname);
        return NULL;
    }
    free(wname);
    result = narrow(value);
    free(value);
    return result;
}

int plat_dir_is_empty(const char *path)
{
    wchar_t *w = widen(path), *pattern;
    WIN32_FIND_DATAW fd;
    HANDLE find;
    int empty = 1;
    if (!w) return 1;
    pattern = wjoin(w, L"\\", L"*");
    free(w);
    if (!pattern) return 1;
    find = FindFirstFileW(pattern, &fd);
    free(pattern);
    if (find == INVALID_HANDLE_VALUE) return 1;
    do {
        if (wcscmp(fd.cFileName, L".") != 0 && wcscmp(fd.cFileName, L"..") != 0) {
            empty = 0;
            break;
        }
    } while (FindNextFileW(find, &fd));
    FindClose(find);
    return empty;
}
