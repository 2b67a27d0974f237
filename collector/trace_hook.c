/*
 * trace_hook: where the interpreter's events become trace records.
 *
 * Two sources, chosen by version:
 *  - up to 3.11, a C trace function (PyEval_SetTrace) that the @profile
 *    wrapper turns on when a thread enters its outermost profiled call and
 *    off when it leaves, so undecorated code runs untraced;
 *  - from 3.12, sys.monitoring callbacks on the profiled code objects only
 *    (bootstrap.py subscribes them), mapped onto the same call/line/return
 *    events that sys.settrace would give, backward jumps included.
 * Also the functions the bootstrap calls (register, enter, leave, warn).
 * Everything here runs with the GIL held.
 */
#include "trace_hook.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pyapi.h"
#include "trace.h"
#include "warn.h"

/* Per thread: how many enter() calls are open, and whether the outermost
 * one installed our trace function (it does not replace another's). */
static __thread int tls_depth __attribute__((tls_model("initial-exec")));
static __thread bool tls_tracing __attribute__((tls_model("initial-exec")));

static PyObject *monitoring_disable;    /* sys.monitoring.DISABLE */

/* ---- up to 3.11: the C trace function ---- */

static int legacy_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    enum trace_kind kind;
    switch (what) {
    case PyTrace_LINE: kind = TRACE_LINE; break;
    case PyTrace_CALL: kind = TRACE_CALL; break;
    case PyTrace_RETURN: kind = TRACE_RETURN; break;
    default: return 0;
    }
    uint32_t id = trace_code_lookup(pyapi_frame_code(frame));
    if (!id)
        return 0;
    /* Code without line numbers (an emptied co_linetable) gives -1 on 3.10
     * and any negative number on 3.11: 0, a line no table has, so that
     * such events fill no row, as under memory_profiler. */
    int line = py.Frame_GetLineNumber(frame);
    trace_event(kind, id, line < 0 ? 0 : line);
    return 0;
}

/* Whether a trace function other than ours is set (a debugger, coverage).
 * sys.gettrace is looked up once (PySys_GetObject makes and hashes a new
 * string at every call: 600 instructions, twice per profiled call); it is
 * used only while recording, which ends before the interpreter does. */
static bool foreign_tracer(void)
{
    static PyObject *gettrace;
    if (!gettrace) {
        gettrace = py.Sys_GetObject("gettrace");
        if (!gettrace)
            return false;
        py.IncRef(gettrace);
    }
    PyObject *current = py.Object_CallObject(gettrace, NULL);
    if (!current) {
        py.Err_Clear();
        return false;
    }
    bool foreign = current != py.None;
    py.DecRef(current);
    return foreign;
}

/*
 * Installing a trace or profile function, up to 3.11.
 *
 * On 3.10 and 3.11, _PyEval_SetTrace and _PyEval_SetProfile keep a
 * process-wide "being installed" flag (a static, not per thread) set across
 * the "sys.settrace"/"sys.setprofile" audit event and the release of the
 * previous function's object (CPython gh-98257; gone in 3.12). A Python
 * audit hook (regrtest adds one for every test) runs bytecode there, so the
 * GIL can pass to another thread; if that one installs a function of the
 * same kind meanwhile, it fails with "Cannot install a trace function while
 * another trace function is being installed" (and, failing, clears the
 * flag). PyEval_SetTrace prints that on the program's stderr; sys.setprofile
 * raises it, which in a new thread told by threading.setprofile() to
 * install ours escapes Thread._bootstrap_inner before run(): "Exception
 * ignored in thread started by ...", and the thread's target never runs.
 *
 * So there the agent writes the fields those functions write (the
 * function, with no object; the running frame's use_tracing flag) itself:
 * no audit event, no flag, no moment where another thread can run, and
 * new threads get the profile function from the thread that starts them
 * (see new_thread()).
 * The offsets are these versions' on 64-bit builds, used only once the
 * interpreter's own function has been seen writing exactly there
 * (check_layout()); otherwise the underscore functions, which return the
 * error instead of printing it, are called again after letting the other
 * thread finish (the GIL released for a moment). Any other error (an audit
 * hook that refuses) is cleared silently and the call is not traced.
 */
