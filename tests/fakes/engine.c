/* engine.c -- compute systems, their real OS processes and their state machine (the "service" side; see engine.h).
 *
 * Locking: one engine mutex (E) guards everything here; one condition variable (C) is broadcast on every state
 * change (process reaped, system stopped, disconnect). The engine never calls out (event sink) with E held:
 * events are queued and delivered by the notifier thread. Two engine-owned threads:
 *   - the reaper: waitpid(pid, WNOHANG) on exactly the pids the engine started ("never leave zombies");
 *   - the notifier: hands queued events to the subscriber, in order.
 */
#include "engine_local.h"   /* this file defines local_engine_*; remote.c defines engine_* */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hresult.h"
#include "json.h"
#include "oscompat.h"

/* Shutdown: SIGTERM, then this grace period, then SIGKILL. (choice) */
#define SHUTDOWN_GRACE_MS 2000u
#define KILL_WAIT_MS 10000u
/* GetExitCodeProcess's value for a running process; used as ProcessStatus.ExitCode before exit. (choice) */
#define STILL_ACTIVE 259u

enum { S_CREATING, S_CREATED, S_RUNNING, S_PAUSED, S_STOPPED };
static const char *const STATE_NAMES[] = { "Created", "Created", "Running", "Paused", "Stopped" };
enum { P_RESERVED, P_STARTING, P_RUNNING, P_EXITED, P_FAILED };

typedef struct eproc {
    uint64_t uid;
    int state;
    /* parameters */
    char *command_line;
    char **argv;        /* CommandArgs (LCOW form) or NULL */
    char **envp;        /* Environment (complete) or NULL = inherit */
    char *cwd;
    int want_in, want_out, want_err, console;
    uint16_t rows, cols;
    /* runtime */
    int64_t pid;
    plat_fd in, out, err, master;
    uint32_t exit_code;
    uint64_t create_ft;
    /* References: each client handle (create/open), each client job in flight (engine_process_retain) and each
     * engine call that waits with E released. At zero, an exited (or never started) process is forgotten and
     * its pipe ends are closed: HCS keeps its side of the pipes in the service and releases them with the
     * process, so a long-lived system runs any number of processes without accumulating descriptors. */
    int refs;
    struct eproc *next;
} eproc;

/* A virtual SMB share of a virtual machine (SchemaReference.md VirtualSmbShare {Name, Path}): from its document's
 * Devices.VirtualSmb.Shares and HcsModifyComputeSystem "VirtualMachine/Devices/VirtualSmb/Shares". A HostedSystem's
 * layer paths name them inside the guest (hcsshim internal/uvm/vsmb.go vsmbSharePrefix). */
typedef struct evsmb {
    char *name, *path;
    struct evsmb *next;
} evsmb;

/* A shared memory region of a virtual machine (SchemaReference.md SharedMemoryRegion / SharedMemoryRegionInfo). */
typedef struct eregion {
    char *name;
    uint64_t offset, length, gpa;
    int allow_guest_write, hidden;
    struct eregion *next;
} eregion;

typedef struct esys {
    uint64_t uid;
    char *ns, *id, *owner;
    const char *type;       /* "Container" | "VirtualMachine" */
    const char *os;         /* "Windows" | "Linux" */
    char *hosting_system_id;
    int hosted;             /* a HostedSystem: created by the guest of the VM named hosting_system_id */
    /* A utility VM: a Windows VM booting a container OS image from its VSMB share "os" (hcsshim internal/uvm
     * create_wcow.go prepareConfigDoc: Path <layer>\UtilityVM\Files). os_share_path is that share's path. */
    int utility_vm;
    char *os_share_path;
    char **layers;          /* Storage.Layers[].Path of its Container (or HostedSystem.Container), base last */
    size_t nlayers;
    int has_os_build;       /* the OS build its image declares (a container) or its boot image declares (a UVM) */
    os_version os_build;
    evsmb *shares;          /* VirtualSmb shares of a VM */
    int state;
    int stopping;
    int handles;
    int pins;               /* engine calls using this record with E released */
    int dead;               /* forgotten; freed when pins drops to 0 */
    int terminate_on_last_close;
    int crash_reporting;    /* VirtualMachine.Devices.GuestCrashReporting configured */
    char *crash_dump_file;  /* its WindowsCrashSettings.DumpFileName, or NULL */
    /* What a VirtualMachine's property queries report (SchemaReference.md Properties: Memory,
     * SharedMemoryRegionInfo, GuestConnectionInfo), from its document and later HcsModifyComputeSystem requests. */
    uint64_t memory_mb;     /* ComputeTopology.Memory.SizeInMB */
    uint32_t processors;    /* ComputeTopology.Processor.Count */
    int guest_connection;   /* VirtualMachine.GuestConnection configured */
    eregion *regions;       /* Devices.SharedMemory.Regions */
    uint64_t crashes;
    int modifications;
    int32_t exit_status;
    const char *exit_type, *exit_detail, *exit_initiator;
    uint64_t create_ft, start_ft, stop_ft;
    eproc *procs;
    struct esys *next;
} esys;

typedef struct qevent {
    int kind;
    uint64_t system_uid, process_uid;
    char *data;
    struct qevent *next;
} qevent;

static plat_mutex *E;
static plat_cond *C;         /* state changes */
static plat_cond *NC;        /* notifier queue */
static esys *systems;
static uint64_t next_uid = 1;
static int disconnected;
static engine_event_sink the_sink;
static void *the_sink_ctx;
static qevent *qhead, *qtail;
static int notifier_busy;
static int64_t *children;    /* pids started and not yet reaped */
static size_t nchildren, capchildren;

static _Thread_local char tls_error[1024];

const char *engine_last_error(void) { return tls_error; }

static int32_t fail(int32_t hr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
    return hr;
}

static char *xstrdup(const char *s)
{
    char *d;
    size_t n;
    if (!s) return NULL;
    n = strlen(s) + 1;
    d = malloc(n);
    if (!d) abort();
    memcpy(d, s, n);
    return d;
}

static void free_strv(char **v)
{
    if (!v) return;
    for (size_t i = 0; v[i]; i++) free(v[i]);
    free(v);
}

static int ascii_ieq(const char *a, const char *b)
{
    while (*a && *b && ((*a | 0x20) == (*b | 0x20))) { a++; b++; }
    return !*a && !*b;
}

/* ---------------------------------------------------------------- events */

static void queue_event(int kind, uint64_t sys_uid, uint64_t proc_uid, char *data)
{
    qevent *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->kind = kind;
    e->system_uid = sys_uid;
    e->process_uid = proc_uid;
    e->data = data;
    if (qtail) qtail->next = e;
    else qhead = e;
    qtail = e;
    plat_cond_broadcast(NC);
}

static void notifier_main(void *arg)
{
    (void)arg;
    plat_mutex_lock(E);
    for (;;) {
        qevent *e;
        engine_event ev;
        while (!qhead) plat_cond_wait(NC, E, PLAT_INFINITE);
        e = qhead;
        qhead = e->next;
        if (!qhead) qtail = NULL;
        notifier_busy = 1;
        plat_mutex_unlock(E);
        ev.kind = e->kind;
        ev.system_uid = e->system_uid;
        ev.process_uid = e->process_uid;
        ev.data = e->data;
        if (the_sink) the_sink(&ev, the_sink_ctx);
        free(e->data);
        free(e);
        plat_mutex_lock(E);
        notifier_busy = 0;
        plat_cond_broadcast(NC);
    }
}

void engine_subscribe(engine_event_sink sink, void *context)
{
    plat_mutex_lock(E);
    the_sink = sink;
    the_sink_ctx = context;
    plat_mutex_unlock(E);
}

int engine_events_idle(void)
{
    int idle;
    plat_mutex_lock(E);
    idle = qhead == NULL && !notifier_busy;
    plat_mutex_unlock(E);
    return idle;
}

/* ---------------------------------------------------------------- lookups */

static esys *find_sys(uint64_t uid)
{
    for (esys *s = systems; s; s = s->next)
        if (s->uid == uid && !s->dead) return s;
    return NULL;
}

static esys *find_sys_by_id(const char *ns, const char *id)
{
    for (esys *s = systems; s; s = s->next)
        if (!s->dead && strcmp(s->ns, ns) == 0 && strcmp(s->id, id) == 0) return s;
    return NULL;
}

static eproc *find_proc(uint64_t puid, esys **owner)
{
    for (esys *s = systems; s; s = s->next) {
        if (s->dead) continue;
        for (eproc *p = s->procs; p; p = p->next)
            if (p->uid == puid) {
                if (owner) *owner = s;
                return p;
            }
    }
    return NULL;
}

static void free_proc(eproc *p)
{
    free(p->command_line);
    free_strv(p->argv);
    free_strv(p->envp);
    free(p->cwd);
    plat_close(p->in);
    plat_close(p->out);
    plat_close(p->err);
    plat_close(p->master);
    free(p);
}

/* An exited or never-started process nobody refers to any more is forgotten (E held). */
static int proc_forgettable(const eproc *p)
{
    return p->refs <= 0 && (p->state == P_EXITED || p->state == P_FAILED || p->state == P_RESERVED);
}

static void forget_proc(esys *s, eproc *p)
{
    eproc **pp = &s->procs;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
    free_proc(p);
}

/* Drops one reference (E held); returns 1 when the process was forgotten. */
static int proc_unref(esys *s, eproc *p)
{
    if (--p->refs < 0) p->refs = 0;
    if (!s->dead && proc_forgettable(p)) {
        forget_proc(s, p);
        return 1;
    }
    return 0;
}

static void free_sys(esys *s)
{
    eproc *p = s->procs;
    while (p) {
        eproc *n = p->next;
        free_proc(p);
        p = n;
    }
    free(s->ns);
    free(s->id);
    free(s->owner);
    free(s->hosting_system_id);
    free(s->crash_dump_file);
    free(s->os_share_path);
    for (size_t i = 0; i < s->nlayers; i++) free(s->layers[i]);
    free(s->layers);
    while (s->shares) {
        evsmb *v = s->shares;
        s->shares = v->next;
        free(v->name);
        free(v->path);
        free(v);
    }
    while (s->regions) {
        eregion *r = s->regions;
        s->regions = r->next;
        free(r->name);
        free(r);
    }
    free(s);
}

/* Unlinks a system; frees it now or when its last pin goes. */
static void forget_sys(esys *s)
{
    esys **pp = &systems;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (*pp) *pp = s->next;
    s->dead = 1;
    s->next = NULL;
    if (s->pins == 0) free_sys(s);
}

static void unpin(esys *s)
{
    if (--s->pins == 0 && s->dead) free_sys(s);
}

static int is_vm(const esys *s) { return strcmp(s->type, "VirtualMachine") == 0; }

/* ---------------------------------------------------------------- reaper */

static void add_child(int64_t pid)
{
    if (nchildren == capchildren) {
        size_t cap = capchildren ? capchildren * 2 : 64;
        int64_t *n = realloc(children, cap * sizeof *n);
        if (!n) abort();
        children = n;
        capchildren = cap;
    }
    children[nchildren++] = pid;
    plat_cond_broadcast(C);
}

static char *process_status_json(const eproc *p)
{
    json_writer w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "ProcessId");
    jw_uint(&w, (uint64_t)(p->pid > 0 ? p->pid : 0));
    jw_key(&w, "Exited");
    jw_bool(&w, p->state == P_EXITED);
    jw_key(&w, "ExitCode");
    jw_uint(&w, p->state == P_EXITED ? p->exit_code : STILL_ACTIVE);
    jw_key(&w, "LastWaitResult");
    jw_int(&w, 0);
    jw_obj_end(&w);
    return jw_finish(&w);
}

static void on_reaped(int64_t pid, uint32_t code)
{
    for (size_t i = 0; i < nchildren; i++)
        if (children[i] == pid) {
            children[i] = children[--nchildren];
            break;
        }
    for (esys *s = systems; s; s = s->next)
        for (eproc *p = s->procs, *next; p; p = next) {
            next = p->next;
            if (p->pid == pid && (p->state == P_RUNNING || p->state == P_STARTING)) {
                p->state = P_EXITED;
                p->exit_code = code;
                /* ProcessExited only once the OS process is reaped: its stdout/stderr writers are gone. */
                if (!s->dead) queue_event(ENGINE_EVENT_PROCESS_EXITED, s->uid, p->uid, process_status_json(p));
                /* Every handle was closed while it ran: nobody can ask about it any more. */
                if (!s->dead && proc_forgettable(p)) forget_proc(s, p);
            }
        }
    plat_cond_broadcast(C);
}

static void reaper_main(void *arg)
{
    int64_t *snap = NULL;
    size_t cap = 0;
    uint32_t backoff = 1;
    (void)arg;
    for (;;) {
        size_t n;
        int reaped = 0;
        plat_mutex_lock(E);
        while (nchildren == 0) plat_cond_wait(C, E, PLAT_INFINITE);
        if (cap < nchildren) {
            cap = nchildren * 2;
            free(snap);
            snap = malloc(cap * sizeof *snap);
            if (!snap) abort();
        }
        n = nchildren;
        memcpy(snap, children, n * sizeof *snap);
        plat_mutex_unlock(E);
        for (size_t i = 0; i < n; i++) {
            uint32_t code = 0;
            int r = plat_try_reap(snap[i], &code);
            if (r != 0) {
                plat_mutex_lock(E);
                on_reaped(snap[i], r == 1 ? code : 255u);
                plat_mutex_unlock(E);
                reaped++;
            }
        }
        if (reaped) {
            backoff = 1;
        } else {
            /* Poll with a short backoff (1..8 ms); any state change (a new child, a signal sent) wakes us early. */
            plat_mutex_lock(E);
            plat_cond_wait(C, E, backoff);
            plat_mutex_unlock(E);
            if (backoff < 8) backoff *= 2;
        }
    }
}

/* ---------------------------------------------------------------- the host's OS version */

/* The host the container images are checked against (oscompat.h). Real HCS runs on the host it describes; the
 * fake takes it from PYHCS_HOST_OS_VERSION -- the variable pyhcs.compat.host_os() reads, so a test session pins
 * one host for both -- or FakeHcsSetHostOsVersion. */
static os_version host_os;

/* E held (or during init): PYHCS_HOST_OS_VERSION when set and not blank, else OSCOMPAT_DEFAULT_HOST. */
static void load_host_os(void)
{
    char *text = plat_getenv(OSCOMPAT_HOST_ENV);
    const char *p = text;
    while (p && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p && *p) {
        if (osver_parse(text, 1, &host_os) == 0) {
            free(text);
            return;
        }
        fprintf(stderr, "fakehcs: %s='%s' is not a host (expected '<major>.<minor>.<build>[.<revision>] "
                "[server|client]'); assuming %s\n", OSCOMPAT_HOST_ENV, text, OSCOMPAT_DEFAULT_HOST);
    }
    free(text);
    osver_parse(OSCOMPAT_DEFAULT_HOST, 1, &host_os);
}

int32_t engine_host_os(const char *version, char **current)
{
    char buf[64];
    tls_error[0] = 0;
    *current = NULL;
    plat_mutex_lock(E);
    if (version && version[0]) {
        os_version v;
        if (osver_parse(version, 1, &v) != 0) {
            plat_mutex_unlock(E);
            return fail(FAKE_E_INVALIDARG, "'%s' is not a host: expected '<major>.<minor>.<build>[.<revision>] "
                        "[server|client]', e.g. '10.0.20348.1' or '10.0.22631.1 client'", version);
        }
        host_os = v;
    } else if (version) {
        load_host_os();
    }
    osver_format(&host_os, 1, buf, sizeof buf);
    plat_mutex_unlock(E);
    *current = xstrdup(buf);
    return 0;
}

/* ---------------------------------------------------------------- init */

void engine_init(void)
{
    E = plat_mutex_create();
    C = plat_cond_create();
    NC = plat_cond_create();
    load_host_os();
    if (plat_thread_start(reaper_main, NULL) != 0 || plat_thread_start(notifier_main, NULL) != 0) {
        fprintf(stderr, "fakehcs: cannot start the engine threads\n");
        abort();
    }
}

/* ---------------------------------------------------------------- helpers for systems */

static int proc_alive(const eproc *p) { return p->state == P_RUNNING || p->state == P_STARTING; }

