/*
 * agent: how libmemprof.so gets into a process, and out of it cleanly.
 *
 * The constructor runs in every process the library is preloaded into.
 * In one without a Python 3.8+ interpreter it returns after one dlsym():
 * no allocation, no output, no file. In a Python process it reads the
 * MEMPROF_* variables, settles where the trace goes, and registers an
 * audit hook, which works for static and shared interpreters and for
 * embedders alike. The first audit event after initialisation runs on
 * the main thread with the GIL held, before user code: there the Python
 * side (bootstrap.py, see pyside.c) installs builtins.profile.
 *
 * Exits: the destructor, an interposed _exit/_Exit (os._exit skips
 * destructors) and the interpreter's last audit event all write the end
 * record; pthread_atfork flushes before fork so a child never repeats its
 * parent's records, and gives the child a section of its own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap.h"
#include "pyapi.h"
#include "pyside.h"
#include "rss.h"
#include "sampler.h"
#include "trace.h"
#include "trace_hook.h"
#include "warn.h"
#include "writer.h"

#define EXPORT __attribute__((visibility("default")))

enum state { OFF, WAITING, RECORDING, DONE };

static struct {
    enum state state;
    int pid;                /* the process that set this up (vfork children differ) */
    int fd;
    bool own_fd;            /* opened here (not MEMPROF_FD) */
    bool root;              /* first agent of the run: creates the file */
    bool configured;        /* the MEMPROF_* settings were usable */
    bool fork_child;        /* forked, and not yet seen running Python */
    uint64_t interval_ns;   /* MEMPROF_INTERVAL; 0: no sampling */
    bool peak;              /* MEMPROF_PEAK */
    bool heap;              /* MEMPROF_HEAP (implies the peak) */
    bool quiet;             /* MEMPROF_QUIET=1: no note naming the trace at exit */
    bool aggregate_only;    /* MEMPROF_AGGREGATE=1: no events, the trace stays small */
    unsigned long long size_note;   /* MEMPROF_SIZE_NOTE: a larger trace's note says so */
    char path[PATH_MAX];
    PyMemAllocatorEx raw_at_load;
} agent;

/* Set on the thread whose end, without exit(), would leave the sampler as
 * the process's last thread: the one that installed the agent, and a fork
 * child's one thread. Its destructor ends the sampler first. */
static pthread_key_t program_thread;

static void program_thread_ends(void *unused)
{
    if (agent.state == RECORDING && (int)syscall(SYS_getpid) == agent.pid)
        sampler_stop();
}

/* userData of our audit hook, so its list entry can be recognised. */
static const char hook_tag[] = "memprof";

static int audit_hook(const char *event, PyObject *args, void *data);
static void note_os_fork(const char *event);
static void restart_sampler_if_safe(void);

/* ---- settings ---- */

/* MEMPROF_OUTPUT with %p replaced by the pid, made absolute. */
static bool resolve_output(const char *pattern)
{
    char expanded[PATH_MAX];
    size_t n = 0;
    for (const char *p = pattern; *p; p++) {
        if (n + 24 >= sizeof expanded)
            return warn("MEMPROF_OUTPUT is too long; memprof is off");
        if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(expanded + n, sizeof expanded - n, "%d", (int)getpid());
            p++;
        } else {
            expanded[n++] = *p;
        }
    }
    expanded[n] = 0;
    if (n == 0)
        return warn("MEMPROF_OUTPUT is empty; memprof is off");
    if (expanded[0] == '/') {
        memcpy(agent.path, expanded, n + 1);
        return true;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return warn_errno("cannot resolve MEMPROF_OUTPUT", errno);
    if ((size_t)snprintf(agent.path, sizeof agent.path, "%s/%s", cwd, expanded) >= sizeof agent.path)
        return warn("MEMPROF_OUTPUT is too long; memprof is off");
    return true;
}

static bool parse_fd(const char *s, int *fd)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return false;
    *fd = (int)v;
    return true;
}

/* A relative LD_PRELOAD entry stops working after chdir: children get our
 * absolute path instead. */