typedef int (*set_func_t)(PyThreadState *, Py_tracefunc, PyObject *);

static set_func_t quiet_set_trace, quiet_set_profile;

struct tstate_layout {
    int minor;
    size_t profilefunc, tracefunc, profileobj, traceobj, tracing, cframe;
};
static const struct tstate_layout layouts[] = {
    { 10, 56, 64, 72, 80, 44, 48 },     /* cframe->use_tracing: int, 0 or 1 */
    { 11, 64, 72, 80, 88, 44, 56 },     /* uint8_t, 0 or 255 */
};
static const struct tstate_layout *layout;     /* this version's, if any */
/* Seen to match what the interpreter writes, for each kind. */
static bool direct_ok[2];
enum { KIND_TRACE, KIND_PROFILE };

#define FIELD(ts, off, type) (*(type *)((char *)(ts) + (off)))

static size_t func_at(int kind)
{
    return kind == KIND_TRACE ? layout->tracefunc : layout->profilefunc;
}

static size_t obj_at(int kind)
{
    return kind == KIND_TRACE ? layout->traceobj : layout->profileobj;
}

/* The use_tracing value the interpreter would store for ts now. */
static int use_tracing_for(PyThreadState *ts)
{
    bool on = FIELD(ts, layout->tracefunc, void *) || FIELD(ts, layout->profilefunc, void *);
    if (layout->minor == 10)
        return on;
    return on && FIELD(ts, layout->tracing, int) == 0 ? 255 : 0;
}

static int use_tracing_now(PyThreadState *ts)
{
    void *cframe = FIELD(ts, layout->cframe, void *);
    return layout->minor == 10 ? *(int *)cframe : *(uint8_t *)cframe;
}

/* After the interpreter's function installed func (no object) on ts: do
 * the fields say so where the table says? */
static void check_layout(PyThreadState *ts, int kind, Py_tracefunc func)
{
    if (!layout || direct_ok[kind])
        return;
    int tracing = FIELD(ts, layout->tracing, int);
    direct_ok[kind] = FIELD(ts, func_at(kind), Py_tracefunc) == func
        && FIELD(ts, obj_at(kind), PyObject *) == NULL && FIELD(ts, layout->cframe, void *)
        && tracing >= 0 && tracing < 1000 && use_tracing_now(ts) == use_tracing_for(ts);
}

/* Sets ts's function of that kind, with no object; false if the present
 * one has an object (someone else's, which the interpreter must release). */
static bool write_func(PyThreadState *ts, int kind, Py_tracefunc func)
{
    void *cframe = FIELD(ts, layout->cframe, void *);
    if (FIELD(ts, obj_at(kind), PyObject *) || !cframe)
        return false;
    FIELD(ts, func_at(kind), Py_tracefunc) = func;
    int on = use_tracing_for(ts);
    if (layout->minor == 10)
        *(int *)cframe = on;
    else
        *(uint8_t *)cframe = (uint8_t)on;
    return true;
}

static void look_up(void)
{
    static bool looked_up;
    if (looked_up)
        return;
    looked_up = true;
    quiet_set_trace = (set_func_t)pyapi_optional("_PyEval_SetTrace", "_PyEval_SetTrace");
    quiet_set_profile = (set_func_t)pyapi_optional("_PyEval_SetProfile", "_PyEval_SetProfile");
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
        if (layouts[i].minor == py.minor && py.major == 3 && sizeof(void *) == 8)
            layout = &layouts[i];
}

static int probe_func(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    return 0;
}

/* At start-up, while the interpreter has one thread and the program has
 * run nothing (no audit hook of its own, no thread to race): the
 * interpreter's own functions install a probe of each kind and take it
 * away again, so that check_layout() has seen the fields before the first
 * profiled call. Otherwise that first install would still go through the
 * racy functions, in whatever thread first calls a profiled function. A
 * thread that has a function of either kind already keeps it: no probe. */