static void signal_all(esys *s, int signo)
{
    for (eproc *p = s->procs; p; p = p->next)
        if (p->state == P_RUNNING) plat_signal_group(p->pid, signo);
    plat_cond_broadcast(C);   /* the reaper polls sooner */
}

static int any_alive(esys *s)
{
    for (eproc *p = s->procs; p; p = p->next)
        if (proc_alive(p)) return 1;
    return 0;
}

/* Waits (E held, released while waiting) until no process of s is alive; 1 on success, 0 on timeout. */
static int wait_procs_gone(esys *s, uint32_t ms)
{
    uint64_t deadline = plat_monotonic_ms() + ms;
    while (any_alive(s)) {
        uint64_t now = plat_monotonic_ms();
        if (now >= deadline) return 0;
        plat_cond_wait(C, E, (uint32_t)(deadline - now));
    }
    return 1;
}

/* The crash parameters of HcsCrashComputeSystem's crash: the bug check code and its 4 values (CrashReport
 * "CrashParameters", SchemaReference.md). choice: 0xE2 MANUALLY_INITIATED_CRASH -- a client-requested crash. */
static void write_crash_parameters(json_writer *w)
{
    jw_arr_begin(w);
    jw_uint(w, 0xE2);
    for (int i = 0; i < 4; i++) jw_uint(w, 0);
    jw_arr_end(w);
}

static char *exit_status_json(const esys *s)
{
    json_writer w;
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "Status");
    jw_int(&w, s->exit_status);
    jw_key(&w, "ExitType");
    jw_string(&w, s->exit_type ? s->exit_type : "None");
    jw_key(&w, "Attribution");
    jw_arr_begin(&w);
    if (s->exit_detail && strcmp(s->exit_detail, "GuestCrash") == 0) {
        /* AttributionRecord.GuestCrash is a GuestCrash {CrashParameters: "Crash parameters as reported by the
         * guest"} (SchemaReference.md), the same values as the crash's CrashReport events. */
        jw_obj_begin(&w);
        jw_key(&w, "GuestCrash");
        jw_obj_begin(&w);
        jw_key(&w, "CrashParameters");
        write_crash_parameters(&w);
        jw_obj_end(&w);
        jw_obj_end(&w);
    } else if (s->exit_detail) {
        jw_obj_begin(&w);
        jw_key(&w, "SystemExit");
        jw_obj_begin(&w);
        jw_key(&w, "Detail");
        jw_string(&w, s->exit_detail);
        jw_key(&w, "Initiator");
        jw_string(&w, s->exit_initiator ? s->exit_initiator : "Unknown");
        jw_obj_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    return jw_finish(&w);
}

/* CrashReport [DOC SchemaReference.md#CrashReport; HCS_EVENT.md: the EventData of both HcsEventSystemCrashInitiated
 * and HcsEventSystemCrashReport]. SystemId, ActivityId (trace correlation GUID; choice: one per crash, shared by both
 * events), CrashParameters ("the bug check code followed by 4 bug check code specific values ... available in both
 * events"; choice: 0xE2 MANUALLY_INITIATED_CRASH, as HcsCrashComputeSystem is a client-requested crash). The report
 * (final = 1) adds Status (S_OK: reporting succeeded, 2.4) and WindowsCrashInfo, which "is only present in
 * HcsEventSystemCrashReport and only if the GuestCrashReporting device has been configured ... as well as the Windows
 * guest OS" (choice: plausible Windows Server 2022 values, FinalPhase "Complete", DumpFile = DumpFileName). */
static char *crash_report_json(const esys *s, int final)
{
    json_writer w;
    char activity[40];
    snprintf(activity, sizeof activity, "c4a5e000-0000-4000-8000-%012llx",
             (unsigned long long)(((s->uid & 0xFFFFFFull) << 24) | (s->crashes & 0xFFFFFFull)));
    jw_init(&w);
    jw_obj_begin(&w);
    jw_key(&w, "SystemId");
    jw_string(&w, s->id);
    jw_key(&w, "ActivityId");
    jw_string(&w, activity);
    jw_key(&w, "CrashParameters");
    write_crash_parameters(&w);
    if (final) {
        jw_key(&w, "Status");
        jw_int(&w, 0);
        if (s->crash_reporting && strcmp(s->os, "Windows") == 0) {
            jw_key(&w, "WindowsCrashInfo");
            jw_obj_begin(&w);
            jw_key(&w, "DumpFile");
            jw_string(&w, s->crash_dump_file ? s->crash_dump_file : "");
            jw_key(&w, "OsMajorVersion");
            jw_uint(&w, 10);
            jw_key(&w, "OsMinorVersion");
            jw_uint(&w, 0);
            jw_key(&w, "OsBuildNumber");
            jw_uint(&w, 20348);
            jw_key(&w, "OsServicePackMajorVersion");
            jw_uint(&w, 0);
            jw_key(&w, "OsServicePackMinorVersion");
            jw_uint(&w, 0);
            jw_key(&w, "OsSuiteMask");
            jw_uint(&w, 0x110);
            jw_key(&w, "OsProductType");
            jw_uint(&w, 3);
            jw_key(&w, "Status");
            jw_int(&w, 0);
            jw_key(&w, "FinalPhase");
            jw_string(&w, "Complete");
            jw_obj_end(&w);
        }
    }
    jw_obj_end(&w);
    return jw_finish(&w);
}

static void stop_system(esys *s, const char *exit_type, int32_t status, const char *detail, const char *initiator,
                        uint32_t grace_ms);

/* A utility VM that stops takes its HostedSystems with it (E held): they run in its guest, so whatever stops the VM
 * -- shutdown, terminate, crash, an unexpected exit, its last handle closing -- ends them first, each with a
 * SystemExited of its own: ExitType UnexpectedExit, Status HCS_E_UNEXPECTED_EXIT, Attribution SystemExit {Detail
 * UnexpectedExit, Initiator Internal}. Sources: hcsshim internal/hcs/v2/system.go waitBackground reads ExitType
 * UnexpectedExit as ErrVmcomputeUnexpectedExit ("exited unexpectedly"); SchemaReference.md ExitInitiator Internal:
 * "Initiated internally (e.g. due to an error) by the virtual machine or HCS"; containerd-shim-runhcs-v1
 * task_hcs.go waitForHostExit ends every task of a UVM that exits. choice: the exact Status and the order
 * (hosted systems before their VM). Hosted systems still being created fail instead (engine_system_complete_create
 * finds no running host). */
static int hosted_by(const esys *h, const esys *vm)
{
    return !h->dead && h->hosted && h->state != S_STOPPED && h->state != S_CREATING && strcmp(h->ns, vm->ns) == 0 &&
           strcmp(h->hosting_system_id, vm->id) == 0;
}

static void stop_hosted(esys *vm)
{
    size_t candidates = 0;
    if (!is_vm(vm)) return;
    for (esys *h = systems; h; h = h->next)
        if (hosted_by(h, vm)) candidates++;
    /* Each pass stops one (a system someone else is stopping is escalated); the bound holds even if one cannot be
     * stopped within its kill wait. The list may change while stop_system waits, hence the fresh search. */
    while (candidates-- > 0) {
        esys *child = NULL;
        for (esys *h = systems; h && !child; h = h->next)
            if (hosted_by(h, vm)) child = h;
        if (!child) return;
        stop_system(child, "UnexpectedExit", HCS_E_UNEXPECTED_EXIT, "UnexpectedExit", "Internal", 0);
    }
}

/* Stops s (E held; pins s while waiting). grace_ms > 0: SIGTERM first, SIGKILL after the grace period. */
static void stop_system(esys *s, const char *exit_type, int32_t status, const char *detail, const char *initiator,
                        uint32_t grace_ms)
{
    if (s->state == S_STOPPED) return;
    s->pins++;
    if (s->stopping) {
        /* Someone else is stopping it (e.g. a graceful shutdown in its grace period): escalate and wait. */
        signal_all(s, PLAT_SIGKILL);
        {
            uint64_t deadline = plat_monotonic_ms() + KILL_WAIT_MS;
            while (s->state != S_STOPPED && !s->dead && plat_monotonic_ms() < deadline) plat_cond_wait(C, E, 50);
        }
        unpin(s);
        return;
    }
    s->stopping = 1;
    stop_hosted(s);
    if (grace_ms && any_alive(s)) {
        signal_all(s, PLAT_SIGTERM);
        signal_all(s, PLAT_SIGCONT);
        wait_procs_gone(s, grace_ms);
    }
    signal_all(s, PLAT_SIGKILL);
    signal_all(s, PLAT_SIGCONT);
    wait_procs_gone(s, KILL_WAIT_MS);
    s->stopping = 0;
    s->state = S_STOPPED;
    s->stop_ft = plat_filetime_now();
    s->exit_type = exit_type;
    s->exit_status = status;
    s->exit_detail = detail;
    s->exit_initiator = initiator;
    if (!s->dead) queue_event(ENGINE_EVENT_SYSTEM_EXITED, s->uid, 0, exit_status_json(s));
    plat_cond_broadcast(C);
    unpin(s);
}

/* NULL, "" and JSON objects are accepted as options documents; anything else is HCS_E_INVALID_JSON. */
static int32_t check_options(const char *doc, const char *what, json_value **out)
{
    char err[160];
    json_value *v;
    if (out) *out = NULL;
    if (!doc || !doc[0]) return 0;
    v = json_parse(doc, err, sizeof err);
    if (!v) return fail(HCS_E_INVALID_JSON, "%s is not valid JSON: %s", what, err);
    if (v->type != JSON_OBJECT) {
        json_free(v);
        return fail(HCS_E_INVALID_JSON, "%s must be a JSON object", what);
    }
    if (out) *out = v;
    else json_free(v);
    return 0;
}

#define CHECK_CONNECTED()                                                                                    \
    do {                                                                                                     \
        if (disconnected) {                                                                                  \
            plat_mutex_unlock(E);                                                                            \
            return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");      \
        }                                                                                                    \
    } while (0)

/* ---------------------------------------------------------------- virtual machine resources */

/* choice: SizeInMB / Count when the document leaves them out (SchemaReference.md gives no default). */
#define DEFAULT_VM_MEMORY_MB 1024u
#define DEFAULT_VM_PROCESSORS 1u
/* choice: shared memory regions are mapped into guest physical address space from 64 GiB up, 2 MiB aligned. */
#define REGION_GPA_BASE 0x1000000000ull
#define REGION_GPA_ALIGN 0x200000ull

static eregion *find_region(esys *s, const char *name, eregion ***link)
{
    eregion **pp = &s->regions;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            if (link) *link = pp;
            return *pp;
        }
    return NULL;
}

/* A SharedMemoryRegion {SectionName, StartOffset, Length, AllowGuestWrite, HiddenFromGuest} (SchemaReference.md);
 * add = 1: a new region (its name must be new), 0: replaces the region of that name. */
static int32_t put_region(esys *s, const json_value *r, int add)
{
    const char *name = json_get_string(r, "SectionName");
    int64_t offset = 0, length = 0;
    eregion *e, *last;
    uint64_t gpa = REGION_GPA_BASE;
    if (!r || r->type != JSON_OBJECT || !name || !name[0])
        return fail(HCS_E_INVALID_JSON, "A SharedMemoryRegion needs a SectionName");
    if ((json_get(r, "StartOffset") && (!json_get_int(r, "StartOffset", &offset) || offset < 0)) ||
        (json_get(r, "Length") && (!json_get_int(r, "Length", &length) || length < 0)))
        return fail(HCS_E_INVALID_JSON, "SharedMemoryRegion.StartOffset and Length must be unsigned integers");
    e = find_region(s, name, NULL);
    if (add && e) return fail(FAKE_E_ALREADY_EXISTS, "The shared memory region '%s' already exists", name);
    if (!add && !e) return fail(FAKE_E_NOT_FOUND, "No shared memory region '%s'", name);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) abort();
        e->name = xstrdup(name);
        for (last = s->regions; last && last->next; last = last->next) {}
        if (last) gpa = (last->gpa + last->length + REGION_GPA_ALIGN - 1) / REGION_GPA_ALIGN * REGION_GPA_ALIGN +
                        REGION_GPA_ALIGN;
        e->gpa = gpa;
        if (last) last->next = e;
        else s->regions = e;
    }
    e->offset = (uint64_t)offset;
    e->length = (uint64_t)length;
    e->allow_guest_write = json_get_bool(r, "AllowGuestWrite", 0);
    e->hidden = json_get_bool(r, "HiddenFromGuest", 0);
    return 0;
}

static evsmb *find_share(const esys *s, const char *name)
{
    for (evsmb *v = s->shares; v; v = v->next)
        if (ascii_ieq(v->name, name)) return v;
    return NULL;
}

static void add_share(esys *s, const char *name, const char *path)
{
    evsmb *v = calloc(1, sizeof *v), **last = &s->shares;
    if (!v) abort();
    v->name = xstrdup(name);
    v->path = xstrdup(path ? path : "");
    while (*last) last = &(*last)->next;
    *last = v;
}

/* HcsModifyComputeSystem.md, "Remarks": the ResourcePaths of a virtual machine and the RequestTypes HCS accepts
 * for each ("No Limit", "Only Update", ...). '%s' stands for an identifier, '%u' for an unsigned integer. Paths
 * that are not in the table (hcsshim internal/hcs/resourcepaths uses more, e.g. ".../Processor/Limits",
 * "Container/...") accept any RequestType. */
enum { RT_ADD = 1, RT_REMOVE = 2, RT_UPDATE = 4, RT_ANY = 7 };
static const struct { const char *pattern; int allowed; } MODIFY_TABLE[] = {
    { "VirtualMachine/ComputeTopology/Processor/CpuGroup", RT_ANY },
    { "VirtualMachine/ComputeTopology/Processor/IdledProcessors", RT_UPDATE },
    { "VirtualMachine/ComputeTopology/Processor/CpuFrequencyPowerCap", RT_ANY },
    { "VirtualMachine/Devices/FlexibleIov/%s", RT_ADD },
    { "VirtualMachine/ComputeTopology/Gpu", RT_UPDATE },
    { "VirtualMachine/Devices/MappedPipes/%s", RT_ADD | RT_REMOVE },
    { "VirtualMachine/ComputeTopology/Memory/SizeInMB", RT_ANY },
    { "VirtualMachine/Devices/NetworkAdapters/%s", RT_ANY },
    { "VirtualMachine/Devices/Plan9/Shares", RT_ANY },
    { "VirtualMachine/Devices/Scsi/%s/Attachments/%u", RT_ANY },
    { "VirtualMachine/Devices/ComPorts/%u", RT_ANY },
    { "VirtualMachine/Devices/SharedMemory/Regions", RT_ANY },
    { "VirtualMachine/Devices/VirtualPMem/Devices/%u", RT_ADD | RT_REMOVE },
    { "VirtualMachine/Devices/VirtualPMem/Devices/%u/Mappings/%u", RT_ADD | RT_REMOVE },
    { "VirtualMachine/Devices/VirtualSmb/Shares", RT_ANY },
    { "VirtualMachine/Devices/VirtualPci/%s", RT_ADD | RT_REMOVE },
};

/* Matches path against a MODIFY_TABLE pattern (segments separated by '/'); *number gets the last %u value.
 * Returns 1 on a match, 0 when the path has another shape, -1 when it has this shape but a %u segment is not an
 * unsigned integer. */
static int match_resource(const char *pattern, const char *path, uint64_t *number)
{
    int bad = 0;
    while (*pattern) {
        if (pattern[0] == '%') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            if (n == 0) return 0;
            if (pattern[1] == 'u') {
                uint64_t v = 0;
                for (size_t i = 0; i < n; i++) {
                    if (path[i] < '0' || path[i] > '9' || v > 0xFFFFFFFFull) { bad = 1; break; }
                    v = v * 10 + (uint64_t)(path[i] - '0');
                }
                if (v > 0xFFFFFFFFull) bad = 1;
                *number = v;
            }
            path += n;
            pattern += 2;
        } else {
            /* ASCII case-insensitive, as json_get matches member names */
            if (!*path || ((*pattern | 0x20) != (*path | 0x20))) return 0;
            pattern++;
            path++;
        }
    }
    if (*path) return 0;
    return bad ? -1 : 1;
}

/* Validates a ModifySettingRequest against the table and applies what the fake models (memory size, shared
 * memory regions). E held. */
