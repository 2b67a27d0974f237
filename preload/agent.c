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
    char path[PATH_MAX];
    PyMemAllocatorEx raw_at_load;
} agent;

/* userData of our audit hook, so its list entry can be recognised. */
static const char hook_tag[] = "memprof";

static int audit_hook(const char *event, PyObject *args, void *data);

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

static bool configure_aggregate(void)
{
    const char *v = getenv("MEMPROF_AGGREGATE");
    if (!v || !*v || !strcmp(v, "0") || !strcmp(v, "off"))
        trace_set_aggregate(AGGREGATE_OFF);
    else if (!strcmp(v, "1") || !strcmp(v, "on"))
        trace_set_aggregate(AGGREGATE_ONLY);
    else if (!strcmp(v, "both"))
        trace_set_aggregate(AGGREGATE_BOTH);
    else
        return warn("MEMPROF_AGGREGATE must be 1, 0 or both; memprof is off");
    return true;
}

static bool configure(void)
{
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
    const char *fd_env = getenv("MEMPROF_FD");
    if (fd_env && *fd_env) {
        if (!parse_fd(fd_env, &agent.fd) || fcntl(agent.fd, F_GETFD) < 0)
            return warn("MEMPROF_FD is not an open file descriptor; memprof is off");
        return true;
    }
    const char *out = getenv("MEMPROF_OUTPUT");
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

static bool open_output(void)
{
    if (agent.path[0] == 0)
        return true;    /* MEMPROF_FD */
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
    /* The first process of a run never overwrites an earlier trace. */
    if (agent.root)
        flags |= O_EXCL;
    agent.fd = fd_out_of_the_way(open(agent.path, flags, 0600));
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
    if (recording && trace_start_section() && agent.interval_ns)
        sampler_start(agent.fd, agent.interval_ns);
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
    if (agent.state == RECORDING)
        trace_hook_audit_event();
    if (event[0] == 'i' && strcmp(event, "import") == 0 && agent.state != DONE) {
        PyObject *type, *value, *tb;
        py.Err_Fetch(&type, &value, &tb);
        pyside_import_event(args);
        py.Err_Restore(type, value, tb);
    }
    if (event[0] == 'c' && strcmp(event, "cpython._PySys_ClearAuditHooks") == 0) {
        finish();
        guard_hook_entry();
    }
    return 0;
}

static void before_fork(void)
{
    if (agent.state == RECORDING) {
        sampler_before_fork();
        trace_before_fork();
    }
}

static void after_fork_parent(void)
{
    if (agent.state == RECORDING)
        sampler_after_fork_parent();
}

static void after_fork_child(void)
{
    agent.pid = (int)syscall(SYS_getpid);
    agent.root = false;
    if (agent.state == RECORDING) {
        sampler_after_fork_child();
        trace_after_fork_child();
        agent.fork_child = true;
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
    if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0)
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
        && fstat(agent.fd, &st) == 0 && (uint64_t)st.st_size <= trace_bytes_written())
        unlink(agent.path);
}