static void probe_layout(void)
{
    look_up();
    if (!layout || !quiet_set_trace || !quiet_set_profile || !py.InterpreterState_Get)
        return;
    PyThreadState *ts = py.ThreadState_Get();
    if (!ts || py.InterpreterState_ThreadHead(py.InterpreterState_Get()) != ts
        || py.ThreadState_Next(ts))
        return;
    if (FIELD(ts, layout->tracefunc, void *) || FIELD(ts, layout->profilefunc, void *)
        || FIELD(ts, layout->traceobj, void *) || FIELD(ts, layout->profileobj, void *))
        return;
    for (int kind = KIND_TRACE; kind <= KIND_PROFILE; kind++) {
        set_func_t quiet = kind == KIND_TRACE ? quiet_set_trace : quiet_set_profile;
        if (quiet(ts, probe_func, NULL) != 0) {
            py.Err_Clear();
            continue;
        }
        check_layout(ts, kind, probe_func);
        if (quiet(ts, NULL, NULL) != 0) {
            py.Err_Clear();
            direct_ok[kind] = false;
        }
        if (FIELD(ts, func_at(kind), void *))
            direct_ok[kind] = false;
    }
}

static bool install(int kind, Py_tracefunc func)
{
    look_up();
    PyThreadState *ts = py.ThreadState_Get();
    if (direct_ok[kind] && write_func(ts, kind, func))
        return true;
    set_func_t quiet = kind == KIND_TRACE ? quiet_set_trace : quiet_set_profile;
    if (!quiet) {
        (kind == KIND_TRACE ? py.SetTrace : py.SetProfile)(func, NULL);
        return true;
    }
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (quiet(ts, func, NULL) == 0) {
            check_layout(ts, kind, func);
            return true;
        }
        bool busy = py.Err_ExceptionMatches(*py.Exc_RuntimeError);
        py.Err_Clear();
        if (!busy)
            break;
        ts = py.Eval_SaveThread();
        sched_yield();
        py.Eval_RestoreThread(ts);
    }
    return false;
}

static bool set_trace(Py_tracefunc func)
{
    return install(KIND_TRACE, func);
}

static bool set_profile(Py_tracefunc func)
{
    return install(KIND_PROFILE, func);
}

/* _thread.start_new_thread and its alias start_new, whose return in a
 * profiled thread means a new thread state, not yet run. */
static PyObject *start_new_thread[2];
static int selection_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

/* A thread was just started by this one: up to 3.11 its thread state is
 * made by the starting thread (at the head of the interpreter's list) and
 * the new thread cannot run before this one lets go of the GIL. It gets
 * the profile function now, so none of its calls goes unjudged. */
static void new_thread(void)
{
    PyThreadState *self = py.ThreadState_Get();
    PyThreadState *ts = py.InterpreterState_Get
        ? py.InterpreterState_ThreadHead(py.InterpreterState_Get()) : NULL;
    if (!ts || ts == self || FIELD(ts, layout->profilefunc, void *) || FIELD(ts, layout->tracefunc, void *)
        || FIELD(ts, layout->tracing, int) != 0)
        return;
    write_func(ts, KIND_PROFILE, selection_profile);
}

static void enter(void)
{
    if (tls_depth++ == 0 && trace_recording() && !foreign_tracer())
        tls_tracing = set_trace(legacy_trace);
}

static void leave(void)
{
    if (tls_depth > 0 && --tls_depth == 0 && tls_tracing) {
        tls_tracing = false;
        /* Someone may have set a trace function of their own meanwhile. */
        if (!foreign_tracer())
            set_trace(NULL);
    }
}

static PyObject *hook_enter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    enter();
    return pyapi_none();
}

static PyObject *hook_leave(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    leave();
    return pyapi_none();
}

/* call(func, args, kwargs): func(*args, **kwargs) with the trace function
 * on, for the @profile wrapper up to 3.11. In C, so that the wrapper's own
 * frame runs untraced: its lines and its return cost CPython a trace
 * dispatch each (about 700 instructions) and were thrown away. */
static PyObject *hook_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return pyapi_none();    /* only the wrapper calls it, always with three */
    enter();
    PyObject *result = py.Object_Call(args[0], args[1], args[2] == py.None ? NULL : args[2]);
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    if (!result)
        py.Err_Fetch(&type, &value, &tb);
    leave();
    if (!result)
        py.Err_Restore(type, value, tb);
    return result;
}

/* ---- 3.12+: sys.monitoring callbacks ---- */