static void absolute_preload(void)
{
    const char *preload = getenv("LD_PRELOAD");
    Dl_info info;
    char self[PATH_MAX];
    if (!preload || !dladdr((void *)absolute_preload, &info) || !info.dli_fname
        || !realpath(info.dli_fname, self))
        return;
    char out[8192];
    size_t n = 0;
    const char *p = preload;
    while (*p) {
        size_t len = strcspn(p, ": ");
        char entry[PATH_MAX], real[PATH_MAX];
        if (len > 0 && len < sizeof entry) {
            memcpy(entry, p, len);
            entry[len] = 0;
            const char *use = entry;
            if (entry[0] != '/' && realpath(entry, real) && strcmp(real, self) == 0)
                use = self;
            size_t k = strlen(use);
            if (n + k + 2 >= sizeof out)
                return;
            if (n)
                out[n++] = ':';
            memcpy(out + n, use, k);
            n += k;
        }
        p += len;
        while (*p == ':' || *p == ' ')
            p++;
    }
    out[n] = 0;
    if (strcmp(out, preload) != 0)
        setenv("LD_PRELOAD", out, 1);
}

/* MEMPROF_SIZE_NOTE, bytes (for tests); 256 MiB otherwise. */
static void configure_size_note(void)
{
    const char *v = getenv("MEMPROF_SIZE_NOTE");
    char *end;
    agent.size_note = 256ull << 20;
    if (v && *v >= '0' && *v <= '9') {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!errno && !*end)
            agent.size_note = n;
    }
}

static bool configure_aggregate(void)
{
    const char *v = getenv("MEMPROF_AGGREGATE");
    if (!v || !*v || !strcmp(v, "0") || !strcmp(v, "off"))
        trace_set_aggregate(AGGREGATE_OFF);
    else if (!strcmp(v, "1") || !strcmp(v, "on")) {
        trace_set_aggregate(AGGREGATE_ONLY);
        agent.aggregate_only = true;
    }
    else if (!strcmp(v, "both"))
        trace_set_aggregate(AGGREGATE_BOTH);
    else
        return warn("MEMPROF_AGGREGATE must be 1, 0 or both; memprof is off");
    return true;
}

static bool configure(void)
{
    configure_size_note();
    if (!configure_aggregate())
        return false;
    const char *peak = getenv("MEMPROF_PEAK"), *heap = getenv("MEMPROF_HEAP");
    if (peak && *peak && strcmp(peak, "0") && strcmp(peak, "1"))
        return warn("MEMPROF_PEAK must be 1 or 0; memprof is off");
    if (heap && *heap && strcmp(heap, "0") && strcmp(heap, "1"))
        return warn("MEMPROF_HEAP must be 1 or 0; memprof is off");
    agent.heap = heap && !strcmp(heap, "1");
    agent.peak = agent.heap || (peak && !strcmp(peak, "1"));
    if (!sampler_parse_interval(getenv("MEMPROF_INTERVAL"), &agent.interval_ns))
        return warn("MEMPROF_INTERVAL must be a duration from 1ms to 60s (e.g. 10ms, 0.5s) or off; memprof is off");
    if (!rss_configure(getenv("MEMPROF_RSS")))
        return warn("MEMPROF_RSS must be auto, tracepoint, statm or check; memprof is off");
    /* The tracepoint's figures are compared with statm's this often. */
    rss_set_recheck(agent.interval_ns);
    const char *fd_env = getenv("MEMPROF_FD");
    if (fd_env && *fd_env) {
        if (!parse_fd(fd_env, &agent.fd) || fcntl(agent.fd, F_GETFD) < 0)
            return warn("MEMPROF_FD is not an open file descriptor; memprof is off");
        return true;
    }
    const char *out = getenv("MEMPROF_OUTPUT"), *quiet = getenv("MEMPROF_QUIET");
    agent.quiet = quiet && !strcmp(quiet, "1");
    agent.root = getenv("MEMPROF_SESSION") == NULL;
    if (!resolve_output(out && *out ? out : "memprof.%p.jsonl"))
        return false;
    if (agent.root) {
        /* The run's later processes append to the same file. */
        char pid[16];
        snprintf(pid, sizeof pid, "%d", agent.pid);
        setenv("MEMPROF_OUTPUT", agent.path, 1);
        setenv("MEMPROF_SESSION", pid, 1);
    }
    return true;
}

