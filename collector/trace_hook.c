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
    if (id)
        trace_event(kind, id, py.Frame_GetLineNumber(frame));
    return 0;
}

/* Whether a trace function other than ours is set (a debugger, coverage). */
static bool foreign_tracer(void)
{
    PyObject *gettrace = py.Sys_GetObject("gettrace");
    if (!gettrace)
        return false;
    PyObject *current = py.Object_CallObject(gettrace, NULL);
    if (!current) {
        py.Err_Clear();
        return false;
    }
    bool foreign = current != py.None;
    py.DecRef(current);
    return foreign;
}

static PyObject *hook_enter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (tls_depth++ == 0 && trace_recording() && !foreign_tracer()) {
        py.SetTrace(legacy_trace, NULL);
        tls_tracing = true;
    }
    return pyapi_none();
}

static PyObject *hook_leave(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (tls_depth > 0 && --tls_depth == 0 && tls_tracing) {
        tls_tracing = false;
        /* Someone may have set a trace function of their own meanwhile. */
        if (!foreign_tracer())
            py.SetTrace(NULL, NULL);
    }
    return pyapi_none();
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

/* PY_START, PY_RESUME, PY_THROW: (code, offset[, exception]) */
static PyObject *hook_on_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t id = nargs >= 2 ? trace_code_lookup(args[0]) : 0;
    if (id)
        trace_event(TRACE_CALL, id, offset_line(args[0], args[1]));
    return pyapi_none();
}

/* PY_RETURN, PY_YIELD, PY_UNWIND: (code, offset, value) */
static PyObject *hook_on_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t id = nargs >= 2 ? trace_code_lookup(args[0]) : 0;
    if (id)
        trace_event(TRACE_RETURN, id, offset_line(args[0], args[1]));
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
        int to_line = offset_line(args[0], args[2]);
        if (to_line >= 0 && to_line == offset_line(args[0], args[1]))
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

/* Defines code and, under it, every code object nested in its constants. */
static bool define_code(PyObject *code, uint32_t top, const char *qualname, int first, int last)
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
        if (pyapi_is_code(item))
            ok = define_code(item, top ? top : id, NULL, 0, 0);
    }
    py.DecRef(consts);
    return ok;
}

/* register(code, qualname, (first, last) or None) */
static PyObject *hook_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !pyapi_is_code(args[0]))
        return pyapi_none();
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
    if (trace_recording() && !define_code(args[0], 0, qualname, first, last)) {
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
    METHOD(register), METHOD(enter), METHOD(leave), METHOD(warn), METHOD(recording),
    METHOD(on_call), METHOD(on_return), METHOD(on_line), METHOD(on_jump),
    METHOD(set_disable),
    { NULL, NULL, 0, NULL },
};

PyMethodDef *trace_hook_methods(void)
{
    return methods;
}

bool trace_hook_init(int fd)
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
    return trace_init(fd, &info);
}