/* The line of an instruction offset. Some instructions have none (those
 * that clean up after a throw() into a generator); then the frame's line,
 * which is what sys.settrace would report. */
static int offset_line(PyObject *code, PyObject *offset)
{
    int line = py.Code_Addr2Line((PyCodeObject *)code, (int)py.Long_AsLong(offset));
    if (line < 0) {
        PyFrameObject *frame = py.Eval_GetFrame();
        line = frame && pyapi_frame_code(frame) == code ? py.Frame_GetLineNumber(frame) : 0;
    }
    return line < 0 ? 0 : line;
}

/*
 * The same for an offset of profiled code (id), remembered: a loop's
 * backward jump asks for the same two offsets at every iteration, and
 * PyCode_Addr2Line reads the line table from its start each time (about
 * 650 instructions for a short function, 3.13). One word per entry, id,
 * offset and line packed, so that a free-threaded interpreter's threads
 * cannot see half of another's entry. Ids are never reused; lines that
 * come from the frame (offsets without a line) are not remembered.
 */
#define LINE_CACHE 256
static uint64_t line_cache[LINE_CACHE];

static int cached_offset_line(uint32_t id, PyObject *code, PyObject *offset)
{
    long off = py.Long_AsLong(offset);
    if (id >= 1u << 20 || off < 0 || off >= 1L << 22) {
        if (off == -1)
            py.Err_Clear();
        return offset_line(code, offset);
    }
    uint64_t key = (uint64_t)id << 44 | (uint64_t)off << 22;
    uint32_t slot = ((id * 2654435761u) ^ (uint32_t)off) & (LINE_CACHE - 1);
    uint64_t e = __atomic_load_n(&line_cache[slot], __ATOMIC_RELAXED);
    if (e && (e & ~((1ull << 22) - 1)) == key)
        return (int)(e & ((1ull << 22) - 1));
    int line = py.Code_Addr2Line((PyCodeObject *)code, (int)off);
    if (line < 0)
        return offset_line(code, offset);
    if (line < 1 << 22)
        __atomic_store_n(&line_cache[slot], key | (uint64_t)line, __ATOMIC_RELAXED);
    return line;
}

static uint32_t select_code(PyObject *code);
static PyObject *selector;

/* PY_START, PY_RESUME, PY_THROW: (code, offset[, exception]). With a
 * selection, PY_START is subscribed for all code: a code object that is not
 * selected is judged once and its PY_START turned off (DISABLE). */
static PyObject *hook_on_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t id = nargs >= 2 ? trace_code_lookup(args[0]) : 0;
    if (!id && selector && nargs == 2) {
        id = select_code(args[0]);
        if (!id) {
            py.IncRef(monitoring_disable ? monitoring_disable : py.None);
            return monitoring_disable ? monitoring_disable : py.None;
        }
        /* Newly selected: its local events are on from the next
         * instruction; this start is reported here. */
    }
    if (id)
        trace_event(TRACE_CALL, id, cached_offset_line(id, args[0], args[1]));
    return pyapi_none();
}

/* PY_RETURN, PY_YIELD, PY_UNWIND: (code, offset, value) */
static PyObject *hook_on_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t id = nargs >= 2 ? trace_code_lookup(args[0]) : 0;
    if (id)
        trace_event(TRACE_RETURN, id, cached_offset_line(id, args[0], args[1]));
    return pyapi_none();
}

/* LINE: (code, line) */
static PyObject *hook_on_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t id = nargs >= 2 ? trace_code_lookup(args[0]) : 0;
    if (id)
        trace_event(TRACE_LINE, id, (int)py.Long_AsLong(args[1]));
    return pyapi_none();
}

/* JUMP: (code, from, to). sys.settrace reports a line event for a
 * backward jump that stays on one line (a one-line loop, an inlined
 * comprehension); LINE does not fire there, so do it here. */
static PyObject *hook_on_jump(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3)
        return pyapi_none();
    long from = py.Long_AsLong(args[1]), to = py.Long_AsLong(args[2]);
    if (to > from) {
        if (monitoring_disable) {
            py.IncRef(monitoring_disable);
            return monitoring_disable;
        }
        return pyapi_none();
    }
    uint32_t id = trace_code_lookup(args[0]);
    if (id) {
        int to_line = cached_offset_line(id, args[0], args[2]);
        if (to_line >= 0 && to_line == cached_offset_line(id, args[0], args[1]))
            trace_event(TRACE_LINE, id, to_line);
    }
    return pyapi_none();
}