/* Whether fd is a trace this run's first process began: a regular file
 * whose first record is its header (or the first piece of it), naming
 * MEMPROF_SESSION's pid. */
static bool is_session_trace(int fd)
{
    struct stat st;
    const char *session = getenv("MEMPROF_SESSION");
    if (!session || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    char head[64], want[2][64];
    ssize_t n = pread(fd, head, sizeof head - 1, 0);
    if (n <= 0)
        return false;
    head[n] = 0;
    snprintf(want[0], sizeof want[0], "{\"k\":\"memprof\",\"version\":%d,\"pid\":%s,", TRACE_VERSION,
             session);
    snprintf(want[1], sizeof want[1], "{\"k\":\"part\",\"pid\":%s,", session);
    return strncmp(head, want[0], strlen(want[0])) == 0 || strncmp(head, want[1], strlen(want[1])) == 0;
}

static bool output_refused(const char *why)
{
    char what[PATH_MAX + 128];
    snprintf(what, sizeof what, "%s %s; memprof is off", agent.path, why);
    return warn(what);
}

static bool open_output(void)
{
    if (agent.path[0] == 0)
        return true;    /* MEMPROF_FD */
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    int fd;
    if (agent.root) {
        /* The first process of a run never overwrites an earlier trace. */
        fd = open(agent.path, flags | O_CREAT | O_EXCL, 0600);
    } else {
        /* A later process appends to its run's trace, and only to that: a
         * FIFO must not block it here (O_NONBLOCK), and another file is not
         * written to. Gone (removed meanwhile): it starts a trace anew. */
        fd = open(agent.path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
            fd = open(agent.path, flags | O_CREAT | O_EXCL, 0600);
        else if (fd >= 0 && !is_session_trace(fd)) {
            close(fd);
            return output_refused("is not this run's trace (MEMPROF_SESSION); memprof does not append to it");
        } else if (fd < 0 && (errno == ENXIO || errno == EISDIR)) {
            return output_refused("is not a regular file");
        } else if (fd >= 0) {
            fcntl(fd, F_SETFL, O_APPEND);
        }
    }
    agent.fd = fd_out_of_the_way(fd);
    if (agent.fd < 0) {
        char what[PATH_MAX + 64];
        snprintf(what, sizeof what, errno == EEXIST
                 ? "%s exists; memprof does not overwrite a trace (remove it, or put %%p in MEMPROF_OUTPUT); memprof is off"
                 : "cannot open %s; memprof is off", agent.path);
        return warn_errno(what, errno == EEXIST ? 0 : errno);
    }
    agent.own_fd = true;
    return true;
}

static void install(void)
{
    PyObject *type, *value, *tb;
    py.Err_Fetch(&type, &value, &tb);
    /* Without a trace, @profile is still installed and records nothing. */
    bool recording = agent.configured && open_output()
                     && trace_hook_init(agent.fd, agent.own_fd ? agent.path : NULL);
    if (recording && agent.peak && !trace_set_peak(true))
        warn("cannot follow the peak RSS (/proc/self/clear_refs); the Peak column stays empty");
    /* The header at once, so that even a process killed before it
     * profiles anything leaves a readable trace; then memory over time,
     * from now to the end, profiled code or not. */
    /* A file of our own is reopened by path when written: the process
     * keeps no descriptor of the agent's (rss.h, writer.h). */
    bool by_path = recording && agent.own_fd && trace_mapped();
    if (by_path) {
        close(agent.fd);
        agent.fd = -1;
    }
    if (recording && trace_start_section() && agent.interval_ns
        && sampler_start(agent.fd, by_path ? agent.path : NULL, agent.interval_ns))
        pthread_setspecific(program_thread, (void *)1);
    if (!pyside_install()) {
        if (py.Err_Occurred())
            py.Err_Clear();
        warn("cannot install @profile; memprof is off");
        recording = false;
    }
    if (!recording)
        trace_stop();
    agent.state = recording ? RECORDING : OFF;
    heap_enable(recording && agent.heap);   /* only while a trace is recorded */
    py.Err_Restore(type, value, tb);
}

/* ---- the debug-allocator trap ---- */

/*
 * Our audit hook's list entry is allocated by the raw allocator in force
 * when the constructor runs. Under -X dev or PYTHONMALLOC=debug the raw
 * allocator is switched before initialisation, and at finalisation the
 * debug allocator would free that entry and abort the process ("bad ID").
 * So at the last audit event, if the allocator changed, free() skips that
 * one block (a leak of 24 bytes at exit) and passes everything else on.
 */
static PyMemAllocatorEx raw_now;

static void *raw_malloc(void *ctx, size_t n) { return raw_now.malloc(raw_now.ctx, n); }
static void *raw_calloc(void *ctx, size_t k, size_t n) { return raw_now.calloc(raw_now.ctx, k, n); }
static void *raw_realloc(void *ctx, void *p, size_t n) { return raw_now.realloc(raw_now.ctx, p, n); }
static void raw_free(void *ctx, void *p)
{
    void **entry = p;   /* { next, hook function, user data } */
    if (p && entry[1] == (void *)audit_hook && entry[2] == (void *)hook_tag)
        return;
    raw_now.free(raw_now.ctx, p);
}

static void guard_hook_entry(void)
{
    py.Mem_GetAllocator(PYMEM_DOMAIN_RAW, &raw_now);
    if (raw_now.malloc == agent.raw_at_load.malloc && raw_now.free == agent.raw_at_load.free)
        return;
    PyMemAllocatorEx guard = { NULL, raw_malloc, raw_calloc, raw_realloc, raw_free };
    py.Mem_SetAllocator(PYMEM_DOMAIN_RAW, &guard);
}

/* ---- hooks ---- */

static void finish(void)
{
    if (agent.state != RECORDING || (int)syscall(SYS_getpid) != agent.pid)
        return;     /* off, done, or a vfork child sharing our memory */
    agent.state = DONE;
    sampler_finish();
    trace_end();
}

static int audit_hook(const char *event, PyObject *args, void *data)
{
    if (agent.fork_child) {
        /* A fork child running Python (not one that went straight to
         * exec): its own section starts now, sampled like its parent. */
        agent.fork_child = false;
        if (agent.state == RECORDING && trace_start_section())
            sampler_resume();
    }
    if (agent.state == WAITING) {
        if (py.IsInitialized()) {
            agent.state = OFF;      /* installing raises audit events itself */
            install();
        }
        return 0;
    }
    if (agent.state == RECORDING) {
        trace_hook_audit_event();
        if (event[0] == 'o')
            note_os_fork(event);
        /* The new image writes a region of its own: no padding of ours is
         * left before it. */
        if (event[0] == 'o' && strcmp(event, "os.exec") == 0)
            trace_release();
        restart_sampler_if_safe();
    }
    if (event[0] == 'i' && strcmp(event, "import") == 0 && agent.state != DONE) {
        PyObject *type, *value, *tb;
        py.Err_Fetch(&type, &value, &tb);
        pyside_import_event(args);
        py.Err_Restore(type, value, tb);
    }
    if (event[0] == 'e' && strcmp(event, "exec") == 0 && agent.state != DONE) {
        PyObject *type, *value, *tb;
        py.Err_Fetch(&type, &value, &tb);
        pyside_exec_event(args);
        py.Err_Restore(type, value, tb);
    }
    if (event[0] == 'c' && strcmp(event, "cpython._PySys_ClearAuditHooks") == 0) {
        finish();
        guard_hook_entry();
    }
    return 0;
}

/*
 * The sampler's thread around fork. It is ended before every fork, so the
 * child starts with the program's one thread only. In the parent it starts
 * again at once, except after os.fork()/os.forkpty() on 3.12+: CPython
 * counts the process's threads after the fork (3.12 before the
 * register_at_fork() hooks, 3.13 after them) and warns if there is more
 * than one. There it starts again only once the forking thread is back in
 * the frame that called os.fork(), which is after the count: from a pending
 * call (run by the main thread at its next check) or the next audit event.
 */
static struct {
    bool warns;                 /* the fork under way is os.fork() on 3.12+ */
    bool waiting;               /* the parent's sampler waits to start again */
    PyThreadState *tstate;      /* the forking thread */
    PyFrameObject *frame;       /* the frame that called os.fork() (compared, never used) */
    int lasti;                  /* its instruction then: the call */
} forking;

/* Whether the forking thread is past os.fork(): it has ended, or the
 * frame that called os.fork() has returned, is running again (CPython
 * counts before the call returns), or has moved on from the call (a frame
 * above it is then one the caller called later, not a register_at_fork()
 * hook, which runs while the caller is still at the call). */
static bool fork_is_behind_us(void)
{
    if (!py.InterpreterState_Get || !py.ThreadState_GetFrame || !py.Frame_GetBack
        || !py.Frame_GetLasti)
        return true;
    PyThreadState *t = py.InterpreterState_ThreadHead(py.InterpreterState_Get());
    while (t && t != forking.tstate)
        t = py.ThreadState_Next(t);
    if (!t)
        return true;        /* the forking thread has ended */
    PyFrameObject *f = py.ThreadState_GetFrame(t);
    if (f == forking.frame) {
        py.DecRef((PyObject *)f);
        return true;
    }
    /* Is the caller still on the thread's stack, below the running frame? */
    while (f && f != forking.frame) {
        PyFrameObject *back = py.Frame_GetBack(f);
        py.DecRef((PyObject *)f);
        f = back;
    }
    if (!f)
        return true;        /* it has returned */
    bool moved_on = py.Frame_GetLasti(f) != forking.lasti;
    py.DecRef((PyObject *)f);
    return moved_on;
}

static void restart_sampler_if_safe(void)
{
    if (forking.waiting && fork_is_behind_us()) {
        forking.waiting = false;
        sampler_unpause();
    }
}

static int restart_sampler_later(void *unused)
{
    restart_sampler_if_safe();
    /* Not yet (a register_at_fork() hook is running): try again at the
     * next check; if the queue is full, the next audit event does it. */
    if (forking.waiting)
        py.AddPendingCall(restart_sampler_later, NULL);
    return 0;
}

static void note_os_fork(const char *event)
{
    if (py.minor >= 12 && agent.state == RECORDING && agent.interval_ns
        && (strcmp(event, "os.fork") == 0 || strcmp(event, "os.forkpty") == 0)) {
        forking.warns = true;
        forking.tstate = py.ThreadState_Get();
        forking.frame = py.Eval_GetFrame();
        forking.lasti = forking.frame && py.Frame_GetLasti ? py.Frame_GetLasti(forking.frame) : -1;
    }
}

static void before_fork(void)
{
    if (agent.state == RECORDING) {
        sampler_pause(forking.warns);
        trace_before_fork();
    }
}

static void after_fork_parent(void)
{
    bool warns = forking.warns;
    forking.warns = false;
    if (agent.state != RECORDING || !sampler_paused())
        return;
    if (!warns) {
        sampler_unpause();
        return;
    }
    forking.waiting = true;
    py.AddPendingCall(restart_sampler_later, NULL);
}

static void after_fork_child(void)
{
    agent.pid = (int)syscall(SYS_getpid);
    agent.root = false;
    forking.warns = forking.waiting = false;
    if (agent.state == RECORDING) {
        sampler_after_fork_child();
        trace_after_fork_child();
        agent.fork_child = true;
        /* This thread is the child's only one: when it ends, so must the
         * sampler (a thread forked from a thread other than the main one
         * ends with pthread_exit(), and the process with its last thread). */
        pthread_setspecific(program_thread, (void *)1);
    }
}

/* Embedders: Py_Initialize raises audit events too, but install here as
 * well in case none came after the interpreter was ready. */
static void embedder_initialised(void)
{
    if (agent.state == WAITING && py.IsInitialized()) {
        agent.state = OFF;
        install();
    }
}

/*
 * The Python package's way in (python/memprof/_agent.py): a library loaded
 * with dlopen into a running interpreter has run its constructor, but no
 * audit event may come before the program profiles something, so the
 * package installs the agent now. Called through ctypes.PyDLL (the GIL
 * held). Returns the Python side's namespace (a new reference), or None if
 * the agent could not install it (a warning said why).
 */
EXPORT PyObject *memprof_attach(void)
{
    if (agent.state == WAITING && py.IsInitialized()) {
        agent.state = OFF;
        install();
    }
    return pyside_namespace();
}

EXPORT void Py_Initialize(void)
{
    void (*real)(void) = (void (*)(void))dlsym(RTLD_NEXT, "Py_Initialize");
    if (real)
        real();
    embedder_initialised();
}

EXPORT void Py_InitializeEx(int install_sigs)
{
    void (*real)(int) = (void (*)(int))dlsym(RTLD_NEXT, "Py_InitializeEx");
    if (real)
        real(install_sigs);
    embedder_initialised();
}

/* os._exit and multiprocessing's children leave through here, past every
 * destructor. The system call is made directly, as libc's _exit does. */
EXPORT void _exit(int status)
{
    finish();
    for (;;)
        syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status)
{
    _exit(status);
}

__attribute__((constructor)) static void agent_load(void)
{
    bool too_old;
    /* Set-user-ID and similar programs: never act on the environment. */
    if (getauxval(AT_SECURE))
        return;
    if (!pyapi_find(&too_old)) {
        if (too_old && getenv("MEMPROF_SESSION") == NULL)
            warn("this Python is older than 3.8 (no audit hooks); memprof needs 3.8 to 3.13");
        return;
    }
    agent.pid = (int)syscall(SYS_getpid);
    agent.fd = -1;
    /* Even with bad settings @profile must exist (as a no-op), or the
     * program would fail with a NameError. */
    agent.configured = configure();
    /* Loaded into a running interpreter (`import memprof`): the allocator
     * was bound before us, so there is no heap to account. */
    if (agent.heap && py.IsInitialized()) {
        warn("heap accounting (MEMPROF_HEAP=1) needs the agent from the start of the process "
             "(the memprof launcher or LD_PRELOAD); recording without it");
        agent.heap = false;
    }
    absolute_preload();
    py.Mem_GetAllocator(PYMEM_DOMAIN_RAW, &agent.raw_at_load);
    if (pthread_key_create(&program_thread, program_thread_ends) != 0
        || pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0)
        return;
    agent.state = WAITING;
    if (py.AddAuditHook(audit_hook, (void *)hook_tag) != 0)
        agent.state = OFF;
    /* Heap accounting from here, so that the interpreter's start counts too;
     * until then the allocation hooks only forward (interpose_alloc.c). */
    if (agent.state == WAITING && agent.configured && agent.heap)
        heap_enable(true);
}

__attribute__((destructor)) static void agent_unload(void)
{
    finish();
    /* Leave no file behind a run that recorded nothing but its header (no
     * profiled code, no sampling, no child appended to it). */
    struct stat st;
    if (agent.own_fd && agent.root && agent.pid == (int)syscall(SYS_getpid)
        && !agent.interval_ns && !trace_defined_anything()
        && (agent.fd >= 0 ? fstat(agent.fd, &st) : stat(agent.path, &st)) == 0
        && (uint64_t)st.st_size <= trace_bytes_written())
        unlink(agent.path);
    /* The bare LD_PRELOAD form says once, from the run's first process,
     * where the trace is: after the program's own output, and only to a
     * terminal, so that a program's captured stderr stays its own. */
    else if (agent.own_fd && agent.root && !agent.quiet && agent.pid == (int)syscall(SYS_getpid)
             && isatty(STDERR_FILENO)) {
        char note[PATH_MAX + 128];
        struct stat now;
        bool big = !agent.aggregate_only && stat(agent.path, &now) == 0
                   && (unsigned long long)now.st_size > agent.size_note;
        int n = big ? snprintf(note, sizeof note, "memprof: trace written to %s (%lld MiB: "
                               "MEMPROF_AGGREGATE=1 keeps long runs small)\n", agent.path,
                               (long long)(now.st_size >> 20))
                    : snprintf(note, sizeof note, "memprof: trace written to %s\n", agent.path);
        if (n > 0 && (size_t)n < sizeof note && write(STDERR_FILENO, note, (size_t)n) < 0)
            return;
    }
}