static int32_t modify_system(esys *s, const json_value *req)
{
    static const char *const names[] = { "Add", "Remove", "Update" };
    const char *path = json_get_string(req, "ResourcePath");
    const char *rt = json_get_string(req, "RequestType");
    const json_value *settings = json_get(req, "Settings");
    int type = 0;
    if (json_get(req, "RequestType") && !rt)
        return fail(HCS_E_INVALID_JSON, "ModifySettingRequest.RequestType must be a string");
    if (json_get(req, "ResourcePath") && !path)
        return fail(HCS_E_INVALID_JSON, "ModifySettingRequest.ResourcePath must be a string");
    /* HcsModifyComputeSystem.md: ModifySettingRequest {ResourcePath, RequestType, Settings, GuestRequest} */
    if (!path && !json_get(req, "GuestRequest"))
        return fail(FAKE_E_INVALIDARG, "The ModifySettingRequest needs a ResourcePath or a GuestRequest");
    if (rt) {
        for (int i = 0; i < 3; i++)
            if (strcmp(rt, names[i]) == 0) type = 1 << i;
        if (!type) return fail(FAKE_E_INVALIDARG, "ModifySettingRequest.RequestType must be Add, Remove or Update");
    }
    if (!path) return 0;
    for (size_t i = 0; i < sizeof MODIFY_TABLE / sizeof MODIFY_TABLE[0]; i++) {
        uint64_t number = 0;
        int m = match_resource(MODIFY_TABLE[i].pattern, path, &number);
        if (m == 0) continue;
        if (m < 0) return fail(FAKE_E_INVALIDARG, "ResourcePath '%s': expected an unsigned integer (%s)", path,
                               MODIFY_TABLE[i].pattern);
        /* The table's limits (choice: a request without RequestType is not checked -- hcsshim sends memory
         * updates without one -- and the table does not say what HCS assumes then). */
        if (type && !(MODIFY_TABLE[i].allowed & type)) {
            char allowed[40] = "";
            for (int k = 0; k < 3; k++)
                if (MODIFY_TABLE[i].allowed & (1 << k)) {
                    if (allowed[0]) strcat(allowed, " or ");
                    strcat(allowed, names[k]);
                }
            /* Not a malformed request but one the resource does not support: ERROR_NOT_SUPPORTED (hcsshim
             * v2/errors.go IsNotSupported), naming what the resource accepts. */
            return fail(FAKE_E_NOT_SUPPORTED, "RequestType %s is not supported for ResourcePath '%s' (only %s, "
                        "HcsModifyComputeSystem.md)", rt, path, allowed);
        }
        if (strcmp(MODIFY_TABLE[i].pattern, "VirtualMachine/Devices/ComPorts/%u") == 0 && number > 1)
            /* HcsModifyComputeSystem.md: the serial ID "is not larger than 1" */
            return fail(FAKE_E_INVALIDARG, "ResourcePath '%s': a COM port number is 0 or 1", path);
        if (strcmp(MODIFY_TABLE[i].pattern, "VirtualMachine/Devices/MappedPipes/%s") == 0 && settings &&
            settings->type != JSON_NULL && !(settings->type == JSON_OBJECT && settings->count == 0))
            return fail(HCS_E_INVALID_JSON, "ResourcePath '%s': Settings should be empty", path);
        if (strcmp(MODIFY_TABLE[i].pattern, "VirtualMachine/ComputeTopology/Memory/SizeInMB") == 0) {
            /* Settings: "UINT64, meaning new memory size in MB" */
            if (!settings || settings->type != JSON_NUMBER || !settings->is_integer || settings->integer <= 0)
                return fail(HCS_E_INVALID_JSON, "ResourcePath '%s': Settings must be the new size in MB", path);
            s->memory_mb = (uint64_t)settings->integer;
        }
        if (strcmp(MODIFY_TABLE[i].pattern, "VirtualMachine/Devices/VirtualSmb/Shares") == 0 && is_vm(s)) {
            /* Settings: a VirtualSmbShare {Name, Path, Options, AllowedFiles} (SchemaReference.md; hcsshim
             * internal/uvm/vsmb.go AddVSMB / removeVSMB: Add with Name and Path, Update with the same Name, Remove
             * with the Name). choice: a request without a Name changes nothing; Add of a Name the VM has ->
             * ERROR_ALREADY_EXISTS, Update or Remove of one it lacks -> ERROR_NOT_FOUND, Add of a Path that does not
             * exist on the host -> ERROR_PATH_NOT_FOUND (HCS cannot share it). */
            const char *name = json_get_string(settings, "Name");
            const char *share_path = json_get_string(settings, "Path");
            evsmb *share = name ? find_share(s, name) : NULL;
            if (!name || !name[0]) break;
            if (type == RT_ADD) {
                if (share) return fail(FAKE_E_ALREADY_EXISTS, "The VSMB share '%s' already exists", name);
                if (!share_path || !share_path[0])
                    return fail(HCS_E_INVALID_JSON, "A VirtualSmbShare to add needs a Path");
                if (plat_path_kind(share_path) == PLAT_PATH_NONE)
                    return fail(FAKE_E_PATH_NOT_FOUND, "Cannot share '%s' over VSMB: no such file or folder",
                                share_path);
                add_share(s, name, share_path);
            } else if (!share) {
                return fail(FAKE_E_NOT_FOUND, "No VSMB share '%s'", name);
            } else if (type == RT_REMOVE) {
                evsmb **link = &s->shares;
                while (*link != share) link = &(*link)->next;
                *link = share->next;
                free(share->name);
                free(share->path);
                free(share);
            }
        }
        if (strcmp(MODIFY_TABLE[i].pattern, "VirtualMachine/Devices/SharedMemory/Regions") == 0) {
            /* Settings: a SharedMemoryRegion; Remove names it by SectionName. */
            if (type == RT_REMOVE) {
                const char *name = json_get_string(settings, "SectionName");
                eregion **link, *r = name ? find_region(s, name, &link) : NULL;
                if (!name) return fail(HCS_E_INVALID_JSON, "A SharedMemoryRegion needs a SectionName");
                if (!r) return fail(FAKE_E_NOT_FOUND, "No shared memory region '%s'", name);
                *link = r->next;
                free(r->name);
                free(r);
            } else {
                int32_t hr = put_region(s, settings, type != RT_UPDATE);
                if (hr) return hr;
            }
        }
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- systems */

/* ComputeSystem.SchemaVersion (and HostedSystem.SchemaVersion): absent, or 2.0 .. 2.6. */
static int32_t check_schema_version(const json_value *doc, const char *what)
{
    const json_value *sv = json_get(doc, "SchemaVersion");
    int64_t major = -1, minor = -1;
    if (!sv) return 0;
    if (sv->type != JSON_OBJECT || !json_get_int(sv, "Major", &major) || !json_get_int(sv, "Minor", &minor))
        return fail(HCS_E_INVALID_JSON, "%s.SchemaVersion must be {\"Major\": int, \"Minor\": int}", what);
    /* computecore is the schema-2 API (SchemaReference.md: versions 2.0 .. 2.6). (choice: reject others) */
    if (major != 2 || minor < 0 || minor > 6)
        return fail(HCS_E_INVALID_JSON, "Unsupported schema version %lld.%lld (supported: 2.0 to 2.6)",
                    (long long)major, (long long)minor);
    return 0;
}

/* Container.Storage.Layers[].Path, in document order (hcsshim passes the read-only layers topmost first, base
 * last: internal/uvmfolder LocateUVMFolder). */
static void take_layer_paths(esys *s, const json_value *container)
{
    const json_value *layers = json_get(json_get(container, "Storage"), "Layers");
    if (!layers || layers->type != JSON_ARRAY || layers->count == 0) return;
    s->layers = calloc(layers->count, sizeof *s->layers);
    if (!s->layers) abort();
    for (size_t i = 0; i < layers->count; i++) {
        const char *path = json_get_string(layers->items[i], "Path");
        if (path && path[0]) s->layers[s->nlayers++] = xstrdup(path);
    }
}

int32_t engine_system_create(const char *ns, const char *id, const char *config, uint64_t *uid)
{
    char err[160];
    json_value *doc;
    const json_value *container, *vm, *hosted;
    int kinds;
    int32_t hr;
    esys *s;
    const char *owner, *hosting;
    tls_error[0] = 0;
    if (!id || !id[0]) return fail(FAKE_E_INVALIDARG, "The compute system id must not be empty");
    if (!config) return fail(FAKE_E_INVALIDARG, "The compute system configuration must not be NULL");
    doc = json_parse(config, err, sizeof err);
    /* HCSHResult.md: HCS_E_INVALID_JSON "The JSON document is invalid." */
    if (!doc) return fail(HCS_E_INVALID_JSON, "The ComputeSystem document is not valid JSON: %s", err);
    if (doc->type != JSON_OBJECT) {
        json_free(doc);
        return fail(HCS_E_INVALID_JSON, "The ComputeSystem document must be a JSON object");
    }
    /* SchemaReference.md ComputeSystem: exactly one of Container, VirtualMachine, HostedSystem. */
    container = json_get(doc, "Container");
    vm = json_get(doc, "VirtualMachine");
    hosted = json_get(doc, "HostedSystem");
    if (container && container->type == JSON_NULL) container = NULL;
    if (vm && vm->type == JSON_NULL) vm = NULL;
    if (hosted && hosted->type == JSON_NULL) hosted = NULL;
    kinds = (container != NULL) + (vm != NULL) + (hosted != NULL);
    if (kinds != 1) {
        json_free(doc);
        return fail(HCS_E_INVALID_JSON,
                    "The ComputeSystem document must contain exactly one of Container, VirtualMachine or HostedSystem"
                    " (found %d)", kinds);
    }
    if ((container && container->type != JSON_OBJECT) || (vm && vm->type != JSON_OBJECT) ||
        (hosted && hosted->type != JSON_OBJECT)) {
        json_free(doc);
        return fail(HCS_E_INVALID_JSON, "ComputeSystem.%s must be a JSON object",
                    container ? "Container" : vm ? "VirtualMachine" : "HostedSystem");
    }
    hr = check_schema_version(doc, "ComputeSystem");
    if (hr) {
        json_free(doc);
        return hr;
    }
    owner = json_get_string(doc, "Owner");
    hosting = json_get_string(doc, "HostingSystemId");
    if (json_get(doc, "HostingSystemId") && json_get(doc, "HostingSystemId")->type != JSON_NULL &&
        (!hosting || !hosting[0])) {
        json_free(doc);
        return fail(HCS_E_INVALID_JSON, "ComputeSystem.HostingSystemId must be the id of a compute system");
    }
    if (hosted) {
        /* SchemaReference.md HostedSystem {SchemaVersion, Container}: "the compute system that will be launched
         * inside of the system identified by HostingSystemId". choice: without a host, or without a Container
         * to launch, the document is invalid. */
        const json_value *inner = json_get(hosted, "Container");
        if (!hosting) {
            json_free(doc);
            return fail(HCS_E_INVALID_JSON, "A HostedSystem needs ComputeSystem.HostingSystemId: the id of the "
                        "virtual machine that hosts it");
        }
        if (!inner || inner->type != JSON_OBJECT) {
            json_free(doc);
            return fail(HCS_E_INVALID_JSON, "HostedSystem.Container must be a JSON object");
        }
        hr = check_schema_version(hosted, "HostedSystem");
        if (hr) {
            json_free(doc);
            return hr;
        }
    } else if (hosting) {
        /* SchemaReference.md: HostingSystemId names "the compute system that will host the system described by
         * HostedSystem". choice: on a Container or VirtualMachine it is a mistake, not something to ignore. */
        json_free(doc);
        return fail(HCS_E_INVALID_JSON, "ComputeSystem.HostingSystemId is for a HostedSystem; this document "
                    "describes a %s", container ? "Container" : "VirtualMachine");
    }
    plat_mutex_lock(E);
    if (disconnected) {
        plat_mutex_unlock(E);
        json_free(doc);
        return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    }
    if (find_sys_by_id(ns, id)) {
        plat_mutex_unlock(E);
        json_free(doc);
        /* HCSHResult.md: HCS_E_SYSTEM_ALREADY_EXISTS "A virtual machine or container with the specified
         * identifier already exists." */
        return fail(HCS_E_SYSTEM_ALREADY_EXISTS, "A compute system with the id '%s' already exists", id);
    }
    s = calloc(1, sizeof *s);
    if (!s) abort();
    s->uid = next_uid++;
    s->ns = xstrdup(ns);
    s->id = xstrdup(id);
    s->owner = xstrdup(owner);
    s->hosting_system_id = xstrdup(hosting);
    s->hosted = hosted != NULL;
    s->type = vm ? "VirtualMachine" : "Container";
    if (vm) {
        const json_value *chipset = json_get(vm, "Chipset");
        s->os = json_get(chipset, "LinuxKernelDirect") ? "Linux" : "Windows";
    } else s->os = "Windows";   /* a hosted system takes its host's when it is created */
    s->state = S_CREATING;
    s->handles = 1;
    s->terminate_on_last_close = json_get_bool(doc, "ShouldTerminateOnLastHandleClosed", 0);
    if (container) take_layer_paths(s, container);
    if (hosted) take_layer_paths(s, json_get(hosted, "Container"));
    if (vm) {
        const json_value *devices = json_get(vm, "Devices");
        const json_value *gcr = json_get(devices, "GuestCrashReporting");
        const json_value *topology = json_get(vm, "ComputeTopology");
        const json_value *regions = json_get(json_get(devices, "SharedMemory"), "Regions");
        const json_value *shares = json_get(json_get(devices, "VirtualSmb"), "Shares");
        int64_t v;
        if (gcr) {
            s->crash_reporting = 1;
            s->crash_dump_file = xstrdup(json_get_string(json_get(gcr, "WindowsCrashSettings"), "DumpFileName"));
        }
        s->memory_mb = json_get_int(json_get(topology, "Memory"), "SizeInMB", &v) && v > 0 ? (uint64_t)v
                                                                                         : DEFAULT_VM_MEMORY_MB;
        s->processors = json_get_int(json_get(topology, "Processor"), "Count", &v) && v > 0 && v <= 2048
                            ? (uint32_t)v : DEFAULT_VM_PROCESSORS;
        s->guest_connection = json_get(vm, "GuestConnection") != NULL &&
                              json_get(vm, "GuestConnection")->type != JSON_NULL;
        /* choice: a share without a Name or Path is not modelled; the first of a name wins. */
        for (size_t i = 0; shares && shares->type == JSON_ARRAY && i < shares->count; i++) {
            const char *name = json_get_string(shares->items[i], "Name");
            const char *path = json_get_string(shares->items[i], "Path");
            if (name && name[0] && path && !find_share(s, name)) add_share(s, name, path);
        }
        /* hcsshim create_wcow.go prepareConfigDoc: a Windows utility VM boots from the VSMB share "os", the
         * UtilityVM\Files folder of its image's base layer. */
        if (strcmp(s->os, "Windows") == 0 && find_share(s, "os")) {
            s->utility_vm = 1;
            s->os_share_path = xstrdup(find_share(s, "os")->path);
        }
        for (size_t i = 0; regions && regions->type == JSON_ARRAY && i < regions->count; i++) {
            hr = put_region(s, regions->items[i], 1);
            if (hr) {
                free_sys(s);
                plat_mutex_unlock(E);
                json_free(doc);
                return hr;
            }
        }
    }
    s->create_ft = plat_filetime_now();
    s->next = systems;
    systems = s;
    *uid = s->uid;
    plat_mutex_unlock(E);
    json_free(doc);
    return 0;
}

/* hcsshim internal/uvm/vsmb.go vsmbSharePrefix: how the guest of a Windows utility VM names a VSMB share. */
#define VSMB_GUEST_PREFIX "\\\\?\\VMSMB\\VSMB-{dcc079ae-60ba-4d07-847c-3493609c0870}\\"

/* folder + separator + name, malloc'd. */
static char *join_path(const char *folder, const char *name)
{
    size_t lf = strlen(folder), ln = strlen(name);
    char *p = malloc(lf + ln + 2);
    if (!p) abort();
    memcpy(p, folder, lf);
    if (lf && folder[lf - 1] != '/' && folder[lf - 1] != '\\') p[lf++] = plat_path_separator();
    memcpy(p + lf, name, ln + 1);
    return p;
}

/* The host path behind a layer path of a HostedSystem in vm (E held): a guest VSMB path names one of the VM's
 * shares (hcsshim mounts each read-only layer of a hosted container that way, internal/layers
 * mountHypervIsolatedWCIFSLayers); anything else is taken as a host path (choice: the fake has no guest file
 * system). NULL with HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND) for a share the VM does not have. */
static char *host_path_of(const esys *vm, const char *path, int32_t *hr)
{
    size_t lp = strlen(VSMB_GUEST_PREFIX);
    const char *rest;
    char name[256];
    size_t n;
    evsmb *share;
    char *out;
    *hr = 0;
    if (strlen(path) < lp) return xstrdup(path);
    for (size_t i = 0; i < lp; i++)
        if ((path[i] | 0x20) != (VSMB_GUEST_PREFIX[i] | 0x20)) return xstrdup(path);
    rest = path + lp;
    n = strcspn(rest, "\\");
    if (n == 0 || n >= sizeof name) {
        *hr = fail(FAKE_E_PATH_NOT_FOUND, "The layer path '%s' names no VSMB share", path);
        return NULL;
    }
    memcpy(name, rest, n);
    name[n] = 0;
    share = find_share(vm, name);
    if (!share) {
        *hr = fail(FAKE_E_PATH_NOT_FOUND, "The layer path '%s' names the VSMB share '%s', which the utility VM '%s' "
                   "does not have (add it with VirtualMachine/Devices/VirtualSmb/Shares first)", path, name, vm->id);
        return NULL;
    }
    rest += n;
    out = malloc(strlen(share->path) + strlen(rest) + 1);
    if (!out) abort();
    strcpy(out, share->path);
    for (char *q = out + strlen(out); *rest; rest++) {
        *q++ = *rest == '\\' ? plat_path_separator() : *rest;
        *q = 0;
    }
    return out;
}

/* The layer folder of a utility VM's "os" share: <layer>\UtilityVM\Files (hcsshim internal/layers
 * getVmbFSBootFiles: OSFilesPath = <uvm folder>\UtilityVM\Files) -> <layer>; any other path is the folder. */
static char *boot_layer_folder(const char *share_path)
{
    char *p = xstrdup(share_path);
    size_t n = strlen(p);
    static const char *const parts[] = { "Files", "UtilityVM" };
    size_t cut = n;
    while (cut > 0 && (p[cut - 1] == '/' || p[cut - 1] == '\\')) cut--;
    for (int k = 0; k < 2; k++) {
        size_t lw = strlen(parts[k]);
        if (cut < lw) return p;
        for (size_t i = 0; i < lw; i++)
            if ((p[cut - lw + i] | 0x20) != (parts[k][i] | 0x20)) return p;
        cut -= lw;
        if (k == 0) {
            if (cut == 0 || (p[cut - 1] != '/' && p[cut - 1] != '\\')) return p;
            cut--;
        } else if (cut > 0 && p[cut - 1] != '/' && p[cut - 1] != '\\') return p;
    }
    while (cut > 1 && (p[cut - 1] == '/' || p[cut - 1] == '\\')) cut--;
    if (cut == 0) {
        free(p);
        return xstrdup(".");
    }
    p[cut] = 0;
    return p;
}

/* The host (E held) whose guest creates the HostedSystem s, or NULL with the operation's HRESULT and message:
 * SchemaReference.md ComputeSystem.HostingSystemId "The hosting system must already have been created";
 * hcsshim creates hosted containers only in a started utility VM (internal/uvm/create.go CreateContainer after
 * Start). choice of codes (the sources name none): no such system -> HCS_E_SYSTEM_NOT_FOUND; a container, or a
 * Linux VM (whose containers hcsshim creates through its own GCS bridge) -> ERROR_NOT_SUPPORTED; a VM that does not
 * run -> HCS_E_INVALID_STATE. */
static esys *hosting_system(const esys *s, int32_t *hr)
{
    esys *host = find_sys_by_id(s->ns, s->hosting_system_id);
    *hr = 0;
    if (!host || host->state == S_CREATING) {
        *hr = fail(HCS_E_SYSTEM_NOT_FOUND, "The hosting system '%s' does not exist (ComputeSystem.HostingSystemId "
                   "of '%s')", s->hosting_system_id, s->id);
        return NULL;
    }
    if (!is_vm(host) || strcmp(host->os, "Windows") != 0) {
        *hr = fail(FAKE_E_NOT_SUPPORTED, "'%s' cannot host '%s': only a Windows virtual machine (a utility VM) "
                   "hosts a HostedSystem, and '%s' is a %s %s", host->id, s->id, host->id, host->os, host->type);
        return NULL;
    }
    if (host->state != S_RUNNING || host->stopping) {
        *hr = fail(HCS_E_INVALID_STATE, "The hosting system '%s' is %s: its guest creates a HostedSystem only "
                   "while it runs", host->id, host->stopping ? "stopping" : STATE_NAMES[host->state]);
        return NULL;
    }
    return host;
}

/* The OS build the layer folders declare (base last; the declaration nearest the base wins): 1 and *out, 0 for
 * none, or HCS_E_INVALID_LAYER. Reads files: called with E released. */
static int32_t read_declared_build(char *const *folders, size_t n, os_version *out, char *which, size_t size)
{
    for (size_t i = n; i-- > 0;) {
        char *path = join_path(folders[i], OSCOMPAT_LAYER_FILE), msg[200];
        size_t length;
        uint32_t error;
        char *text = plat_read_file(path, OSCOMPAT_MAX_DECLARATION, &length, &error);
        int rc;
        if (!text) {
            /* choice: a folder without a declaration (or no folder at all) declares nothing. */
            int32_t hr = error == ERROR_INVALID_DATA
                             ? fail(HCS_E_INVALID_LAYER, "The layer declaration '%s' is larger than %u bytes", path,
                                    (unsigned)OSCOMPAT_MAX_DECLARATION)
                             : 0;
            free(path);
            if (hr) return hr;
            continue;
        }
        rc = osver_from_declaration(text, out, msg, sizeof msg);
        free(text);
        if (rc < 0) {
            int32_t hr = fail(HCS_E_INVALID_LAYER, "The layer declaration '%s' is invalid: %s", path, msg);
            free(path);
            return hr;
        }
        if (rc == 1) {
            snprintf(which, size, "%s", path);
            free(path);
            return 1;
        }
        free(path);
    }
    return 0;
}

/* Whether the image s declares may run where s runs (E held): a Container process-isolated on the host, a
 * HostedSystem process-isolated inside its utility VM (whose guest is a Windows Server of the VM's build), a
 * utility VM's boot image with Hyper-V isolation on the host. 0, or ERROR_VMCOMPUTE_IMAGE_MISMATCH with the rule. */
static int32_t check_image(const esys *s, const os_version *image, const char *which)
{
    char why[320], where_text[48], context[200];
    os_version where = host_os;
    if (s->hosted) {
        int32_t hr;
        esys *vm = hosting_system(s, &hr);
        if (!vm) return hr;
        if (!vm->has_os_build) return 0;   /* choice: a utility VM of unknown build checks nothing */
        /* The guest of a utility VM is a Windows Server of the VM's build. */
        where = vm->os_build;
        where.client = 0;
        osver_format(&where, 0, where_text, sizeof where_text);
        snprintf(context, sizeof context, "'%s' inside the utility VM '%s' of %s", s->id, vm->id, where_text);
    } else {
        osver_format(&where, 1, where_text, sizeof where_text);
        snprintf(context, sizeof context, "'%s' with %s on the host %s", s->id,
                 s->utility_vm ? "Hyper-V isolation (a utility VM's boot image)" : "process isolation", where_text);
    }
    if (osver_isolation_allows(&where, image, s->utility_vm, why, sizeof why)) return 0;
    /* HCSHResult.md HCS_E_IMAGE_MISMATCH, in vmcompute's ERROR_VMCOMPUTE_IMAGE_MISMATCH form. */
    return fail(ERROR_VMCOMPUTE_IMAGE_MISMATCH, "The container operating system does not match the host operating "
                "system: %s (%s; the image is declared in %s)", why, context, which);
}

int32_t engine_system_complete_create(uint64_t uid, int32_t failure)
{
    esys *s;
    int32_t hr = 0;
    char **folders = NULL;
    size_t nfolders = 0;
    tls_error[0] = 0;
    plat_mutex_lock(E);
    s = find_sys(uid);
    if (!s) {
        plat_mutex_unlock(E);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    if (failure || s->state != S_CREATING) {
        if (failure) forget_sys(s);
        plat_cond_broadcast(C);
        plat_mutex_unlock(E);
        return 0;
    }
    /* What HCS checks while it creates the system (the operation's result, HcsCreateComputeSystem.md): the host of
     * a HostedSystem, and whether the image's OS fits. */
    if (s->hosted) {
        esys *vm = hosting_system(s, &hr);
        if (vm) {
            s->os = vm->os;
            folders = calloc(s->nlayers + 1, sizeof *folders);
            if (!folders) abort();
            for (size_t i = 0; !hr && i < s->nlayers; i++) {
                folders[nfolders] = host_path_of(vm, s->layers[i], &hr);
                if (folders[nfolders]) nfolders++;
            }
        }
    } else if (s->utility_vm || s->nlayers) {
        folders = calloc(s->nlayers + 1, sizeof *folders);
        if (!folders) abort();
        if (s->utility_vm) folders[nfolders++] = boot_layer_folder(s->os_share_path);
        else
            for (size_t i = 0; i < s->nlayers; i++) folders[nfolders++] = xstrdup(s->layers[i]);
    }
    if (!hr && nfolders) {
        os_version image;
        char which[512] = "";
        int32_t rc;
        int dead;
        s->pins++;
        plat_mutex_unlock(E);
        rc = read_declared_build(folders, nfolders, &image, which, sizeof which);
        plat_mutex_lock(E);
        dead = s->dead;
        unpin(s);
        if (dead) {
            for (size_t i = 0; i < nfolders; i++) free(folders[i]);
            free(folders);
            plat_cond_broadcast(C);
            plat_mutex_unlock(E);
            return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
        }
        if (rc < 0) hr = rc;
        else if (rc == 1) {
            hr = check_image(s, &image, which);
            if (!hr) {
                s->has_os_build = 1;
                s->os_build = image;
            }
        }
    }
    /* The host may have stopped while the declarations were read. */
    if (!hr && s->hosted) hosting_system(s, &hr);
    for (size_t i = 0; i < nfolders; i++) free(folders[i]);
    free(folders);
    if (hr) forget_sys(s);
    else s->state = S_CREATED;
    plat_cond_broadcast(C);
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_system_open(const char *ns, const char *id, uint64_t *uid)
{
    esys *s;
    tls_error[0] = 0;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    s = find_sys_by_id(ns, id);
    if (!s || s->state == S_CREATING) {
        plat_mutex_unlock(E);
        /* HCSHResult.md: HCS_E_SYSTEM_NOT_FOUND "A virtual machine or container with the specified identifier
         * does not exist." */
        return fail(HCS_E_SYSTEM_NOT_FOUND, "No compute system with the id '%s' exists", id);
    }
    s->handles++;
    *uid = s->uid;
    plat_mutex_unlock(E);
    return 0;
}

void engine_system_release(uint64_t uid)
{
    esys *s;
    plat_mutex_lock(E);
    s = find_sys(uid);
    if (s && --s->handles <= 0) {
        s->handles = 0;
        s->pins++;
        /* SchemaReference.md ComputeSystem.ShouldTerminateOnLastHandleClosed: closing the last handle
         * terminates the system. */
        if (s->terminate_on_last_close && s->state != S_STOPPED && s->state != S_CREATING)
            stop_system(s, "ForcedExit", 0, "Terminate", "Client", 0);
        /* Overview.md: compute systems are ephemeral; a stopped system is gone once no handle refers to it. */
        if (!s->dead && s->state == S_STOPPED && s->handles == 0) forget_sys(s);
        unpin(s);
    }
    plat_mutex_unlock(E);
}

static int32_t invalid_state(esys *s, const char *what)
{
    /* HCSHResult.md: HCS_E_INVALID_STATE "The requested virtual machine or container operation is not valid in
     * the current state." */
    return fail(HCS_E_INVALID_STATE, "Cannot %s the compute system '%s': it is %s", what, s->id,
                s->stopping ? "stopping" : STATE_NAMES[s->state]);
}

int32_t engine_system_action(uint64_t uid, int action, const char *document)
{
    esys *s;
    int32_t hr = 0;
    json_value *opts = NULL;
    tls_error[0] = 0;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    s = find_sys(uid);
    if (!s) {
        plat_mutex_unlock(E);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    if (action != ENGINE_SYS_MODIFY) {
        hr = check_options(document, "The options document", &opts);
        if (hr) goto out;
    }
    switch (action) {
    case ENGINE_SYS_START:
        /* Overview.md: systems are ephemeral; a stopped system cannot be started again. */
        if (s->state != S_CREATED || s->stopping) { hr = invalid_state(s, "start"); break; }
        s->state = S_RUNNING;
        s->start_ft = plat_filetime_now();
        break;
    case ENGINE_SYS_SHUTDOWN:
        if (s->state == S_STOPPED) { hr = fail(HCS_E_SYSTEM_ALREADY_STOPPED, "The compute system '%s' has already stopped", s->id); break; }
        /* choice: a paused guest cannot respond to a shutdown request; terminate it instead. */
        if (s->state == S_PAUSED || s->state == S_CREATING) { hr = invalid_state(s, "shut down"); break; }
        stop_system(s, "GracefulExit", 0, "Shutdown", "Client", SHUTDOWN_GRACE_MS);
        break;
    case ENGINE_SYS_TERMINATE:
        if (s->state == S_STOPPED) { hr = fail(HCS_E_SYSTEM_ALREADY_STOPPED, "The compute system '%s' has already stopped", s->id); break; }
        stop_system(s, "ForcedExit", 0, "Terminate", "Client", 0);
        break;
    case ENGINE_SYS_PAUSE:
        if (s->state != S_RUNNING || s->stopping) { hr = invalid_state(s, "pause"); break; }
        signal_all(s, PLAT_SIGSTOP);   /* pausing freezes every process of the system */
        s->state = S_PAUSED;
        break;
    case ENGINE_SYS_RESUME:
        if (s->state != S_PAUSED) { hr = invalid_state(s, "resume"); break; }
        signal_all(s, PLAT_SIGCONT);
        s->state = S_RUNNING;
        break;
    case ENGINE_SYS_SAVE: {
        /* choice: like Hyper-V, saving requires a paused system; the system stays paused. */
        const char *type = json_get_string(opts, "SaveType");
        const char *path = json_get_string(opts, "SaveStateFilePath");
        if (s->state != S_PAUSED) { hr = invalid_state(s, "save"); break; }
        if (type && strcmp(type, "ToFile") != 0 && strcmp(type, "AsTemplate") != 0) {
            hr = fail(FAKE_E_INVALIDARG, "SaveOptions.SaveType must be \"ToFile\" or \"AsTemplate\"");
            break;
        }
        if (path) {
            char buf[256];
            uint32_t e;
            snprintf(buf, sizeof buf, "{\"FakeHcsSavedState\":true,\"SystemType\":\"%s\"}\n", s->type);
            e = plat_write_file(path, buf, strlen(buf));
            if (e) hr = fail(FAKE_HRESULT_FROM_WIN32(e), "Cannot write the saved state file '%s'", path);
        }
        break;
    }
    case ENGINE_SYS_CRASH:
        if ((s->state != S_RUNNING && s->state != S_PAUSED) || s->stopping) { hr = invalid_state(s, "crash"); break; }
        /* EventCallbackSample.md: the guest "has initiated a crash" (CrashInitiated), then "reported a crash"
         * (CrashReport), then the system exits (SystemExited); queued in that order (E held), delivered in order. */
        s->crashes++;
        if (!s->dead) {
            queue_event(ENGINE_EVENT_SYSTEM_CRASH_INITIATED, s->uid, 0, crash_report_json(s, 0));
            queue_event(ENGINE_EVENT_SYSTEM_CRASH_REPORT, s->uid, 0, crash_report_json(s, 1));
        }
        stop_system(s, "UnexpectedExit", HCS_E_UNEXPECTED_EXIT, "GuestCrash", "GuestOS", 0);
        break;
    case ENGINE_SYS_MODIFY:
        if (!document || !document[0]) {
            hr = fail(FAKE_E_INVALIDARG, "The ModifySettingRequest must not be empty");
            break;
        }
        hr = check_options(document, "The ModifySettingRequest", &opts);
        if (hr) break;
        if (s->state == S_STOPPED || s->state == S_CREATING || s->stopping) { hr = invalid_state(s, "modify"); break; }
        hr = modify_system(s, opts);
        if (!hr) s->modifications++;
        break;
    default:
        hr = fail(FAKE_E_INVALIDARG, "unknown action");
    }
out:
    plat_cond_broadcast(C);
    plat_mutex_unlock(E);
    json_free(opts);
    return hr;
}

static void write_timestamp(json_writer *w, uint64_t ft)
{
    char buf[40];
    plat_format_filetime(ft, buf, sizeof buf);
    jw_string(w, buf);
}

static void write_process_list(json_writer *w, esys *s)
{
    jw_arr_begin(w);
    for (eproc *p = s->procs; p; p = p->next) {
        plat_proc_stats st;
        if (p->state != P_RUNNING) continue;
        if (plat_process_stats(p->pid, &st) != 0) memset(&st, 0, sizeof st);
        jw_obj_begin(w);
        jw_key(w, "ProcessId");
        jw_uint(w, (uint64_t)p->pid);
        jw_key(w, "ImageName");
        jw_string(w, st.image_name);
        jw_key(w, "CreateTimestamp");
        write_timestamp(w, st.create_filetime ? st.create_filetime : p->create_ft);
        jw_key(w, "UserTime100ns");
        jw_uint(w, st.user_100ns);
        jw_key(w, "KernelTime100ns");
        jw_uint(w, st.kernel_100ns);
        jw_key(w, "MemoryCommitBytes");
        jw_uint(w, st.commit_bytes);
        jw_key(w, "MemoryWorkingSetPrivateBytes");
        jw_uint(w, st.private_ws_bytes);
        jw_key(w, "MemoryWorkingSetSharedBytes");
        jw_uint(w, st.shared_ws_bytes);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static void write_statistics(json_writer *w, esys *s)
{
    uint64_t user = 0, kernel = 0, commit = 0, priv = 0, rb = 0, wb = 0, rc = 0, wc = 0;
    uint64_t now = plat_filetime_now();
    for (eproc *p = s->procs; p; p = p->next) {
        plat_proc_stats st;
        if (p->state != P_RUNNING || plat_process_stats(p->pid, &st) != 0) continue;
        user += st.user_100ns;
        kernel += st.kernel_100ns;
        commit += st.commit_bytes;
        priv += st.private_ws_bytes;
        rb += st.read_bytes;
        wb += st.write_bytes;
        rc += st.read_count;
        wc += st.write_count;
    }
    jw_obj_begin(w);
    jw_key(w, "Timestamp");
    write_timestamp(w, now);
    jw_key(w, "ContainerStartTime");
    write_timestamp(w, s->start_ft ? s->start_ft : s->create_ft);
    jw_key(w, "Uptime100ns");
    jw_uint(w, s->start_ft && now > s->start_ft ? (s->state == S_STOPPED ? s->stop_ft : now) - s->start_ft : 0);
    jw_key(w, "Processor");
    jw_obj_begin(w);
    jw_key(w, "TotalRuntime100ns");
    jw_uint(w, user + kernel);
    jw_key(w, "RuntimeUser100ns");
    jw_uint(w, user);
    jw_key(w, "RuntimeKernel100ns");
    jw_uint(w, kernel);
    jw_obj_end(w);
    jw_key(w, "Memory");
    jw_obj_begin(w);
    jw_key(w, "MemoryUsageCommitBytes");
    jw_uint(w, commit);
    jw_key(w, "MemoryUsageCommitPeakBytes");
    jw_uint(w, commit);
    jw_key(w, "MemoryUsagePrivateWorkingSetBytes");
    jw_uint(w, priv);
    jw_obj_end(w);
    jw_key(w, "Storage");
    jw_obj_begin(w);
    jw_key(w, "ReadCountNormalized");
    jw_uint(w, rc);
    jw_key(w, "ReadSizeBytes");
    jw_uint(w, rb);
    jw_key(w, "WriteCountNormalized");
    jw_uint(w, wc);
    jw_key(w, "WriteSizeBytes");
    jw_uint(w, wb);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void write_basic_properties(json_writer *w, esys *s)
{
    jw_key(w, "Id");
    jw_string(w, s->id);
    jw_key(w, "SystemType");
    jw_string(w, s->type);
    jw_key(w, "Name");
    jw_string(w, s->id);
    if (s->owner) {
        jw_key(w, "Owner");
        jw_string(w, s->owner);
    }
    jw_key(w, "RuntimeOsType");
    jw_string(w, s->os);
    if (s->hosting_system_id) {
        jw_key(w, "HostingSystemId");
        jw_string(w, s->hosting_system_id);
    }
    jw_key(w, "State");
    jw_string(w, STATE_NAMES[s->state]);
    jw_key(w, "Stopped");
    jw_bool(w, s->state == S_STOPPED);
    if (s->state == S_STOPPED) {
        jw_key(w, "ExitType");
        jw_string(w, s->exit_type);
    }
}

/* System_PropertyType (SchemaReference.md) and the hcsshim-only types (internal/hcs/schema2/property_type.go). */
static int known_property(const char *t)
{
    static const char *const known[] = { "Memory", "GuestMemory", "Statistics", "ProcessList",
                                         "TerminateOnLastHandleClosed", "SharedMemoryRegion", "GuestConnection",
                                         "ICHeartbeatStatus", "ProcessorTopology", "CpuGroup", "SystemGUID",
                                         "Basic", NULL };
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], t) == 0) return 1;
    return 0;
}

/* A guest connection once the VM runs: one its document configures (SchemaReference.md VirtualMachine.GuestConnection
 * "the virtual machine start will wait until a guest connection is established"), or HCS's own connection to the
 * guest compute service of a Windows utility VM, which hcsshim never configures but queries right after Start
 * (internal/uvm/start.go: PropertyTypeGuestConnection -> GuestConnectionInfo). */
static int has_guest_connection(const esys *s) { return s->guest_connection || s->utility_vm; }

/* Whether s can answer property type t (E held): 0, or the HRESULT (with its message) that answers instead. */
static int32_t property_support(const esys *s, const char *t)
{
    if (strcmp(t, "ProcessList") == 0 || strcmp(t, "Statistics") == 0 || strcmp(t, "TerminateOnLastHandleClosed") == 0)
        return 0;
    if (strcmp(t, "Memory") == 0 || strcmp(t, "SharedMemoryRegion") == 0 || strcmp(t, "GuestConnection") == 0) {
        /* SchemaReference.md: Memory is MemoryInformationForVm ("memory information for virtual machine"),
         * SharedMemoryRegionInfo describes regions of a VM's guest physical memory, GuestConnectionInfo comes from
         * the guest compute service of a VM. choice: a container has none of them -> ERROR_NOT_SUPPORTED (hcsshim
         * v2/errors.go IsNotSupported). */
        if (!is_vm(s))
            return fail(FAKE_E_NOT_SUPPORTED, "Property type '%s' describes a virtual machine; '%s' is a %s", t,
                        s->id, s->type);
        /* SchemaReference.md VirtualMachine.GuestConnection: "If specified, the virtual machine start will wait
         * until a guest connection is established." choice: without one configured, or while the VM does not run,
         * there is no connection to describe -> HCS_E_CONNECT_FAILED. */
        if (strcmp(t, "GuestConnection") == 0 &&
            (!has_guest_connection(s) || (s->state != S_RUNNING && s->state != S_PAUSED)))
            return fail(HCS_E_CONNECT_FAILED, "'%s' has no guest connection (%s)", s->id,
                        has_guest_connection(s) ? "it is not running"
                                                : "its document configures no GuestConnection and it is not a "
                                                  "utility VM");
        return 0;
    }
    /* choice: types the fake cannot model fail with ERROR_NOT_SUPPORTED (hcsshim IsNotSupported); unknown ones
     * with E_INVALIDARG. */
    return known_property(t) ? fail(FAKE_E_NOT_SUPPORTED, "Unsupported property type '%s' (the fake answers "
                                    "ProcessList, Statistics, TerminateOnLastHandleClosed, Memory, "
                                    "SharedMemoryRegion, GuestConnection)", t)
                             : fail(FAKE_E_INVALIDARG, "Unknown property type '%s'", t);
}

/* The Properties member that carries property type t (SchemaReference.md Properties). */
static const char *property_key(const char *t)
{
    if (strcmp(t, "SharedMemoryRegion") == 0) return "SharedMemoryRegionInfo";
    if (strcmp(t, "GuestConnection") == 0) return "GuestConnectionInfo";
    return t;
}

/* MemoryInformationForVm {VirtualNodeCount, VirtualMachineMemory: VmMemory, VirtualNodes: [VirtualNodeInfo]}
 * (SchemaReference.md). AssignedMemory counts 4 KiB pages (hcsshim internal/uvm/stats.go: "AssignedMemory returns
 * the number of 4KB pages"). choice: one virtual NUMA node; the whole SizeInMB is assigned while the VM runs or is
 * paused (none before start or after stop) and reported available (the fake's guest uses none); no dynamic
 * memory (BalancingEnabled false). */
static void write_memory(json_writer *w, const esys *s)
{
    uint64_t pages = s->state == S_RUNNING || s->state == S_PAUSED ? s->memory_mb * 256u : 0;
    jw_obj_begin(w);
    jw_key(w, "VirtualNodeCount");
    jw_uint(w, 1);
    jw_key(w, "VirtualMachineMemory");
    jw_obj_begin(w);
    jw_key(w, "AvailableMemory");
    jw_int(w, pages ? (int64_t)(s->memory_mb > 0x7FFFFFFF ? 0x7FFFFFFF : s->memory_mb) : 0);
    jw_key(w, "AvailableMemoryBuffer");
    jw_int(w, 0);
    jw_key(w, "ReservedMemory");
    jw_uint(w, 0);
    jw_key(w, "AssignedMemory");
    jw_uint(w, pages);
    jw_key(w, "SlpActive");
    jw_bool(w, 0);
    jw_key(w, "BalancingEnabled");
    jw_bool(w, 0);
    jw_key(w, "DmOperationInProgress");
    jw_bool(w, 0);
    jw_obj_end(w);
    jw_key(w, "VirtualNodes");
    jw_arr_begin(w);
    jw_obj_begin(w);
    jw_key(w, "VirtualNodeIndex");
    jw_uint(w, 0);
    jw_key(w, "PhysicalNodeNumber");
    jw_uint(w, 0);
    jw_key(w, "VirtualProcessorCount");
    jw_uint(w, s->processors);
    jw_key(w, "MemoryUsageInPages");
    jw_uint(w, pages);
    jw_obj_end(w);
    jw_arr_end(w);
    jw_obj_end(w);
}

/* [SharedMemoryRegionInfo {SectionName, GuestPhysicalAddress}] (SchemaReference.md). */
static void write_regions(json_writer *w, const esys *s)
{
    jw_arr_begin(w);
    for (const eregion *r = s->regions; r; r = r->next) {
        jw_obj_begin(w);
        jw_key(w, "SectionName");
        jw_string(w, r->name);
        jw_key(w, "GuestPhysicalAddress");
        jw_uint(w, r->gpa);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* GuestConnectionInfo {SupportedSchemaVersions, ProtocolVersion, GuestDefinedCapabilities} (SchemaReference.md;
 * hcsshim schema1.GuestConnectionInfo / GuestDefinedCapabilities). A utility VM whose boot image declares its build
 * answers for that build: the schema versions the build accepts (SchemaReference.md's version map), protocol 4
 * (hcsshim internal/gcs/guestconnection.go protocolVersion; test/functional uvm_properties_test.go expects >= 4 of a
 * WCOW UVM), NamespaceAddRequestSupported and SignalProcessSupported from 17763 on (the same test expects both of an
 * RS5+ WCOW UVM; internal/uvm/capabilities.go: signals "added RS5+ guests"), and DumpStacks, DeleteContainerState
 * and UpdateContainer with them (choice); LogForwarding and HostProcessContainer, features of newer guests, are not
 * modelled (absent: hcsshim's fields are omitempty). Anything else (a VM configuring GuestConnection, a UVM of
 * unknown build): choice, the 2.6 guest with every capability of schema1.GuestDefinedCapabilities but those two. */
static void write_guest_connection(json_writer *w, const esys *s)
{
    int minor = 6, rs5 = 1;
    if (s->utility_vm && s->has_os_build) {
        minor = osver_highest_schema_minor(s->os_build.build);
        rs5 = s->os_build.major > 10 || (s->os_build.major == 10 && s->os_build.build >= 17763u);
    }
    jw_obj_begin(w);
    jw_key(w, "SupportedSchemaVersions");
    jw_arr_begin(w);
    if (minor > 0) {
        jw_obj_begin(w);
        jw_key(w, "Major");
        jw_uint(w, 2);
        jw_key(w, "Minor");
        jw_uint(w, (uint64_t)minor);
        jw_obj_end(w);
    } else {
        jw_obj_begin(w);
        jw_key(w, "Major");
        jw_uint(w, 1);
        jw_key(w, "Minor");
        jw_uint(w, 0);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "ProtocolVersion");
    jw_uint(w, 4);
    jw_key(w, "GuestDefinedCapabilities");
    jw_obj_begin(w);
    if (rs5) {
        static const char *const caps[] = { "NamespaceAddRequestSupported", "SignalProcessSupported",
                                            "DumpStacksSupported", "DeleteContainerStateSupported",
                                            "UpdateContainerSupported" };
        for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
            jw_key(w, caps[i]);
            jw_bool(w, 1);
        }
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

static void write_property(json_writer *w, esys *s, const char *t)
{
    if (strcmp(t, "ProcessList") == 0) write_process_list(w, s);
    else if (strcmp(t, "Statistics") == 0) write_statistics(w, s);
    else if (strcmp(t, "Memory") == 0) write_memory(w, s);
    else if (strcmp(t, "SharedMemoryRegion") == 0) write_regions(w, s);
    else if (strcmp(t, "GuestConnection") == 0) write_guest_connection(w, s);
    else jw_bool(w, s->terminate_on_last_close);
}

static void write_result_error(json_writer *w, int32_t hr, const char *msg)
{
    jw_obj_begin(w);
    jw_key(w, "Error");
    jw_int(w, hr);
    jw_key(w, "ErrorMessage");
    jw_string(w, msg);
    jw_obj_end(w);
}

int32_t engine_system_properties(uint64_t uid, const char *query, char **result)
{
    esys *s;
    json_value *q = NULL;
    const json_value *types = NULL, *queries = NULL;
    json_writer w;
    int32_t hr;
    tls_error[0] = 0;
    *result = NULL;
    /* HcsGetComputeSystemProperties.md: query is a System_PropertyQuery; NULL returns the basic properties. */
    hr = check_options(query, "The property query", &q);
    if (hr) return hr;
    types = json_get(q, "PropertyTypes");
    queries = json_get(q, "Queries");
    if (types && types->type != JSON_ARRAY && types->type != JSON_NULL) {
        json_free(q);
        return fail(HCS_E_INVALID_JSON, "System_PropertyQuery.PropertyTypes must be an array of strings");
    }
    for (size_t i = 0; types && types->type == JSON_ARRAY && i < types->count; i++)
        if (types->items[i]->type != JSON_STRING) {
            json_free(q);
            return fail(HCS_E_INVALID_JSON, "System_PropertyQuery.PropertyTypes must be an array of strings");
        }
    plat_mutex_lock(E);
    if (disconnected) {
        plat_mutex_unlock(E);
        json_free(q);
        return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    }
    s = find_sys(uid);
    if (!s) {
        plat_mutex_unlock(E);
        json_free(q);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    /* PropertyTypes: one type this system cannot answer fails the whole query (its HRESULT and message). */
    for (size_t i = 0; types && types->type == JSON_ARRAY && i < types->count; i++) {
        hr = property_support(s, types->items[i]->string);
        if (hr) {
            plat_mutex_unlock(E);
            json_free(q);
            return hr;
        }
    }
    jw_init(&w);
    jw_obj_begin(&w);
    write_basic_properties(&w, s);
    if (types && types->type == JSON_ARRAY)
        for (size_t i = 0; i < types->count; i++) {
            jw_key(&w, property_key(types->items[i]->string));
            write_property(&w, s, types->items[i]->string);
        }
    if (queries && queries->type == JSON_OBJECT) {
        /* SchemaReference.md (2.5): Queries{type: query} answered in PropertyResponses{type: {Error, Response}}:
         * each type on its own. */
        jw_key(&w, "PropertyResponses");
        jw_obj_begin(&w);
        for (size_t i = 0; i < queries->count; i++) {
            const char *t = queries->keys[i];
            int32_t support = property_support(s, t);
            jw_key(&w, t);
            jw_obj_begin(&w);
            if (!support) {
                jw_key(&w, "Response");
                write_property(&w, s, t);
            } else {
                jw_key(&w, "Error");
                write_result_error(&w, support, engine_last_error());
            }
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
        tls_error[0] = 0;
    }
    jw_obj_end(&w);
    plat_mutex_unlock(E);
    json_free(q);
    *result = jw_finish(&w);
    return 0;
}

static int list_match(const json_value *list, const char *value, int case_insensitive)
{
    if (!list || list->type != JSON_ARRAY || list->count == 0) return 1;
    if (!value) return 0;
    for (size_t i = 0; i < list->count; i++) {
        const json_value *v = list->items[i];
        if (v->type != JSON_STRING) continue;
        if (case_insensitive) {
            const char *a = v->string, *b = value;
            while (*a && *b && ((*a | 0x20) == (*b | 0x20))) { a++; b++; }
            if (!*a && !*b) return 1;
        } else if (strcmp(v->string, value) == 0) return 1;
    }
    return 0;
}

int32_t engine_enumerate(const char *ns, const char *query, char **result)
{
    json_value *q = NULL;
    json_writer w;
    int32_t hr;
    static const char *const fields[] = { "Ids", "Names", "Types", "Owners" };
    tls_error[0] = 0;
    *result = NULL;
    /* HcsEnumerateComputeSystems.md: query is a SystemQuery {Ids, Names, Types, Owners}; result: [Properties]. */
    hr = check_options(query, "The SystemQuery", &q);
    if (hr) return hr;
    for (int i = 0; i < 4; i++) {
        const json_value *f = json_get(q, fields[i]);
        if (f && f->type != JSON_ARRAY && f->type != JSON_NULL) {
            json_free(q);
            return fail(HCS_E_INVALID_JSON, "SystemQuery.%s must be an array of strings", fields[i]);
        }
    }
    plat_mutex_lock(E);
    if (disconnected) {
        plat_mutex_unlock(E);
        json_free(q);
        return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    }
    jw_init(&w);
    jw_arr_begin(&w);
    for (esys *s = systems; s; s = s->next) {
        if (s->dead || s->state == S_CREATING || strcmp(s->ns, ns) != 0) continue;
        if (!list_match(json_get(q, "Ids"), s->id, 1) || !list_match(json_get(q, "Names"), s->id, 1) ||
            !list_match(json_get(q, "Types"), s->type, 1) || !list_match(json_get(q, "Owners"), s->owner, 0))
            continue;
        jw_obj_begin(&w);
        write_basic_properties(&w, s);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    plat_mutex_unlock(E);
    json_free(q);
    *result = jw_finish(&w);
    return 0;
}

int32_t engine_system_wait_exit(uint64_t uid, uint32_t timeout_ms, char **result)
{
    esys *s;
    uint64_t deadline = plat_monotonic_ms() + (timeout_ms == PLAT_INFINITE ? 0 : timeout_ms);
    int32_t hr = 0;
    tls_error[0] = 0;
    *result = NULL;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    s = find_sys(uid);
    if (!s) {
        plat_mutex_unlock(E);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    s->pins++;
    for (;;) {
        uint64_t now;
        if (s->state == S_STOPPED) {
            *result = exit_status_json(s);
            break;
        }
        if (disconnected) { hr = fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost"); break; }
        if (s->dead) { hr = fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists"); break; }
        now = plat_monotonic_ms();
        if (timeout_ms != PLAT_INFINITE && now >= deadline) {
            /* HcsWaitForComputeSystemExit.md + HCSHResult.md: a wait that times out -> HCS_E_OPERATION_TIMEOUT */
            hr = fail(HCS_E_OPERATION_TIMEOUT, "The compute system did not exit within %u ms", timeout_ms);
            break;
        }
        plat_cond_wait(C, E, timeout_ms == PLAT_INFINITE ? PLAT_INFINITE : (uint32_t)(deadline - now));
    }
    unpin(s);
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_system_exit_status(uint64_t uid, int *stopped, char **result)
{
    esys *s;
    *stopped = 0;
    *result = NULL;
    plat_mutex_lock(E);
    s = find_sys(uid);
    if (s && s->state == S_STOPPED) {
        *stopped = 1;
        *result = exit_status_json(s);
    }
    plat_mutex_unlock(E);
    return s ? 0 : HCS_E_SYSTEM_NOT_FOUND;
}

/* ---------------------------------------------------------------- processes */

static char **json_string_array(const json_value *a)
{
    char **v = calloc(a->count + 1, sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < a->count; i++) v[i] = xstrdup(a->items[i]->string);
    return v;
}

int32_t engine_process_create(uint64_t sys_uid, const char *parameters, uint64_t *puid)
{
    char err[160];
    json_value *doc;
    const json_value *args, *env, *size;
    const char *cmd, *app, *cwd;
    eproc *p;
    esys *s;
    tls_error[0] = 0;
    if (!parameters) return fail(FAKE_E_INVALIDARG, "The ProcessParameters document must not be NULL");
    doc = json_parse(parameters, err, sizeof err);
    if (!doc) return fail(HCS_E_INVALID_JSON, "The ProcessParameters document is not valid JSON: %s", err);
    if (doc->type != JSON_OBJECT) {
        json_free(doc);
        return fail(HCS_E_INVALID_JSON, "The ProcessParameters document must be a JSON object");
    }
    /* SchemaReference.md ProcessParameters / hcsshim schema2/process_parameters.go */
    cmd = json_get_string(doc, "CommandLine");
    app = json_get_string(doc, "ApplicationName");
    cwd = json_get_string(doc, "WorkingDirectory");
    args = json_get(doc, "CommandArgs");
    env = json_get(doc, "Environment");
    size = json_get(doc, "ConsoleSize");
    if (args && args->type != JSON_NULL) {
        int ok = args->type == JSON_ARRAY && args->count > 0;
        for (size_t i = 0; ok && i < args->count; i++) ok = args->items[i]->type == JSON_STRING;
        if (!ok) {
            json_free(doc);
            return fail(HCS_E_INVALID_JSON, "ProcessParameters.CommandArgs must be a non-empty array of strings");
        }
    } else args = NULL;
    if (env && env->type != JSON_NULL) {
        int ok = env->type == JSON_OBJECT;
        for (size_t i = 0; ok && i < env->count; i++) ok = env->items[i]->type == JSON_STRING;
        if (!ok) {
            json_free(doc);
            return fail(HCS_E_INVALID_JSON, "ProcessParameters.Environment must be an object of strings");
        }
    } else env = NULL;
    if (size && size->type != JSON_NULL) {
        if (size->type != JSON_ARRAY || size->count != 2 || size->items[0]->type != JSON_NUMBER ||
            size->items[1]->type != JSON_NUMBER) {
            json_free(doc);
            return fail(HCS_E_INVALID_JSON, "ProcessParameters.ConsoleSize must be [height, width]");
        }
    } else size = NULL;
    if (!cmd && !app && !args) {
        json_free(doc);
        return fail(FAKE_E_INVALIDARG, "ProcessParameters needs a CommandLine (or ApplicationName / CommandArgs)");
    }
    p = calloc(1, sizeof *p);
    if (!p) abort();
    p->state = P_RESERVED;
    p->refs = 1;   /* the creator's handle */
    p->in = p->out = p->err = p->master = PLAT_NO_FD;
    if (cmd && app) {
        /* ApplicationName is the program, CommandLine its full command line (CreateProcess semantics): the
         * fake runs CommandLine. (choice) */
        p->command_line = xstrdup(cmd);
    } else p->command_line = xstrdup(cmd ? cmd : (args ? NULL : app));
    if (!cmd && args) p->argv = json_string_array(args);
    if (env) {
        /* choice: Environment replaces the environment (CreateProcessW lpEnvironment semantics; hcsshim passes
         * the complete environment); without it the process inherits the fake's environment. */
        p->envp = calloc(env->count + 1, sizeof *p->envp);
        if (!p->envp) abort();
        for (size_t i = 0; i < env->count; i++) {
            size_t l = strlen(env->keys[i]) + strlen(env->items[i]->string) + 2;
            p->envp[i] = malloc(l);
            if (!p->envp[i]) abort();
            snprintf(p->envp[i], l, "%s=%s", env->keys[i], env->items[i]->string);
        }
    }
    p->cwd = xstrdup(cwd && cwd[0] ? cwd : NULL);
    p->want_in = json_get_bool(doc, "CreateStdInPipe", 0);
    p->want_out = json_get_bool(doc, "CreateStdOutPipe", 0);
    p->want_err = json_get_bool(doc, "CreateStdErrPipe", 0);
    p->console = json_get_bool(doc, "EmulateConsole", 0);
    if (size) {
        p->rows = (uint16_t)size->items[0]->number;
        p->cols = (uint16_t)size->items[1]->number;
    }
    json_free(doc);
    plat_mutex_lock(E);
    if (disconnected) {
        plat_mutex_unlock(E);
        free_proc(p);
        return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    }
    s = find_sys(sys_uid);
    if (!s) {
        plat_mutex_unlock(E);
        free_proc(p);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    p->uid = next_uid++;
    p->next = s->procs;
    s->procs = p;
    *puid = p->uid;
    plat_mutex_unlock(E);
    return 0;
}

static void fill_stdio(const eproc *p, engine_stdio *io)
{
    io->pid = (uint32_t)p->pid;
    if (p->console) {
        /* EmulateConsole: stdin and stdout are the pty; stderr is merged into it (StdError NULL). */
        io->in = p->want_in ? plat_dup(p->master) : PLAT_NO_FD;
        io->out = p->want_out ? plat_dup(p->master) : PLAT_NO_FD;
        io->err = PLAT_NO_FD;
    } else {
        io->in = plat_dup(p->in);
        io->out = plat_dup(p->out);
        io->err = plat_dup(p->err);
    }
}

int32_t engine_process_start(uint64_t puid, engine_stdio *io)
{
    esys *s = NULL;
    eproc *p;
    plat_spawn_spec spec;
    plat_child child;
    uint32_t rc;
    tls_error[0] = 0;
    io->pid = 0;
    io->in = io->out = io->err = PLAT_NO_FD;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = find_proc(puid, &s);
    if (!p) {
        plat_mutex_unlock(E);
        return fail(FAKE_E_NOT_FOUND, "The process no longer exists");
    }
    if (p->state != P_RESERVED) {
        plat_mutex_unlock(E);
        return fail(FAKE_E_INVALIDARG, "The process was already started");
    }
    if (s->state != S_RUNNING || s->stopping) {
        int32_t hr;
        p->state = P_FAILED;
        plat_cond_broadcast(C);
        /* Processes exist only in a running system (HCS_E_INVALID_STATE, HCSHResult.md). */
        hr = invalid_state(s, "create a process in");
        plat_mutex_unlock(E);
        return hr;
    }
    memset(&spec, 0, sizeof spec);
    spec.command_line = p->command_line;
    spec.argv = (const char *const *)p->argv;
    spec.envp = (const char *const *)p->envp;
    spec.cwd = p->cwd;
    spec.want_stdin = p->want_in;
    spec.want_stdout = p->want_out;
    spec.want_stderr = p->want_err;
    spec.console = p->console;
    spec.rows = p->rows;
    spec.cols = p->cols;
    p->state = P_STARTING;
    s->pins++;
    p->refs++;
    plat_mutex_unlock(E);
    rc = plat_spawn(&spec, &child);
    plat_mutex_lock(E);
    p->refs--;   /* the caller's job still holds its own reference */
    if (rc) {
        int32_t hr;
        p->state = P_FAILED;
        plat_cond_broadcast(C);
        if (rc == ERROR_DIRECTORY)
            hr = fail(FAKE_HRESULT_FROM_WIN32(rc), "The working directory '%s' does not exist", spec.cwd);
        else if (rc == ERROR_FILE_NOT_FOUND || rc == ERROR_PATH_NOT_FOUND)
            hr = fail(FAKE_HRESULT_FROM_WIN32(rc), "The program '%s' was not found",
                      spec.argv ? spec.argv[0] : (spec.command_line ? spec.command_line : ""));
        else
            hr = fail(FAKE_HRESULT_FROM_WIN32(rc), "Cannot start the process (Win32 error %u)", rc);
        unpin(s);
        plat_mutex_unlock(E);
        return hr;
    }
    p->pid = child.pid;
    p->in = child.stdin_w;
    p->out = child.stdout_r;
    p->err = child.stderr_r;
    p->master = child.console;
    p->create_ft = plat_filetime_now();
    p->state = P_RUNNING;
    add_child(child.pid);
    if (s->dead || s->stopping || s->state != S_RUNNING) {
        /* The system stopped (or paused) while the process was being started: it does not survive that. */
        plat_signal_group(child.pid, s->state == S_PAUSED ? PLAT_SIGSTOP : PLAT_SIGKILL);
    }
    fill_stdio(p, io);
    unpin(s);
    plat_mutex_unlock(E);
    return 0;
}

void engine_process_abandon(uint64_t puid)
{
    eproc *p;
    plat_mutex_lock(E);
    p = find_proc(puid, NULL);
    if (p && p->state == P_RESERVED) p->state = P_FAILED;
    plat_cond_broadcast(C);
    plat_mutex_unlock(E);
}

int32_t engine_process_retain(uint64_t puid)
{
    esys *s;
    eproc *p;
    plat_mutex_lock(E);
    p = find_proc(puid, &s);
    if (p) p->refs++;
    plat_mutex_unlock(E);
    return p ? 0 : FAKE_E_NOT_FOUND;
}

void engine_process_release(uint64_t puid)
{
    esys *s;
    eproc *p;
    plat_mutex_lock(E);
    p = find_proc(puid, &s);
    if (p) proc_unref(s, p);
    plat_mutex_unlock(E);
}

int32_t engine_process_open(uint64_t sys_uid, uint32_t pid, uint64_t *puid)
{
    esys *s;
    tls_error[0] = 0;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    s = find_sys(sys_uid);
    if (!s) {
        plat_mutex_unlock(E);
        return fail(HCS_E_SYSTEM_NOT_FOUND, "The compute system no longer exists");
    }
    for (eproc *p = s->procs; p; p = p->next)
        if (p->state == P_RUNNING && (uint32_t)p->pid == pid) {
            p->refs++;   /* the new handle */
            *puid = p->uid;
            plat_mutex_unlock(E);
            return 0;
        }
    {
        /* hcsshim v2/errors.go: ErrElementNotFound (0x490) "can mean that a Process has either already exited, or
         * does not exist". */
        int32_t hr = fail(FAKE_E_NOT_FOUND, "No running process with id %u exists in the compute system '%s'", pid,
                          s->id);
        plat_mutex_unlock(E);
        return hr;
    }
}

/* Finds a started process (E held). Returns NULL and an error when it does not exist or never started. */
static eproc *started_proc(uint64_t puid, esys **s, int32_t *hr)
{
    eproc *p = find_proc(puid, s);
    if (!p) {
        *hr = fail(FAKE_E_NOT_FOUND, "The process no longer exists");
        return NULL;
    }
    if (p->state == P_FAILED || p->state == P_RESERVED) {
        *hr = fail(FAKE_E_NOT_FOUND, "The process was never started");
        return NULL;
    }
    return p;
}

int32_t engine_process_info(uint64_t puid, engine_stdio *io)
{
    esys *s;
    eproc *p;
    int32_t hr = 0;
    tls_error[0] = 0;
    io->pid = 0;
    io->in = io->out = io->err = PLAT_NO_FD;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = started_proc(puid, &s, &hr);
    if (p) fill_stdio(p, io);   /* each call: a fresh, caller-owned set (hcsshim StdioLegacy relies on it) */
    plat_mutex_unlock(E);
    return hr;
}

static int parse_signal(const json_value *sig, int *signo)
{
    /* SignalProcessOptions (Windows): {"Signal": "CtrlC" | "CtrlBreak" | "CtrlClose" | "CtrlLogOff" |
     * "CtrlShutdown"}; LCOW (hcsshim internal/protocol/guestresource/resources.go): {"Signal": <int>}. */
    static const struct { const char *name; int signo; } names[] = {
        { "CtrlC", PLAT_SIGINT }, { "CtrlBreak", PLAT_SIGQUIT }, { "CtrlClose", PLAT_SIGHUP },
        { "CtrlLogOff", PLAT_SIGHUP }, { "CtrlShutdown", PLAT_SIGTERM },
    };
    if (!sig) return 0;
    if (sig->type == JSON_STRING) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(names[i].name, sig->string) == 0) { *signo = names[i].signo; return 1; }
        return 0;
    }
    if (sig->type == JSON_NUMBER && sig->is_integer && plat_signal_valid((int)sig->integer) && sig->integer > 0 &&
        sig->integer < 65) {
        *signo = (int)sig->integer;
        return 1;
    }
    return 0;
}

int32_t engine_process_signal(uint64_t puid, const char *options)
{
    esys *s;
    eproc *p;
    json_value *opts = NULL;
    int signo = 0;
    int32_t hr = 0;
    tls_error[0] = 0;
    if (!options || !options[0]) return fail(FAKE_E_INVALIDARG, "HcsSignalProcess needs SignalProcessOptions");
    hr = check_options(options, "The SignalProcessOptions", &opts);
    if (hr) return hr;
    if (!parse_signal(json_get(opts, "Signal"), &signo)) {
        json_free(opts);
        return fail(FAKE_E_INVALIDARG, "SignalProcessOptions.Signal must be CtrlC, CtrlBreak, CtrlClose, CtrlLogOff, "
                                       "CtrlShutdown or a Linux signal number");
    }
    json_free(opts);
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = started_proc(puid, &s, &hr);
    if (p && p->state == P_EXITED)
        /* choice: signalling an exited process -> ERROR_NOT_FOUND, which hcsshim v2/process.go
         * processSignalResult treats as "process gone". */
        hr = fail(FAKE_E_NOT_FOUND, "The process %lld has already exited", (long long)p->pid);
    else if (p) {
        uint32_t e = plat_signal_group(p->pid, signo);
        if (e) hr = fail(FAKE_HRESULT_FROM_WIN32(e), "Cannot signal the process");
    }
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_process_terminate(uint64_t puid, const char *options)
{
    esys *s;
    eproc *p;
    int32_t hr = 0;
    tls_error[0] = 0;
    /* HcsTerminateProcess.md: options "Reserved for future use. Must be NULL." (an empty string is tolerated) */
    if (options && options[0]) return fail(FAKE_E_INVALIDARG, "HcsTerminateProcess options must be NULL");
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = started_proc(puid, &s, &hr);
    if (p && p->state == P_EXITED) {
        /* hcsshim v2/process.go Kill: "if for any reason HcsTerminateProcess is called twice ... hcs may return
         * HCS_E_PROCESS_ALREADY_STOPPED". */
        hr = fail(HCS_E_PROCESS_ALREADY_STOPPED, "The process %lld has already stopped", (long long)p->pid);
    } else if (p) {
        uint64_t deadline = plat_monotonic_ms() + KILL_WAIT_MS;
        plat_signal_group(p->pid, PLAT_SIGKILL);
        plat_signal_group(p->pid, PLAT_SIGCONT);
        plat_cond_broadcast(C);   /* the reaper polls sooner */
        /* choice: the operation completes once the process is gone (reaped). */
        s->pins++;
        p->refs++;
        while (p->state != P_EXITED && !s->dead && plat_monotonic_ms() < deadline) plat_cond_wait(C, E, 50);
        proc_unref(s, p);
        unpin(s);
    }
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_process_modify(uint64_t puid, const char *settings)
{
    esys *s;
    eproc *p;
    json_value *req = NULL;
    const char *op;
    int32_t hr;
    tls_error[0] = 0;
    if (!settings || !settings[0]) return fail(FAKE_E_INVALIDARG, "HcsModifyProcess needs a ProcessModifyRequest");
    hr = check_options(settings, "The ProcessModifyRequest", &req);
    if (hr) return hr;
    op = json_get_string(req, "Operation");
    plat_mutex_lock(E);
    if (disconnected) {
        plat_mutex_unlock(E);
        json_free(req);
        return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    }
    p = started_proc(puid, &s, &hr);
    if (!p) goto out;
    if (p->state == P_EXITED) {
        /* hcsshim v2/process.go CloseStdin: "HcsModifyProcess request to close stdin will fail if the process has
         * already exited" (choice: with HCS_E_PROCESS_ALREADY_STOPPED). */
        hr = fail(HCS_E_PROCESS_ALREADY_STOPPED, "The process %lld has already exited", (long long)p->pid);
        goto out;
    }
    if (op && strcmp(op, "ConsoleSize") == 0) {
        const json_value *cs = json_get(req, "ConsoleSize");
        int64_t h = 0, w = 0;
        if (!json_get_int(cs, "Height", &h) || !json_get_int(cs, "Width", &w) || h < 0 || w < 0 || h > 65535 || w > 65535) {
            hr = fail(FAKE_E_INVALIDARG, "ProcessModifyRequest.ConsoleSize must be {\"Height\": n, \"Width\": n}");
        } else if (!p->console) {
            hr = fail(FAKE_E_INVALIDARG, "The process has no console (EmulateConsole was not set)");
        } else {
            uint32_t e = plat_console_resize(p->master, (uint16_t)h, (uint16_t)w);
            if (e) hr = fail(FAKE_HRESULT_FROM_WIN32(e), "Cannot resize the console");
        }
    } else if (op && strcmp(op, "CloseHandle") == 0) {
        const char *h = json_get_string(json_get(req, "CloseHandle"), "Handle");
        int all = h && strcmp(h, "All") == 0;
        if (!h || (!all && strcmp(h, "StdIn") != 0 && strcmp(h, "StdOut") != 0 && strcmp(h, "StdErr") != 0)) {
            hr = fail(FAKE_E_INVALIDARG, "ProcessModifyRequest.CloseHandle.Handle must be StdIn, StdOut, StdErr or All");
        } else if (p->console) {
            /* choice: on a console, closing StdIn sends end-of-file (^D) through the pty; StdOut/All close the
             * fake's own copy of the pty. */
            if (strcmp(h, "StdIn") == 0 && p->master != PLAT_NO_FD) {
                static const unsigned char eot = 0x04;
                plat_write(p->master, &eot, 1);
            }
            if (all || strcmp(h, "StdOut") == 0) {
                plat_close(p->master);
                p->master = PLAT_NO_FD;
            }
        } else {
            /* The fake keeps its own end of each pipe (like HCS); the child sees EOF on stdin only once every
             * copy is closed: the caller's and, through this request, the fake's. */
            if (all || strcmp(h, "StdIn") == 0) { plat_close(p->in); p->in = PLAT_NO_FD; }
            if (all || strcmp(h, "StdOut") == 0) { plat_close(p->out); p->out = PLAT_NO_FD; }
            if (all || strcmp(h, "StdErr") == 0) { plat_close(p->err); p->err = PLAT_NO_FD; }
        }
    } else {
        hr = fail(FAKE_E_INVALIDARG, "ProcessModifyRequest.Operation must be ConsoleSize or CloseHandle");
    }
out:
    plat_mutex_unlock(E);
    json_free(req);
    return hr;
}

int32_t engine_process_properties(uint64_t puid, const char *query, char **result)
{
    esys *s;
    eproc *p;
    int32_t hr = 0;
    tls_error[0] = 0;
    *result = NULL;
    if (query && query[0]) {
        hr = check_options(query, "The process property query", NULL);
        if (hr) return hr;
    }
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = started_proc(puid, &s, &hr);
    if (p) *result = process_status_json(p);  /* ProcessStatus {ProcessId, Exited, ExitCode, LastWaitResult} */
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_process_wait_exit(uint64_t puid, uint32_t timeout_ms, char **result)
{
    esys *s = NULL;
    eproc *p;
    uint64_t deadline = plat_monotonic_ms() + (timeout_ms == PLAT_INFINITE ? 0 : timeout_ms);
    int32_t hr = 0;
    tls_error[0] = 0;
    *result = NULL;
    plat_mutex_lock(E);
    CHECK_CONNECTED();
    p = find_proc(puid, &s);
    if (!p) {
        plat_mutex_unlock(E);
        return fail(FAKE_E_NOT_FOUND, "The process no longer exists");
    }
    s->pins++;
    p->refs++;   /* another thread may close the last handle while we wait */
    for (;;) {
        uint64_t now;
        if (p->state == P_EXITED) {
            *result = process_status_json(p);
            break;
        }
        if (p->state == P_FAILED) { hr = fail(FAKE_E_NOT_FOUND, "The process was never started"); break; }
        if (disconnected) { hr = fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost"); break; }
        if (s->dead) { hr = fail(FAKE_E_NOT_FOUND, "The process no longer exists"); break; }
        now = plat_monotonic_ms();
        if (timeout_ms != PLAT_INFINITE && now >= deadline) {
            hr = fail(HCS_E_OPERATION_TIMEOUT, "The process did not exit within %u ms", timeout_ms);
            break;
        }
        plat_cond_wait(C, E, timeout_ms == PLAT_INFINITE ? PLAT_INFINITE : (uint32_t)(deadline - now));
    }
    proc_unref(s, p);
    unpin(s);
    plat_mutex_unlock(E);
    return hr;
}

int32_t engine_process_exit_status(uint64_t puid, int *exited, char **result)
{
    eproc *p;
    *exited = 0;
    *result = NULL;
    plat_mutex_lock(E);
    p = find_proc(puid, NULL);
    if (p && p->state == P_EXITED) {
        *exited = 1;
        *result = process_status_json(p);
    }
    plat_mutex_unlock(E);
    return p ? 0 : FAKE_E_NOT_FOUND;
}

uint32_t engine_process_pid(uint64_t puid)
{
    eproc *p;
    uint32_t pid = 0;
    plat_mutex_lock(E);
    p = find_proc(puid, NULL);
    if (p && p->pid > 0) pid = (uint32_t)p->pid;
    plat_mutex_unlock(E);
    return pid;
}

/* ---------------------------------------------------------------- service */

/* Host-wide state HcsModifyServiceSettings changes and HcsGetServiceProperties reports (E held): CPU groups
 * (HostProcessorModificationRequest) and Container Credential Guard instances. Like vmcompute's, it lives until the
 * service goes (FakeHcsReset): hcsshim internal/credentials: instances "persist unless vmcompute.exe exits or they
 * are removed". */
#define MAX_GROUP_PROPERTIES 16

typedef struct ecpugroup {
    char *id;
    uint32_t *lps;
    size_t nlps;
    uint64_t hv_id;
    size_t nprops;
    uint32_t codes[MAX_GROUP_PROPERTIES];
    uint64_t values[MAX_GROUP_PROPERTIES];
    struct ecpugroup *next;
} ecpugroup;

typedef struct eccg {
    char *id, *spec, *transport;
    uint64_t serial;
    struct eccg *next;
} eccg;

static ecpugroup *cpugroups;
static eccg *ccgs;
static uint64_t next_hv_group = 1, next_ccg = 1;

static void service_reset(void)
{
    while (cpugroups) {
        ecpugroup *g = cpugroups;
        cpugroups = g->next;
        free(g->id);
        free(g->lps);
        free(g);
    }
    while (ccgs) {
        eccg *c = ccgs;
        ccgs = c->next;
        free(c->id);
        free(c->spec);
        free(c->transport);
        free(c);
    }
}

/* SchemaReference.md "Guid": 8-4-4-4-12 hexadecimal digits. */
static int is_guid(const char *g)
{
    static const int groups[] = { 8, 4, 4, 4, 12 };
    if (!g) return 0;
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < groups[i]; k++, g++)
            if (!((*g >= '0' && *g <= '9') || ((*g | 0x20) >= 'a' && (*g | 0x20) <= 'f'))) return 0;
        if (i < 4 && *g++ != '-') return 0;
    }
    return *g == 0;
}

static ecpugroup *find_cpugroup(const char *id, ecpugroup ***link)
{
    ecpugroup **pp = &cpugroups;
    for (; *pp; pp = &(*pp)->next)
        if (ascii_ieq((*pp)->id, id)) {
            if (link) *link = pp;
            return *pp;
        }
    return NULL;
}

static eccg *find_ccg(const char *id, eccg ***link)
{
    eccg **pp = &ccgs;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, id) == 0) {
            if (link) *link = pp;
            return *pp;
        }
    return NULL;
}

/* HostProcessorModificationRequest {Operation: CreateGroup | DeleteGroup | SetProperty, OperationDetails}
 * (SchemaReference.md; hcsshim internal/cpugroup). Group ids compare case-insensitively (hcsshim
 * GetCPUGroupConfig uses EqualFold). choice: errors -- a malformed request HCS_E_INVALID_JSON, a logical processor
 * the host does not have E_INVALIDARG, an existing group ERROR_ALREADY_EXISTS, an unknown one ERROR_NOT_FOUND. */
static int32_t modify_cpugroups(const json_value *settings)
{
    const char *op = json_get_string(settings, "Operation");
    const json_value *d = json_get(settings, "OperationDetails");
    const char *id = json_get_string(d, "GroupId");
    ecpugroup *g, **link = NULL;
    if (!op || !d || d->type != JSON_OBJECT)
        return fail(HCS_E_INVALID_JSON, "A HostProcessorModificationRequest needs an Operation and OperationDetails");
    if (strcmp(op, "CreateGroup") != 0 && strcmp(op, "DeleteGroup") != 0 && strcmp(op, "SetProperty") != 0)
        return fail(HCS_E_INVALID_JSON, "HostProcessorModificationRequest.Operation must be CreateGroup, DeleteGroup "
                                        "or SetProperty");
    if (!is_guid(id)) return fail(HCS_E_INVALID_JSON, "OperationDetails.GroupId must be a GUID");
    g = find_cpugroup(id, &link);
    if (strcmp(op, "CreateGroup") == 0) {
        /* CreateGroupOperation {GroupId, LogicalProcessorCount, LogicalProcessors} */
        const json_value *lps = json_get(d, "LogicalProcessors");
        int64_t count = -1;
        uint32_t host = plat_cpu_count();
        if (!lps || lps->type != JSON_ARRAY)
            return fail(HCS_E_INVALID_JSON, "CreateGroupOperation.LogicalProcessors must be an array of integers");
        if (json_get(d, "LogicalProcessorCount") &&
            (!json_get_int(d, "LogicalProcessorCount", &count) || count != (int64_t)lps->count))
            return fail(FAKE_E_INVALIDARG, "CreateGroupOperation.LogicalProcessorCount must be the number of "
                                           "LogicalProcessors");
        for (size_t i = 0; i < lps->count; i++) {
            const json_value *v = lps->items[i];
            if (v->type != JSON_NUMBER || !v->is_integer || v->integer < 0)
                return fail(HCS_E_INVALID_JSON, "CreateGroupOperation.LogicalProcessors must be unsigned integers");
            if (v->integer >= (int64_t)host)
                return fail(FAKE_E_INVALIDARG, "The host has no logical processor %lld (it has %u)",
                            (long long)v->integer, host);
            for (size_t k = 0; k < i; k++)
                if (lps->items[k]->integer == v->integer)
                    return fail(FAKE_E_INVALIDARG, "Logical processor %lld is listed twice", (long long)v->integer);
        }
        if (g) return fail(FAKE_E_ALREADY_EXISTS, "The CPU group %s already exists", id);
        g = calloc(1, sizeof *g);
        if (!g) abort();
        g->id = xstrdup(id);
        g->nlps = lps->count;
        g->lps = calloc(lps->count ? lps->count : 1, sizeof *g->lps);
        if (!g->lps) abort();
        for (size_t i = 0; i < lps->count; i++) g->lps[i] = (uint32_t)lps->items[i]->integer;
        g->hv_id = next_hv_group++;
        g->next = cpugroups;
        cpugroups = g;
        return 0;
    }
    if (!g) return fail(FAKE_E_NOT_FOUND, "No CPU group %s exists", id);
    if (strcmp(op, "DeleteGroup") == 0) {
        *link = g->next;
        free(g->id);
        free(g->lps);
        free(g);
        return 0;
    }
    {
        /* SetProperty: SetPropertyOperation {GroupId, PropertyCode, PropertyValue}: one value per code. */
        int64_t code, value;
        size_t i;
        if (!json_get_int(d, "PropertyCode", &code) || code < 0 || code > 0xFFFFFFFFll ||
            !json_get_int(d, "PropertyValue", &value) || value < 0)
            return fail(HCS_E_INVALID_JSON, "SetPropertyOperation needs an integer PropertyCode and PropertyValue");
        for (i = 0; i < g->nprops && g->codes[i] != (uint32_t)code; i++) {}
        if (i == MAX_GROUP_PROPERTIES) return fail(FAKE_E_INVALIDARG, "Too many properties on the CPU group %s", id);
        if (i == g->nprops) g->nprops++;
        g->codes[i] = (uint32_t)code;
        g->values[i] = (uint64_t)value;
    }
    return 0;
}

/* ContainerCredentialGuardOperationRequest {Operation: AddInstance | RemoveInstance, OperationDetails}
 * (SchemaReference.md; hcsshim internal/credentials: add, then find the instance by Id in the
 * ContainerCredentialGuard service property, remove when the container goes). */
static int32_t modify_ccg(const json_value *settings)
{
    const char *op = json_get_string(settings, "Operation");
    const json_value *d = json_get(settings, "OperationDetails");
    const char *id = json_get_string(d, "Id");
    eccg *c, **link = NULL;
    if (!op || !d || d->type != JSON_OBJECT)
        return fail(HCS_E_INVALID_JSON, "A ContainerCredentialGuardOperationRequest needs an Operation and "
                                        "OperationDetails");
    if (strcmp(op, "AddInstance") != 0 && strcmp(op, "RemoveInstance") != 0)
        return fail(HCS_E_INVALID_JSON, "ContainerCredentialGuardOperationRequest.Operation must be AddInstance or "
                                        "RemoveInstance");
    if (!id || !id[0]) return fail(HCS_E_INVALID_JSON, "OperationDetails.Id must be a non-empty string");
    c = find_ccg(id, &link);
    if (strcmp(op, "AddInstance") == 0) {
        /* ContainerCredentialGuardAddInstanceRequest {Id, CredentialSpec, Transport: LRPC | HvSocket} */
        const char *spec = json_get_string(d, "CredentialSpec");
        const char *transport = json_get_string(d, "Transport");
        if (!spec) return fail(HCS_E_INVALID_JSON, "ContainerCredentialGuardAddInstanceRequest needs a CredentialSpec");
        if (!transport || (strcmp(transport, "LRPC") != 0 && strcmp(transport, "HvSocket") != 0))
            return fail(HCS_E_INVALID_JSON, "ContainerCredentialGuardAddInstanceRequest.Transport must be LRPC or "
                                            "HvSocket");
        if (c) return fail(FAKE_E_ALREADY_EXISTS, "A Container Credential Guard instance '%s' already exists", id);
        c = calloc(1, sizeof *c);
        if (!c) abort();
        c->id = xstrdup(id);
        c->spec = xstrdup(spec);
        c->transport = xstrdup(transport);
        c->serial = next_ccg++;
        c->next = NULL;
        {
            eccg **tail = &ccgs;
            while (*tail) tail = &(*tail)->next;
            *tail = c;
        }
        return 0;
    }
    /* RemoveInstance: ContainerCredentialGuardRemoveInstanceRequest {Id} */
    if (!c) return fail(FAKE_E_NOT_FOUND, "No Container Credential Guard instance '%s' exists", id);
    *link = c->next;
    free(c->id);
    free(c->spec);
    free(c->transport);
    free(c);
    return 0;
}

int32_t engine_service_modify(const char *settings, char **result)
{
    json_value *req = NULL;
    const char *type;
    const json_value *inner;
    int32_t hr;
    tls_error[0] = 0;
    *result = NULL;
    if (!settings) return fail(FAKE_E_INVALIDARG, "HcsModifyServiceSettings needs a ModificationRequest");
    hr = check_options(settings, "The ModificationRequest", &req);
    if (!hr && !req) hr = fail(HCS_E_INVALID_JSON, "The ModificationRequest must be a JSON object");
    if (hr) goto out;
    /* ModificationRequest {PropertyType: ModifyPropertyType, Settings} (SchemaReference.md; "we support modification
     * of a single property type in a call"). */
    type = json_get_string(req, "PropertyType");
    inner = json_get(req, "Settings");
    if (!type || (strcmp(type, "CpuGroup") != 0 && strcmp(type, "ContainerCredentialGuard") != 0)) {
        hr = fail(FAKE_E_INVALIDARG, "ModificationRequest.PropertyType must be CpuGroup or ContainerCredentialGuard");
        goto out;
    }
    if (!inner || inner->type != JSON_OBJECT) {
        hr = fail(HCS_E_INVALID_JSON, "ModificationRequest.Settings must be a JSON object");
        goto out;
    }
    plat_mutex_lock(E);
    if (disconnected) hr = fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    else hr = strcmp(type, "CpuGroup") == 0 ? modify_cpugroups(inner) : modify_ccg(inner);
    plat_mutex_unlock(E);
out:
    json_free(req);
    return hr;
}

/* CpuGroupConfigurations {CpuGroups: [CpuGroupConfig {GroupId, Affinity {LogicalProcessorCount,
 * LogicalProcessors}, GroupProperties [{PropertyCode, PropertyValue}], HypervisorGroupId}]} (E held). */
static void write_cpugroups(json_writer *w)
{
    jw_obj_begin(w);
    jw_key(w, "CpuGroups");
    jw_arr_begin(w);
    for (const ecpugroup *g = cpugroups; g; g = g->next) {
        jw_obj_begin(w);
        jw_key(w, "GroupId");
        jw_string(w, g->id);
        jw_key(w, "Affinity");
        jw_obj_begin(w);
        jw_key(w, "LogicalProcessorCount");
        jw_uint(w, g->nlps);
        jw_key(w, "LogicalProcessors");
        jw_arr_begin(w);
        for (size_t i = 0; i < g->nlps; i++) jw_uint(w, g->lps[i]);
        jw_arr_end(w);
        jw_obj_end(w);
        jw_key(w, "GroupProperties");
        jw_arr_begin(w);
        for (size_t i = 0; i < g->nprops; i++) {
            jw_obj_begin(w);
            jw_key(w, "PropertyCode");
            jw_uint(w, g->codes[i]);
            jw_key(w, "PropertyValue");
            jw_uint(w, g->values[i]);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        jw_key(w, "HypervisorGroupId");
        jw_uint(w, g->hv_id);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

/* ProcessorTopology {LogicalProcessorCount, LogicalProcessors: [LogicalProcessor {LpIndex, NodeNumber, PackageId,
 * CoreId, RootVpIndex}]} (SchemaReference.md) of the host the fake runs on. choice: one NUMA node and package, one
 * core per logical processor, RootVpIndex = LpIndex (the root partition has a VP per LP). */
static void write_processor_topology(json_writer *w)
{
    uint32_t n = plat_cpu_count();
    jw_obj_begin(w);
    jw_key(w, "LogicalProcessorCount");
    jw_uint(w, n);
    jw_key(w, "LogicalProcessors");
    jw_arr_begin(w);
    for (uint32_t i = 0; i < n; i++) {
        jw_obj_begin(w);
        jw_key(w, "LpIndex");
        jw_uint(w, i);
        jw_key(w, "NodeNumber");
        jw_uint(w, 0);
        jw_key(w, "PackageId");
        jw_uint(w, 0);
        jw_key(w, "CoreId");
        jw_uint(w, i);
        jw_key(w, "RootVpIndex");
        jw_int(w, i);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

/* ContainerCredentialGuardSystemInfo {Instances: [ContainerCredentialGuardInstance {Id, CredentialGuard
 * {Cookie, RpcEndpoint, Transport, CredentialSpec}, HvSocketConfig}]} (SchemaReference.md), E held. choice: the
 * cookie is a base64 string_binary unique per instance, the RPC endpoint is named after the instance; an HvSocket
 * instance gets an HvSocketConfig with a ServiceId GUID and a service config allowing SYSTEM and administrators. */
static void write_ccgs(json_writer *w)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    jw_obj_begin(w);
    jw_key(w, "Instances");
    jw_arr_begin(w);
    for (const eccg *c = ccgs; c; c = c->next) {
        unsigned char raw[18];
        char cookie[25], buf[96];
        for (int i = 0; i < 18; i++)
            raw[i] = (unsigned char)((c->serial * 0x9E3779B97F4A7C15ull) >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
        for (int i = 0, k = 0; i < 18; i += 3) {
            uint32_t v = ((uint32_t)raw[i] << 16) | ((uint32_t)raw[i + 1] << 8) | raw[i + 2];
            cookie[k++] = b64[(v >> 18) & 63];
            cookie[k++] = b64[(v >> 12) & 63];
            cookie[k++] = b64[(v >> 6) & 63];
            cookie[k++] = b64[v & 63];
        }
        cookie[24] = 0;
        jw_obj_begin(w);
        jw_key(w, "Id");
        jw_string(w, c->id);
        jw_key(w, "CredentialGuard");
        jw_obj_begin(w);
        jw_key(w, "Cookie");
        jw_string(w, cookie);
        jw_key(w, "RpcEndpoint");
        snprintf(buf, sizeof buf, "ccg-%016llx", (unsigned long long)c->serial);
        jw_string(w, buf);
        jw_key(w, "Transport");
        jw_string(w, c->transport);
        jw_key(w, "CredentialSpec");
        jw_string(w, c->spec);
        jw_obj_end(w);
        if (strcmp(c->transport, "HvSocket") == 0) {
            jw_key(w, "HvSocketConfig");
            jw_obj_begin(w);
            jw_key(w, "ServiceId");
            snprintf(buf, sizeof buf, "c4a5e0cc-0000-4000-8000-%012llx", (unsigned long long)c->serial);
            jw_string(w, buf);
            jw_key(w, "ServiceConfig");
            jw_raw(w, "{\"BindSecurityDescriptor\":\"D:P(A;;FA;;;SY)(A;;FA;;;BA)\","
                      "\"ConnectSecurityDescriptor\":\"D:P(A;;FA;;;SY)(A;;FA;;;BA)\",\"AllowWildcardBinds\":true}");
            jw_obj_end(w);
        }
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj_end(w);
}

/* GetPropertyType (SchemaReference.md): the service property types. */
static int service_property_type(const char *t)
{
    return strcmp(t, "Basic") == 0 || strcmp(t, "CpuGroup") == 0 || strcmp(t, "ProcessorTopology") == 0 ||
           strcmp(t, "ContainerCredentialGuard") == 0 || strcmp(t, "QoSCapabilities") == 0;
}

/* GetPropertyType -> its document (HcsGetServiceProperties.md table). E held. */
static void write_service_property(json_writer *w, const char *t)
{
    /* BasicInformation {SupportedSchemaVersions}: an entry A.X means A.0 .. A.X (SchemaReference.md) */
    if (strcmp(t, "Basic") == 0)
        jw_raw(w, "{\"SupportedSchemaVersions\":[{\"Major\":1,\"Minor\":0},{\"Major\":2,\"Minor\":6}]}");
    else if (strcmp(t, "CpuGroup") == 0) write_cpugroups(w);
    else if (strcmp(t, "ProcessorTopology") == 0) write_processor_topology(w);
    else if (strcmp(t, "ContainerCredentialGuard") == 0) write_ccgs(w);
    /* QoSCapabilities {ProcessorQoSSupported} -- choice: true, as the fake models CPU groups and their properties
     * (the caps processor QoS is made of). */
    else jw_raw(w, "{\"ProcessorQoSSupported\":true}");
}

int32_t engine_service_properties(const char *query, char **result)
{
    json_value *q = NULL;
    const json_value *types, *pq;
    json_writer w;
    int32_t hr;
    tls_error[0] = 0;
    *result = NULL;
    if (engine_is_disconnected()) return fail(HCS_E_SERVICE_DISCONNECT, "The connection with the compute service was lost");
    /* HcsGetServiceProperties.md: Service_PropertyQuery {PropertyTypes[], PropertyQueries{} (2.5)} */
    hr = check_options(query, "The Service_PropertyQuery", &q);
    if (hr) return hr;
    types = json_get(q, "PropertyTypes");
    pq = json_get(q, "PropertyQueries");
    if (types && types->type != JSON_ARRAY) {
        json_free(q);
        return fail(HCS_E_INVALID_JSON, "Service_PropertyQuery.PropertyTypes must be an array of strings");
    }
    for (size_t i = 0; types && i < types->count; i++) {
        const json_value *t = types->items[i];
        if (t->type != JSON_STRING) {
            json_free(q);
            return fail(HCS_E_INVALID_JSON, "Service_PropertyQuery.PropertyTypes must be an array of strings");
        }
        if (!service_property_type(t->string)) {
            /* choice: not a GetPropertyType -> E_INVALIDARG */
            hr = fail(FAKE_E_INVALIDARG, "Unknown service property type '%s' (GetPropertyType: Basic, CpuGroup, "
                                         "ProcessorTopology, ContainerCredentialGuard, QoSCapabilities)", t->string);
            json_free(q);
            return hr;
        }
    }
    jw_init(&w);
    jw_obj_begin(&w);
    /* ServiceProperties.Properties: "an array corresponding to the requested property types" (SchemaReference.md) */
    jw_key(&w, "Properties");
    jw_arr_begin(&w);
    plat_mutex_lock(E);
    for (size_t i = 0; types && i < types->count; i++) write_service_property(&w, types->items[i]->string);
    jw_arr_end(&w);
    if (pq && pq->type == JSON_OBJECT) {
        jw_key(&w, "PropertyResponses");
        jw_obj_begin(&w);
        for (size_t i = 0; i < pq->count; i++) {
            jw_key(&w, pq->keys[i]);
            jw_obj_begin(&w);
            if (service_property_type(pq->keys[i])) {
                jw_key(&w, "Response");
                write_service_property(&w, pq->keys[i]);
            } else {
                jw_key(&w, "Error");
                write_result_error(&w, FAKE_E_INVALIDARG, "Unknown service property type");
            }
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
    }
    plat_mutex_unlock(E);
    jw_obj_end(&w);
    json_free(q);
    *result = jw_finish(&w);
    return 0;
}

/* ---------------------------------------------------------------- control */

void engine_set_disconnected(int value)
{
    plat_mutex_lock(E);
    disconnected = value;
    plat_cond_broadcast(C);
    plat_mutex_unlock(E);
}

int engine_is_disconnected(void)
{
    int d;
    plat_mutex_lock(E);
    d = disconnected;
    plat_mutex_unlock(E);
    return d;
}

int engine_unexpected_exit(const char *id, int32_t status)
{
    esys *found = NULL;
    plat_mutex_lock(E);
    for (esys *s = systems; s; s = s->next)
        if (!s->dead && strcmp(s->id, id) == 0 && s->state != S_STOPPED && s->state != S_CREATING) {
            found = s;
            break;
        }
    if (found) stop_system(found, "UnexpectedExit", status, "UnexpectedExit", "Unknown", 0);
    plat_mutex_unlock(E);
    return found ? 0 : -1;
}

void engine_kill_all(uint32_t timeout_ms)
{
    uint64_t deadline = plat_monotonic_ms() + timeout_ms;
    plat_mutex_lock(E);
    for (esys *s = systems; s; s = s->next) {
        signal_all(s, PLAT_SIGKILL);
        signal_all(s, PLAT_SIGCONT);
    }
    while (nchildren > 0 && plat_monotonic_ms() < deadline) plat_cond_wait(C, E, 20);
    plat_mutex_unlock(E);
}

void engine_reset(void)
{
    engine_kill_all(KILL_WAIT_MS);
    plat_mutex_lock(E);
    while (systems) forget_sys(systems);
    while (qhead) {
        qevent *e = qhead;
        qhead = e->next;
        free(e->data);
        free(e);
    }
    qtail = NULL;
    service_reset();
    load_host_os();
    disconnected = 0;
    plat_cond_broadcast(C);
    plat_mutex_unlock(E);
}

void engine_counts(int64_t *live_systems, int64_t *running_processes)
{
    int64_t n = 0;
    plat_mutex_lock(E);
    for (esys *s = systems; s; s = s->next)
        if (!s->dead) n++;
    *live_systems = n;
    *running_processes = (int64_t)nchildren;
    plat_mutex_unlock(E);
}