static PyObject *hook_set_disable(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 1) {
        py.IncRef(args[0]);
        monitoring_disable = args[0];
    }
    return pyapi_none();
}

/* ---- selection without decorators (MEMPROF_FUNCTIONS, MEMPROF_FILES) ---- */

/*
 * Each code object is judged once, when it first starts: the bootstrap's
 * selector (Python) matches its file and name against the settings and
 * registers it if it is selected. The verdict is kept in the code object's
 * co_extra slot, so it dies with the code object (an address-keyed cache
 * would go stale when a code object is freed and its memory reused).
 */
/* selector: the bootstrap's select(code, module), declared above. */
static Py_ssize_t extra_index = -1;
#define VERDICT_NO ((void *)1)
#define VERDICT_YES ((void *)2)

static int (*code_get_extra)(PyObject *, Py_ssize_t, void **);
static int (*code_set_extra)(PyObject *, Py_ssize_t, void *);

/* Whether code (now starting, in the current frame) is selected; registers
 * it if so. Returns its id or 0. */
static uint32_t select_code(PyObject *code)
{
    void *verdict = NULL;
    if (!selector || extra_index < 0)
        return 0;
    if (code_get_extra(code, extra_index, &verdict) == 0 && verdict == VERDICT_NO)
        return 0;
    uint32_t id = trace_code_lookup(code);
    if (id || verdict == VERDICT_YES)
        return id;
    /* Each code object comes here once: Thread.start's first run is the
     * moment to hand threading our profile function, before the thread. */
    trace_hook_audit_event();
    PyObject *globals = py.Eval_GetGlobals();
    PyObject *module = globals ? py.Dict_GetItemString(globals, "__name__") : NULL;
    PyObject *args = py.Tuple_Pack(2, code, module ? module : py.None);
    PyObject *res = args ? py.Object_CallObject(selector, args) : NULL;
    if (args)
        py.DecRef(args);
    if (res)
        py.DecRef(res);
    else
        py.Err_Clear();
    id = trace_code_lookup(code);
    code_set_extra(code, extra_index, id ? VERDICT_YES : VERDICT_NO);
    if (py.Err_Occurred())
        py.Err_Clear();
    return id;
}

static int selection_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_CALL && what != PyTrace_RETURN) {
        if (what == PyTrace_C_RETURN && arg && (arg == start_new_thread[0] || arg == start_new_thread[1]))
            new_thread();
        return 0;
    }
    PyObject *code = pyapi_frame_code(frame);
    uint32_t id = trace_code_lookup(code);
    bool just_selected = false;
    if (!id && what == PyTrace_CALL) {
        id = select_code(code);
        just_selected = id != 0;
    }
    if (!id || trace_code_top(id) != id) {
        /* Nested code selected with its parent: the trace function saw its
         * call before it was known. */
        if (just_selected && tls_tracing)
            trace_event(TRACE_CALL, id, py.Frame_GetLineNumber(frame));
        return 0;
    }
    /* A selected function starts or ends: the same turning on and off of
     * the trace function as the @profile wrapper does. The trace function
     * (called before this one) missed the call if it was off or if the
     * code was not known yet. */
    if (what == PyTrace_CALL) {
        bool missed = just_selected && tls_tracing;
        if (tls_depth++ == 0 && trace_recording() && !foreign_tracer() && set_trace(legacy_trace)) {
            tls_tracing = true;
            missed = true;
        }
        if (missed)
            trace_event(TRACE_CALL, id, py.Frame_GetLineNumber(frame));
    } else if (tls_depth > 0 && --tls_depth == 0 && tls_tracing) {
        tls_tracing = false;
        if (!foreign_tracer())
            set_trace(NULL);
    }
    return 0;
}

/* select_setup(selector): judge every code object that starts from now on.
 * Up to 3.11 through a C profile function on this thread (and on new
 * threads, see thread_start); from 3.12 sys.monitoring's PY_START, which
 * the bootstrap subscribes globally and on_call handles. */
static PyObject *hook_select_setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1)
        return pyapi_none();
    code_get_extra = (int (*)(PyObject *, Py_ssize_t, void **))pyapi_optional("_PyCode_GetExtra", "PyUnstable_Code_GetExtra");
    code_set_extra = (int (*)(PyObject *, Py_ssize_t, void *))pyapi_optional("_PyCode_SetExtra", "PyUnstable_Code_SetExtra");
    Py_ssize_t (*request)(freefunc) = (Py_ssize_t (*)(freefunc))pyapi_optional(
        "_PyEval_RequestCodeExtraIndex", "PyUnstable_Eval_RequestCodeExtraIndex");
    if (!code_get_extra || !code_set_extra || !request || (extra_index = request(NULL)) < 0) {
        warn("cannot keep per-code verdicts (co_extra); MEMPROF_FUNCTIONS and MEMPROF_FILES are ignored");
        return pyapi_none();
    }
    py.IncRef(args[0]);
    selector = args[0];
    if (py.minor < 12 && set_profile(selection_profile) && direct_ok[KIND_PROFILE]) {
        /* Always there (the import system's bootstrap imports it): no
         * import happens here. */
        PyObject *modules = py.Sys_GetObject("modules");
        PyObject *thread = modules ? py.Dict_GetItemString(modules, "_thread") : NULL;
        static const char *const names[] = { "start_new_thread", "start_new" };
        for (int i = 0; thread && i < 2; i++)
            start_new_thread[i] = py.Object_GetAttrString(thread, names[i]);
        if (py.Err_Occurred())
            py.Err_Clear();
    }
    return pyapi_none();
}

/* Given to threading.setprofile: the first profile event of a new thread
 * replaces it with the C profile function, then is handled as its own. */
static PyObject *hook_thread_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    set_profile(selection_profile);
    if (nargs == 3) {
        const char *event = py.Unicode_AsUTF8AndSize(args[1], NULL);
        if (event && !strcmp(event, "call"))
            selection_profile(NULL, (PyFrameObject *)args[0], PyTrace_CALL, NULL);
        else if (!event)
            py.Err_Clear();
    }
    return pyapi_none();
}

/* New threads and selection, up to 3.11: threading.setprofile(thread_start)
 * as soon as the program has imported threading (importing it ourselves
 * would show in sys.modules). Checked at audit events; starting a thread
 * raises one ("_thread.start_new_thread") before the thread runs. */
static bool thread_hook_pending;

static PyObject *hook_thread_hook_when_imported(PyObject *self, PyObject *const *args,
                                                Py_ssize_t nargs)
{
    thread_hook_pending = true;
    return pyapi_none();
}

static PyMethodDef thread_start_def;

void trace_hook_audit_event(void)
{
    if (!thread_hook_pending)
        return;
    /* New threads get it from the thread that starts them (new_thread()). */
    if (start_new_thread[0]) {
        thread_hook_pending = false;
        return;
    }
    PyObject *modules = py.Sys_GetObject("modules");
    PyObject *threading = modules ? py.Dict_GetItemString(modules, "threading") : NULL;
    if (!threading)
        return;
    /* Defined at the end of threading.py: the module has run. */
    PyObject *done = py.Object_GetAttrString(threading, "_shutdown");
    if (!done) {
        py.Err_Clear();
        return;
    }
    py.DecRef(done);
    thread_hook_pending = false;
    PyObject *setprofile = py.Object_GetAttrString(threading, "setprofile");
    PyObject *start = py.CFunction_NewEx(&thread_start_def, NULL, NULL);
    PyObject *args = setprofile && start ? py.Tuple_Pack(1, start) : NULL;
    PyObject *res = args ? py.Object_CallObject(setprofile, args) : NULL;
    PyObject *refs[] = { res, args, start, setprofile };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (refs[i])
            py.DecRef(refs[i]);
    if (py.Err_Occurred())
        py.Err_Clear();
}

/* ---- registration ---- */

static long attr_long(PyObject *o, const char *name)
{
    PyObject *v = py.Object_GetAttrString(o, name);
    if (!v)
        return -1;
    long n = py.Long_AsLong(v);
    py.DecRef(v);
    return n;
}

/* A str attribute as UTF-8 into buf (empty if absent). */
static void attr_text(PyObject *o, const char *name, char *buf, size_t size)
{
    buf[0] = 0;
    PyObject *v = py.Object_GetAttrString(o, name);
    if (!v) {
        py.Err_Clear();
        return;
    }
    Py_ssize_t n;
    const char *s = py.Unicode_AsUTF8AndSize(v, &n);
    if (s) {
        size_t k = (size_t)n < size - 1 ? (size_t)n : size - 1;
        memcpy(buf, s, k);
        buf[k] = 0;
    } else {
        py.Err_Clear();
    }
    py.DecRef(v);
}

/* Which nested code objects join the table of the code that holds them:
 * all of them for @profile and MEMPROF_FUNCTIONS; under MEMPROF_FILES only
 * the anonymous ones (lambdas, comprehensions), since every named function
 * of a selected file gets a table of its own when it first runs. */
enum nested { NESTED_ALL, NESTED_ANONYMOUS };

/* Defines code and, under it, the code objects nested in its constants. */
static bool define_code(PyObject *code, uint32_t top, const char *qualname, int first, int last,
                        enum nested nested)
{
    PyObject *filename = py.Object_GetAttrString(code, "co_filename");
    PyObject *fsname = filename ? py.Unicode_EncodeFSDefault(filename) : NULL;
    char *path;
    Py_ssize_t path_len;
    uint32_t file = 0;
    if (fsname && py.Bytes_AsStringAndSize(fsname, &path, &path_len) == 0)
        file = trace_file_define(path, (size_t)path_len);
    if (filename)
        py.DecRef(filename);
    if (fsname)
        py.DecRef(fsname);
    if (!file)
        return false;

    char name[256], qual[512];
    attr_text(code, "co_name", name, sizeof name);
    if (qualname) {
        strncpy(qual, qualname, sizeof qual - 1);
        qual[sizeof qual - 1] = 0;
    } else {
        attr_text(code, "co_qualname", qual, sizeof qual);     /* 3.11+ */
        if (!qual[0])
            strcpy(qual, name);
    }
    struct trace_code c = {
        .key = code, .file = file, .name = name, .qualname = qual,
        .firstlineno = (int)attr_long(code, "co_firstlineno"),
        .top = top, .first = first, .last = last,
    };
    if (trace_code_lookup(code))
        return true;        /* already profiled, maybe as part of another */
    uint32_t id = trace_code_define(&c);
    if (!id)
        return false;
    /* The trace refers to it by address: keep it alive. */
    py.IncRef(code);

    PyObject *consts = py.Object_GetAttrString(code, "co_consts");
    if (!consts)
        return false;
    Py_ssize_t n = py.Tuple_Size(consts);
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        PyObject *item = py.Tuple_GetItem(consts, i);
        if (!pyapi_is_code(item))
            continue;
        if (nested == NESTED_ANONYMOUS) {
            /* Named functions have CO_OPTIMIZED; class bodies do not. */
            char inner[8];
            attr_text(item, "co_name", inner, sizeof inner);
            if (inner[0] != '<' && (attr_long(item, "co_flags") & CO_OPTIMIZED))
                continue;
        }
        ok = define_code(item, top ? top : id, NULL, 0, 0, nested);
    }
    py.DecRef(consts);
    return ok;
}

/* register(code, qualname, (first, last) or None[, only_anonymous_nested]) */
static PyObject *hook_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 3 && nargs != 4) || !pyapi_is_code(args[0]))
        return pyapi_none();
    enum nested nested = nargs == 4 && py.Object_IsTrue(args[3]) == 1 ? NESTED_ANONYMOUS : NESTED_ALL;
    const char *qualname = py.Unicode_AsUTF8AndSize(args[1], NULL);
    if (!qualname) {
        py.Err_Clear();
        qualname = "";
    }
    int first = 0, last = 0;
    if (args[2] != py.None && py.Tuple_Size(args[2]) == 2) {
        first = (int)py.Long_AsLong(py.Tuple_GetItem(args[2], 0));
        last = (int)py.Long_AsLong(py.Tuple_GetItem(args[2], 1));
    }
    if (py.Err_Occurred())
        py.Err_Clear();
    if (trace_recording() && !define_code(args[0], 0, qualname, first, last, nested)) {
        py.Err_Clear();
        warn("cannot register a profiled function; recording stops");
        trace_stop();
    }
    return pyapi_none();
}

/* recording() -> whether anything will be recorded (else @profile is a no-op) */
static PyObject *hook_recording(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *b = py.Long_FromUnsignedLong(trace_recording());
    return b;
}

static PyObject *hook_warn(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *msg = nargs == 1 ? py.Unicode_AsUTF8AndSize(args[0], NULL) : NULL;
    if (!msg)
        py.Err_Clear();
    warn(msg ? msg : "problem in the Python side");
    trace_stop();
    return pyapi_none();
}

/* ---- thread names and the command line ---- */

static void thread_name(char *buf, size_t size, unsigned long *ident)
{
    *ident = py.Thread_get_thread_ident();
    buf[0] = 0;
    /* threading._active[ident]._name: look-ups only, no Python code runs
     * and nothing is imported. */
    PyObject *modules = py.Sys_GetObject("modules");
    PyObject *threading = modules ? py.Dict_GetItemString(modules, "threading") : NULL;
    PyObject *active = threading ? py.Object_GetAttrString(threading, "_active") : NULL;
    PyObject *key = active ? py.Long_FromUnsignedLong(*ident) : NULL;
    PyObject *thread = key ? py.Dict_GetItem(active, key) : NULL;
    if (thread)
        attr_text(thread, "_name", buf, size);
    if (key)
        py.DecRef(key);
    if (active)
        py.DecRef(active);
    if (py.Err_Occurred())
        py.Err_Clear();
    if (!buf[0] && syscall(SYS_gettid) == getpid())
        snprintf(buf, size, "MainThread");
}

static void write_argv(writer_t *w)
{
    PyObject *argv = py.Sys_GetObject("argv");
    Py_ssize_t n = argv ? py.List_Size(argv) : -1;
    if (n < 0) {
        py.Err_Clear();
        /* An embedder that set no sys.argv: the process's command line. */
        char buf[4096];
        int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
        if (fd >= 0)
            close(fd);
        writer_cstr(w, "[");
        for (ssize_t i = 0; i < len;) {
            size_t k = strnlen(buf + i, (size_t)(len - i));
            if (i)
                writer_cstr(w, ",");
            writer_string(w, buf + i, k, NULL);
            i += (ssize_t)k + 1;
        }
        writer_cstr(w, "]");
        return;
    }
    writer_cstr(w, "[");
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *bytes = py.Unicode_EncodeFSDefault(py.List_GetItem(argv, i));
        char *s;
        Py_ssize_t len;
        if (i)
            writer_cstr(w, ",");
        if (bytes && py.Bytes_AsStringAndSize(bytes, &s, &len) == 0)
            writer_string(w, s, (size_t)len, NULL);
        else
            writer_cstr(w, "\"\"");
        if (bytes)
            py.DecRef(bytes);
        else
            py.Err_Clear();
    }
    writer_cstr(w, "]");
}

#define METHOD(name) { #name, (PyCFunction)(void (*)(void))hook_##name, METH_FASTCALL, NULL }

static PyMethodDef methods[] = {
    METHOD(register), METHOD(enter), METHOD(leave), METHOD(call), METHOD(warn), METHOD(recording),
    METHOD(on_call), METHOD(on_return), METHOD(on_line), METHOD(on_jump),
    METHOD(set_disable), METHOD(select_setup), METHOD(thread_start),
    METHOD(thread_hook_when_imported),
    { NULL, NULL, 0, NULL },
};

static PyMethodDef thread_start_def = METHOD(thread_start);

PyMethodDef *trace_hook_methods(void)
{
    return methods;
}

bool trace_hook_init(int fd, const char *path)
{
    static char version[32];
    const char *v = py.GetVersion();
    size_t n = strcspn(v, " ");
    if (n >= sizeof version)
        n = sizeof version - 1;
    memcpy(version, v, n);
    version[n] = 0;
    struct trace_section_info info = { .write_argv = write_argv, .python = version };
    trace_set_thread_namer(thread_name);
    if (py.minor == 10 || py.minor == 11)
        probe_layout();
    return trace_init(fd, path, &info);
}
