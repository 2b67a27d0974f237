/*
 * pyside: runs the agent's Python side, and does for it what it would
 * otherwise import.
 *
 * The Python side lives in the program's interpreter, so it imports
 * nothing: an import adds to the program's sys.modules (inspect alone
 * brings a dozen modules) and goes through the program's import hooks (a
 * patched builtins.__import__, sys.meta_path finders), which could hand
 * memprof fakes. What it needs is done here instead: a function's source
 * block (source_block.c, in place of inspect.getsourcelines), the metadata
 * copy of functools.wraps, a warning through warn() in place of
 * warnings.warn, os.path.abspath, and the compiling of its lazily loaded
 * parts (in C, not through the program's builtins.compile and exec).
 * Nothing here runs on the per-line path.
 */
#include "pyside.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg.h"
#include "inproc.h"
#include "mp_table.h"
#include "pyapi.h"
#include "source_block.h"
#include "trace.h"
#include "trace_hook.h"
#include "warn.h"

extern const char memprof_bootstrap_py[];
extern const char memprof_profile_impl_py[];
extern const char memprof_profile_gen_py[];
extern const char memprof_profile_select_py[];
extern const char memprof_profile_timestamp_py[];
extern const char memprof_public_py[];
extern const char memprof_compat_py[];

/* The Python side's namespace (bootstrap.py's globals), kept for good. */
static PyObject *ns;

static struct part {
    const char *name;
    const char *source;
    bool loaded;
} parts[] = {
    { "profile_impl", memprof_profile_impl_py, false },
    { "profile_gen", memprof_profile_gen_py, false },
    { "profile_select", memprof_profile_select_py, false },
    { "profile_timestamp", memprof_profile_timestamp_py, false },
    { "public", memprof_public_py, false },
};

static bool run_source(const char *source)
{
    PyObject *code = py.CompileStringExFlags(source, "<memprof>", Py_file_input, NULL, -1);
    PyObject *result = code ? py.Eval_EvalCode(code, ns, ns) : NULL;
    if (result)
        py.DecRef(result);
    if (code)
        py.DecRef(code);
    return result != NULL;
}

/* load(name): compiles and runs preload/<name>.py in the namespace, once. */
static PyObject *hook_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name = nargs == 1 ? py.Unicode_AsUTF8AndSize(args[0], NULL) : NULL;
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (strcmp(parts[i].name, name) != 0)
            continue;
        if (!parts[i].loaded) {
            if (!run_source(parts[i].source))
                return NULL;
            parts[i].loaded = true;
        }
        break;
    }
    return pyapi_none();
}

/* ---- block(code): the rows of its table ---- */

#define MAX_SOURCE (64u << 20)

/* The last file read, kept while it is unchanged: selection registers the
 * functions of a file one after another, each would read it again. */
static struct {
    char *path;
    struct stat st;
    struct source_text *text;
} last_file;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
           && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The text of the file at path (kept in last_file: not to be freed), or NULL. */
static const struct source_text *file_text(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= MAX_SOURCE) {
        if (last_file.text && strcmp(last_file.path, path) == 0 && same_file(&st, &last_file.st)) {
            close(fd);
            return last_file.text;
        }
        buf = malloc((size_t)st.st_size + 1);
        ssize_t k;
        while (buf && n < (size_t)st.st_size && (k = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
            n += (size_t)k;
    }
    close(fd);
    struct source_text *text = buf ? source_text_new(buf, n) : NULL;
    char *copy = text ? strdup(path) : NULL;
    free(buf);
    if (!copy) {
        source_text_free(text);
        return NULL;
    }
    source_text_free(last_file.text);
    free(last_file.path);
    last_file.path = copy;
    last_file.st = st;
    last_file.text = text;
    return text;
}

/* Source that is no file (a notebook cell, doctest): the lines the program
 * put in linecache.cache, if linecache is loaded. Read from the module's
 * dict as it is; nothing is imported and no Python code runs. */
static struct source_text *cached_text(PyObject *filename)
{
    PyObject *modules = py.Sys_GetObject("modules");
    PyObject *linecache = modules && PyDict_Check(modules)
                          ? py.Dict_GetItemString(modules, "linecache") : NULL;
    PyObject *cache = linecache ? py.Object_GetAttrString(linecache, "cache") : NULL;
    PyObject *entry = cache && PyDict_Check(cache) ? py.Dict_GetItem(cache, filename) : NULL;
    PyObject *lines = entry && PyTuple_Check(entry) && py.Tuple_Size(entry) >= 3
                      ? py.Tuple_GetItem(entry, 2) : NULL;
    char *buf = NULL;
    size_t n = 0;
    if (lines && PyList_Check(lines)) {
        size_t cap = 4096;
        buf = malloc(cap);
        for (Py_ssize_t i = 0; buf && i < py.List_Size(lines); i++) {
            Py_ssize_t k;
            const char *s = PyUnicode_Check(py.List_GetItem(lines, i))
                            ? py.Unicode_AsUTF8AndSize(py.List_GetItem(lines, i), &k) : NULL;
            if (!s)
                break;
            if (n + (size_t)k > MAX_SOURCE)
                break;
            if (n + (size_t)k >= cap) {
                while (n + (size_t)k >= cap)
                    cap *= 2;
                char *grown = realloc(buf, cap);
                if (!grown) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = grown;
            }
            memcpy(buf + n, s, (size_t)k);
            n += (size_t)k;
        }
    }
    if (cache)
        py.DecRef(cache);
    if (py.Err_Occurred())
        py.Err_Clear();
    struct source_text *text = buf ? source_text_new(buf, n) : NULL;
    free(buf);
    return text;
}

/* (a, b), taking over both references (NULL if either is). */
static PyObject *pair_of(PyObject *a, PyObject *b)
{
    PyObject *pair = a && b ? py.Tuple_Pack(2, a, b) : NULL;
    if (a)
        py.DecRef(a);
    if (b)
        py.DecRef(b);
    return pair;
}

static long attr_long(PyObject *o, const char *name)
{
    PyObject *v = py.Object_GetAttrString(o, name);
    long n = v ? py.Long_AsLong(v) : -1;
    if (v)
        py.DecRef(v);
    return n;
}

static bool is_module_code(PyObject *code)
{
    PyObject *name = py.Object_GetAttrString(code, "co_name");
    const char *s = name ? py.Unicode_AsUTF8AndSize(name, NULL) : NULL;
    bool module = s && strcmp(s, "<module>") == 0;
    if (name)
        py.DecRef(name);
    return module;
}

/* A code object's source: its file (path as bytes), else the text the
 * program's linecache holds for it. Released with source_close(). */
struct code_source {
    PyObject *filename, *fsname;
    char *path;                 /* NULL without a usable file name */
    Py_ssize_t path_len;
    const struct source_text *text;
    struct source_text *cached;
};

static void source_open(PyObject *code, struct code_source *s)
{
    memset(s, 0, sizeof *s);
    s->filename = py.Object_GetAttrString(code, "co_filename");
    s->fsname = s->filename ? py.Unicode_EncodeFSDefault(s->filename) : NULL;
    if (s->fsname && py.Bytes_AsStringAndSize(s->fsname, &s->path, &s->path_len) == 0
        && strlen(s->path) == (size_t)s->path_len)
        s->text = file_text(s->path);
    if (!s->text && s->filename)
        s->text = s->cached = cached_text(s->filename);
}

static void source_close(struct code_source *s)
{
    source_text_free(s->cached);
    if (s->fsname)
        py.DecRef(s->fsname);
    if (s->filename)
        py.DecRef(s->filename);
}

/* block(code) -> (first, last) as inspect.getsourcelines gives them (a
 * module's code: the whole file), or None without a source. */
static PyObject *hook_block(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1 || !pyapi_is_code(args[0]))
        return pyapi_none();
    PyObject *code = args[0];
    struct code_source src;
    source_open(code, &src);
    int firstlineno = (int)attr_long(code, "co_firstlineno");
    int first, last;
    bool found = src.text && source_text_block(src.text, firstlineno, is_module_code(code),
                                               py.minor, &first, &last);
    source_close(&src);
    if (py.Err_Occurred())
        py.Err_Clear();
    if (!found)
        return pyapi_none();
    return pair_of(py.Long_FromUnsignedLong((unsigned long)first),
                   py.Long_FromUnsignedLong((unsigned long)last));
}

/* ---- wraps(wrapper, func): functools.wraps(func)(wrapper), by hand ---- */

static bool attribute_missing(void)
{
    if (!py.Err_ExceptionMatches(*py.ExcAttributeError))
        return false;
    py.Err_Clear();
    return true;
}

static PyObject *hook_wraps(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    static const char *const assigned[] = {
        "__module__", "__name__", "__qualname__", "__doc__", "__annotations__",
    };
    if (nargs != 2)
        return NULL;
    PyObject *wrapper = args[0], *func = args[1];
    for (size_t i = 0; i < sizeof assigned / sizeof assigned[0]; i++) {
        PyObject *v = py.Object_GetAttrString(func, assigned[i]);
        if (!v) {
            if (attribute_missing())
                continue;
            return NULL;
        }
        int r = py.Object_SetAttrString(wrapper, assigned[i], v);
        py.DecRef(v);
        if (r < 0)
            return NULL;
    }
    PyObject *dict = py.Object_GetAttrString(wrapper, "__dict__");
    if (!dict)
        return NULL;
    PyObject *from = py.Object_GetAttrString(func, "__dict__");
    int r = from ? py.Dict_Update(dict, from) : attribute_missing() ? 0 : -1;
    py.DecRef(dict);
    if (from)
        py.DecRef(from);
    if (r < 0 || py.Object_SetAttrString(wrapper, "__wrapped__", func) < 0)
        return NULL;
    py.IncRef(wrapper);
    return wrapper;
}

/* ---- the rest ---- */

/* notice(message): a warning that does not stop recording (warn() says it
 * once per process). */
static PyObject *hook_notice(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *msg = nargs == 1 ? py.Unicode_AsUTF8AndSize(args[0], NULL) : NULL;
    if (!msg)
        py.Err_Clear();
    warn(msg ? msg : "problem in the Python side");
    return pyapi_none();
}

/* set_events(tool, c, events) for code and every code object nested in it. */
static bool each_code(PyObject *set_events, PyObject *tool, PyObject *code, PyObject *events)
{
    PyObject *call = py.Tuple_Pack(3, tool, code, events);
    PyObject *res = call ? py.Object_CallObject(set_events, call) : NULL;
    if (call)
        py.DecRef(call);
    if (!res)
        return false;
    py.DecRef(res);
    PyObject *consts = py.Object_GetAttrString(code, "co_consts");
    bool ok = consts != NULL;
    for (Py_ssize_t i = 0; ok && i < py.Tuple_Size(consts); i++) {
        PyObject *item = py.Tuple_GetItem(consts, i);
        if (pyapi_is_code(item))
            ok = each_code(set_events, tool, item, events);
    }
    if (consts)
        py.DecRef(consts);
    return ok;
}

/* ---- 3.12+: sys.monitoring on the profiled code objects ---- */

static PyObject *c_module;      /* _c: the callbacks are its attributes */
static PyObject *monitoring;    /* sys.monitoring, once started */
static PyObject *tool_id, *local_events, *start_events;

/* obj.name(*args) -> new reference, or NULL with an exception. */
static PyObject *call_method(PyObject *obj, const char *name, int n, PyObject *a, PyObject *b,
                             PyObject *c)
{
    PyObject *f = py.Object_GetAttrString(obj, name);
    PyObject *t = !f ? NULL : n == 1 ? py.Tuple_Pack(1, a) : n == 2 ? py.Tuple_Pack(2, a, b)
                                                                     : py.Tuple_Pack(3, a, b, c);
    PyObject *r = t ? py.Object_CallObject(f, t) : NULL;
    if (t)
        py.DecRef(t);
    if (f)
        py.DecRef(f);
    return r;
}

static bool call_ok(PyObject *r)
{
    if (r)
        py.DecRef(r);
    return r != NULL;
}

static PyObject *long_of(unsigned long v)
{
    return py.Long_FromUnsignedLong(v);
}

/* events.NAME as a number (they are plain ints), or 0. */
static unsigned long event(PyObject *events, const char *name)
{
    PyObject *v = py.Object_GetAttrString(events, name);
    long n = v ? py.Long_AsLong(v) : 0;
    if (v)
        py.DecRef(v);
    return n > 0 ? (unsigned long)n : 0;
}

static bool monitor_start(void)
{
    static const struct { const char *event, *callback; } callbacks[] = {
        { "PY_START", "on_call" }, { "PY_RESUME", "on_call" }, { "PY_THROW", "on_call" },
        { "PY_RETURN", "on_return" }, { "PY_YIELD", "on_return" }, { "PY_UNWIND", "on_return" },
        { "LINE", "on_line" }, { "JUMP", "on_jump" },
    };
    PyObject *mon = py.Sys_GetObject("monitoring");
    if (!mon)
        return warn("cannot use sys.monitoring (absent); nothing is profiled");
    PyObject *tool = NULL;
    /* Not 2 first (cProfile's); any other tool's id is left alone. */
    static const unsigned long tools[] = { 4, 3, 5, 1, 0, 2 };
    for (size_t i = 0; !tool && i < sizeof tools / sizeof tools[0]; i++) {
        PyObject *id = long_of(tools[i]);
        PyObject *owner = id ? call_method(mon, "get_tool", 1, id, NULL, NULL) : NULL;
        if (owner == py.None)
            tool = id;
        else if (id)
            py.DecRef(id);
        if (owner)
            py.DecRef(owner);
        if (!owner)
            return false;
    }
    if (!tool)
        return warn("cannot use sys.monitoring (no sys.monitoring tool id is free); nothing is profiled");
    PyObject *name = py.Unicode_FromString("memprof");
    PyObject *events = py.Object_GetAttrString(mon, "events");
    PyObject *disable = py.Object_GetAttrString(mon, "DISABLE");
    bool ok = name && events && disable
              && call_ok(call_method(mon, "use_tool_id", 2, tool, name, NULL))
              && call_ok(call_method(c_module, "set_disable", 1, disable, NULL, NULL));
    for (size_t i = 0; ok && i < sizeof callbacks / sizeof callbacks[0]; i++) {
        PyObject *e = long_of(event(events, callbacks[i].event));
        PyObject *cb = py.Object_GetAttrString(c_module, callbacks[i].callback);
        ok = e && cb && call_ok(call_method(mon, "register_callback", 3, tool, e, cb));
        if (e)
            py.DecRef(e);
        if (cb)
            py.DecRef(cb);
    }
    unsigned long global = 0, local = 0;
    if (ok) {
        global = event(events, "PY_UNWIND") | event(events, "PY_THROW");
        local = event(events, "PY_START") | event(events, "PY_RESUME") | event(events, "PY_RETURN")
                | event(events, "PY_YIELD") | event(events, "LINE") | event(events, "JUMP");
    }
    /* Unwinding and throwing are not local events; the callbacks ignore
     * code that is not profiled. */
    PyObject *g = ok ? long_of(global) : NULL;
    ok = g && call_ok(call_method(mon, "set_events", 2, tool, g, NULL));
    local_events = ok ? long_of(local) : NULL;
    start_events = ok ? long_of(global | event(events, "PY_START")) : NULL;
    ok = ok && !py.Err_Occurred();
    ok = ok && local_events && start_events;
    PyObject *refs[] = { g, disable, events, name };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (refs[i])
            py.DecRef(refs[i]);
    if (!ok) {
        py.DecRef(tool);
        return false;
    }
    tool_id = tool;
    py.IncRef(mon);
    monitoring = mon;
    return true;
}

/* monitor_start() -> whether sys.monitoring is ours (else a warning was
 * given and recording stopped). */
static PyObject *hook_monitor_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!monitoring && !monitor_start()) {
        if (py.Err_Occurred())
            py.Err_Clear();
        warn("cannot use sys.monitoring; nothing is profiled");
        trace_stop();
        return long_of(0);
    }
    return long_of(1);
}

/* monitor_watch(code): its events and those of the code nested in it. */
static PyObject *hook_monitor_watch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!monitoring || nargs != 1 || !pyapi_is_code(args[0]))
        return pyapi_none();
    PyObject *set = py.Object_GetAttrString(monitoring, "set_local_events");
    bool ok = set && each_code(set, tool_id, args[0], local_events);
    if (set)
        py.DecRef(set);
    return ok ? pyapi_none() : NULL;
}

/* monitor_watch_starts(): selection by name judges every code object's
 * start once (the callback turns PY_START off where it is not selected). */
static PyObject *hook_monitor_watch_starts(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!monitoring)
        return pyapi_none();
    return call_ok(call_method(monitoring, "set_events", 2, tool_id, start_events, NULL))
           ? pyapi_none() : NULL;
}

/* abspath(name) -> os.path.abspath(name) (posixpath's rules: the working
 * directory joined, "." and ".." folded, no symbolic link resolved). */
static PyObject *hook_abspath(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *bytes = nargs == 1 ? py.Unicode_EncodeFSDefault(args[0]) : NULL;
    char *name;
    Py_ssize_t len;
    if (!bytes || py.Bytes_AsStringAndSize(bytes, &name, &len) < 0) {
        if (bytes)
            py.DecRef(bytes);
        return NULL;
    }
    char cwd[4096] = "";
    if (name[0] != '/' && !getcwd(cwd, sizeof cwd)) {
        py.DecRef(bytes);
        py.IncRef(args[0]);
        return args[0];
    }
    size_t cwd_len = strlen(cwd), total = cwd_len + 1 + (size_t)len;
    char *joined = malloc(total + 1), *out = malloc(total + 3);
    if (!joined || !out) {
        free(joined);
        free(out);
        py.DecRef(bytes);
        py.IncRef(args[0]);
        return args[0];
    }
    if (cwd_len)
        snprintf(joined, total + 1, "%s%s%s", cwd, cwd[cwd_len - 1] == '/' ? "" : "/", name);
    else
        memcpy(joined, name, (size_t)len + 1);
    py.DecRef(bytes);
    /* normpath: one or two leading slashes kept (three or more are one). */
    size_t n = 0, j = 0, k = strlen(joined);
    size_t slashes = joined[0] == '/' ? (joined[1] == '/' && joined[2] != '/' ? 2 : 1) : 0;
    for (size_t s = 0; s < slashes; s++)
        out[n++] = '/';
    size_t root = n;
    while (j < k) {
        while (j < k && joined[j] == '/')
            j++;
        size_t c = j;
        while (j < k && joined[j] != '/')
            j++;
        size_t clen = j - c;
        if (clen == 0 || (clen == 1 && joined[c] == '.'))
            continue;
        if (clen == 2 && joined[c] == '.' && joined[c + 1] == '.') {
            /* Drop the last component, if any (nothing goes above the root). */
            if (n > root) {
                while (n > root && out[n - 1] != '/')
                    n--;
                if (n > root)
                    n--;
            }
            continue;
        }
        if (n > root)
            out[n++] = '/';
        memcpy(out + n, joined + c, clen);
        n += clen;
    }
    PyObject *result = py.Unicode_DecodeFSDefaultAndSize(out, (Py_ssize_t)n);
    free(joined);
    free(out);
    return result;
}

/* ---- memory_profiler's tables inside the process ---- */

/* keep_tables(): the tables are kept in the process from now on */
static PyObject *hook_keep_tables(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    trace_keep_tables();
    return pyapi_none();
}

/* The table of a registered code (0 if it is not one). */
static uint32_t table_of(PyObject *code)
{
    uint32_t id = pyapi_is_code(code) ? trace_code_lookup(code) : 0;
    return id ? trace_code_top(id) : 0;
}

/* table_reset(code): a new table for a registered code, as a new
 * LineProfiler has */
static PyObject *hook_table_reset(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t top = nargs == 1 ? table_of(args[0]) : 0;
    if (top)
        agg_reset_table(top);
    return pyapi_none();
}

static bool append_text(PyObject *list, const char *s, size_t n)
{
    PyObject *str = py.Unicode_DecodeFSDefaultAndSize(s, (Py_ssize_t)n);
    int r = str ? py.List_Append(list, str) : -1;
    if (str)
        py.DecRef(str);
    return r == 0;
}

/* table_text(code, precision) -> [str, ...]: memory_profiler's table of a
 * registered code, in the pieces its show_results writes (the heading, the
 * header, the rule, each row, the closing blank lines), or None if none of
 * its lines was measured. The layout is table/mp_table.c's. */
static PyObject *hook_table_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t top = nargs == 2 ? table_of(args[0]) : 0;
    long precision = nargs == 2 ? py.Long_AsLong(args[1]) : -1;
    if (precision == -1 && py.Err_Occurred())
        return NULL;
    if (precision < 0 || precision > 15)
        precision = 1;
    int first, last;
    const agg_row_t *rows = top ? agg_table_rows(top, &first, &last) : NULL;
    bool measured = false;
    for (int i = 0; rows && i <= last - first; i++)
        measured = measured || rows[i].count > 0;
    if (!measured)
        return pyapi_none();

    struct code_source source;
    source_open(args[0], &source);
    const char *path = source.path;
    Py_ssize_t path_len = source.path_len;
    const struct source_text *text = source.text;
    if (py.Err_Occurred())
        py.Err_Clear();

    PyObject *list = path ? py.List_New(0) : NULL;
    char buf[4096];
    bool ok = list != NULL;
    if (ok) {
        size_t n = strlen("Filename: ") + (size_t)path_len + 2;
        char *heading = malloc(n + 1);
        ok = heading && snprintf(heading, n + 1, "Filename: %s\n\n", path) >= 0
             && append_text(list, heading, n);
        free(heading);
    }
    if (ok) {
        int n = mp_format_header(buf, sizeof buf, "");
        /* memory_profiler writes the header and its rule separately. */
        const char *rule = strchr(buf, '\n') + 1;
        ok = append_text(list, buf, (size_t)(rule - buf))
             && append_text(list, rule, (size_t)n - (size_t)(rule - buf));
    }
    for (int line = first; ok && line <= last; line++) {
        const agg_row_t *r = &rows[line - first];
        int n = mp_format_row(buf, sizeof buf, line, r->count > 0, r->max, r->inc, r->count,
                              (int)precision, "", "", "", 0);
        const char *src = "\n";
        size_t len = 1;
        (void)source_text_line(text, line, &src, &len);
        size_t total = (size_t)n + len;
        char *row = malloc(total);
        ok = row != NULL;
        if (ok) {
            memcpy(row, buf, (size_t)n);
            memcpy(row + n, src, len);
            ok = append_text(list, row, total);
        }
        free(row);
    }
    ok = ok && append_text(list, "\n\n", 2);
    source_close(&source);
    if (!ok) {
        if (list)
            py.DecRef(list);
        if (!py.Err_Occurred())
            py.Err_SetString(*py.ExcValueError, "memprof: cannot format the table");
        return NULL;
    }
    return list;
}

/* table_rows(code) -> [(line, increment, mem usage, occurrences), ...] of
 * the measured lines of a registered code's table, in line order (MiB) */
static PyObject *hook_table_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t top = nargs == 1 ? table_of(args[0]) : 0;
    int first = 0, last = -1;
    const agg_row_t *rows = top ? agg_table_rows(top, &first, &last) : NULL;
    PyObject *list = py.List_New(0);
    for (int line = first; list && rows && line <= last; line++) {
        const agg_row_t *r = &rows[line - first];
        if (!r->count)
            continue;
        PyObject *v[4] = { py.Long_FromLongLong(line), py.Float_FromDouble(r->inc),
                           py.Float_FromDouble(r->max), py.Long_FromLongLong((long long)r->count) };
        PyObject *t = v[0] && v[1] && v[2] && v[3] ? py.Tuple_Pack(4, v[0], v[1], v[2], v[3]) : NULL;
        int ok = t ? py.List_Append(list, t) : -1;
        for (int k = 0; k < 4; k++)
            if (v[k])
                py.DecRef(v[k]);
        if (t)
            py.DecRef(t);
        if (ok < 0) {
            py.DecRef(list);
            list = NULL;
        }
    }
    return list;
}

/* launcher() -> whether the memprof launcher runs this program (it prints
 * the tables at the end, from the trace) */
static PyObject *hook_launcher(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *v = getenv("MEMPROF_LAUNCHER");
    return py.Long_FromUnsignedLong(v && strcmp(v, "1") == 0);
}

/* ---- named spans: profile.timestamp (profile_impl.py) ---- */

/* timestamp_now() -> (ns on the trace's clock, the program's RSS in bytes) */
static PyObject *hook_timestamp_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t t = trace_clock();
    return pair_of(py.Long_FromLongLong((long long)t), py.Long_FromLongLong(trace_program_rss()));
}

/* timestamp_write(name, t0, rss0, t1, rss1, depth): the span's record */
static PyObject *hook_timestamp_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t len = 0;
    const char *name = nargs == 6 && PyUnicode_Check(args[0])
                       ? py.Unicode_AsUTF8AndSize(args[0], &len) : NULL;
    long long v[5];
    for (int i = 0; name && i < 5; i++)
        v[i] = py.Long_AsLongLong(args[i + 1]);
    if (!name || py.Err_Occurred()) {
        if (!py.Err_Occurred())
            py.Err_SetString(*py.ExcValueError, "timestamp_write(name, t0, rss0, t1, rss1, depth)");
        return NULL;
    }
    trace_timestamp(name, (size_t)len, (uint64_t)v[0], v[1], (uint64_t)v[2], v[3], (int)v[4]);
    return pyapi_none();
}

/* ---- memory_profiler, served by memprof (compat.py) ---- */

static bool compat_on;      /* MEMPROF_COMPAT is not 0 */

/* compat.py run as a new module memory_profiler, put in sys.modules in
 * place of whatever is there. */
static void serve_memory_profiler(PyObject *modules)
{
    PyObject *module = py.Module_New("memory_profiler");
    PyObject *dict = module ? py.Object_GetAttrString(module, "__dict__") : NULL;
    PyObject *minor = py.Long_FromUnsignedLong((unsigned long)py.minor);
    PyObject *sys = py.Dict_GetItemString(ns, "_sys");
    PyObject *code = NULL, *result = NULL;
    bool ok = dict && minor && sys
              && py.Dict_SetItemString(dict, "__builtins__", py.Eval_GetBuiltins()) == 0
              && py.Dict_SetItemString(dict, "__file__", py.None) == 0
              && py.Dict_SetItemString(dict, "_c", c_module) == 0
              && py.Dict_SetItemString(dict, "_ns", ns) == 0
              && py.Dict_SetItemString(dict, "_minor", minor) == 0
              && py.Dict_SetItemString(dict, "_sys", sys) == 0
              && (code = py.CompileStringExFlags(memprof_compat_py, "<memprof: memory_profiler>",
                                                 Py_file_input, NULL, -1))
              && (result = py.Eval_EvalCode(code, dict, dict))
              && py.Dict_SetItemString(modules, "memory_profiler", module) == 0;
    PyObject *refs[] = { result, code, minor, dict, module };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (refs[i])
            py.DecRef(refs[i]);
    if (!ok) {
        py.Err_Clear();
        warn("cannot serve memory_profiler; the import goes on as without memprof");
    }
}

static bool is_memory_profiler(PyObject *name)
{
    Py_ssize_t len;
    const char *s = name && PyUnicode_Check(name) ? py.Unicode_AsUTF8AndSize(name, &len) : NULL;
    if (!s && py.Err_Occurred())
        py.Err_Clear();
    return s && len == 15 && memcmp(s, "memory_profiler", 15) == 0;
}

/* At the "import" audit event: C's import of a name not in sys.modules
 * raises it just before importlib looks the name up in sys.modules again,
 * so a module put there now is what the import statement gets. Nothing is
 * added to sys.meta_path, and a program that never imports memory_profiler
 * sees nothing. */
void pyside_import_event(PyObject *args)
{
    if (!compat_on || !ns || !args || !PyTuple_Check(args) || py.Tuple_Size(args) < 1
        || !is_memory_profiler(py.Tuple_GetItem(args, 0)))
        return;
    PyObject *modules = py.Sys_GetObject("modules");
    if (!modules || !PyDict_Check(modules) || py.Dict_GetItemString(modules, "memory_profiler"))
        return;
    serve_memory_profiler(modules);
}

/*
 * importlib.import_module() raises no "import" event. So memory_profiler is
 * also a frozen module (PyImport_FrozenModules, which the FrozenImporter
 * already in sys.meta_path reads before the path is searched), its code an
 * empty module compiled under FROZEN_STUB. Running it raises the "exec"
 * event with that code while importlib holds the frozen module in
 * sys.modules; compat.py's module replaces it there, and importlib returns
 * what sys.modules holds once the code has run (_load_unlocked, 3.8 to
 * 3.13).
 */
#define FROZEN_STUB "<memprof: memory_profiler, frozen>"

/* CPython's struct _frozen: 3.11 added is_package and get_code. The name
 * and the code come first in both. */
struct frozen_38 { const char *name; const unsigned char *code; int size; };
struct frozen_311 { const char *name; const unsigned char *code; int size; int is_package; void *get_code; };

static bool frozen_served;

static void register_frozen(void)
{
    if (!py.FrozenModules || !py.Marshal_WriteObjectToString)
        return;
    PyObject *code = py.CompileStringExFlags("", FROZEN_STUB, Py_file_input, NULL, -1);
    /* Marshal format 4: what 3.8 to 3.13 write and read. */
    PyObject *bytes = code ? py.Marshal_WriteObjectToString(code, 4) : NULL;
    char *data = NULL;
    Py_ssize_t len = 0;
    size_t entry = py.minor >= 11 ? sizeof(struct frozen_311) : sizeof(struct frozen_38);
    const char *old = *py.FrozenModules;
    size_t n = 0;
    while (old && ((const struct frozen_38 *)(const void *)(old + n * entry))->name)
        n++;
    char *table = NULL;
    if (bytes && py.Bytes_AsStringAndSize(bytes, &data, &len) == 0 && len > 0 && len < 1 << 20)
        table = calloc(n + 2, entry);      /* ours, the old ones, the end */
    if (code)
        py.DecRef(code);
    if (!table) {
        if (bytes)
            py.DecRef(bytes);
        py.Err_Clear();
        return;
    }
    /* The bytes and the table stay for the life of the process: the
     * interpreter reads them at any import. */
    struct frozen_38 *mine = (struct frozen_38 *)(void *)table;
    mine->name = "memory_profiler";
    mine->code = (const unsigned char *)data;
    mine->size = (int)len;
    if (n)
        memcpy(table + entry, old, n * entry);
    *py.FrozenModules = table;
    frozen_served = true;
}

void pyside_exec_event(PyObject *args)
{
    if (!frozen_served || !compat_on || !ns || !args || !PyTuple_Check(args)
        || py.Tuple_Size(args) < 1)
        return;
    PyObject *code = py.Tuple_GetItem(args, 0);
    if (!pyapi_is_code(code))
        return;
    PyObject *file = py.Object_GetAttrString(code, "co_filename");
    Py_ssize_t len;
    const char *s = file && PyUnicode_Check(file) ? py.Unicode_AsUTF8AndSize(file, &len) : NULL;
    bool stub = s && (size_t)len == sizeof FROZEN_STUB - 1 && memcmp(s, FROZEN_STUB, (size_t)len) == 0;
    if (file)
        py.DecRef(file);
    py.Err_Clear();
    PyObject *modules = stub ? py.Sys_GetObject("modules") : NULL;
    if (modules && PyDict_Check(modules))
        serve_memory_profiler(modules);
}

#define METHOD(name) { #name, (PyCFunction)(void (*)(void))hook_##name, METH_FASTCALL, NULL }

static PyMethodDef methods[] = {
    METHOD(load), METHOD(block), METHOD(wraps), METHOD(notice), METHOD(abspath),
    METHOD(monitor_start), METHOD(monitor_watch), METHOD(monitor_watch_starts),
    METHOD(keep_tables), METHOD(table_reset), METHOD(table_text), METHOD(table_rows),
    METHOD(launcher), METHOD(timestamp_now), METHOD(timestamp_write),
    { NULL, NULL, 0, NULL },
};

/* ---- start-up ---- */

static bool add_functions(PyObject *module, PyMethodDef *defs)
{
    for (PyMethodDef *m = defs; m->ml_name; m++) {
        PyObject *f = py.CFunction_NewEx(m, NULL, NULL);
        int r = f ? py.Object_SetAttrString(module, m->ml_name, f) : -1;
        if (f)
            py.DecRef(f);
        if (r < 0)
            return false;
    }
    return true;
}

static bool blank(const char *s)
{
    return !s || s[strspn(s, " \t\n\r\f\v")] == 0;
}

/* (MEMPROF_FILES, MEMPROF_FUNCTIONS) when either is set, else None. */
static PyObject *selection(void)
{
    const char *files = getenv("MEMPROF_FILES"), *functions = getenv("MEMPROF_FUNCTIONS");
    if (blank(files) && blank(functions))
        return pyapi_none();
    files = files ? files : "";
    functions = functions ? functions : "";
    return pair_of(py.Unicode_DecodeFSDefaultAndSize(files, (Py_ssize_t)strlen(files)),
                   py.Unicode_DecodeFSDefaultAndSize(functions, (Py_ssize_t)strlen(functions)));
}

bool pyside_install(void)
{
    const char *compat = getenv("MEMPROF_COMPAT");
    compat_on = !(compat && strcmp(compat, "0") == 0);
    PyObject *modules = py.Sys_GetObject("modules");
    PyObject *sys = modules && PyDict_Check(modules) ? py.Dict_GetItemString(modules, "sys") : NULL;
    PyObject *c = py.Module_New("memprof");
    PyObject *minor = py.Long_FromUnsignedLong((unsigned long)py.minor);
    PyObject *chosen = selection();
    ns = py.Dict_New();
    c_module = c;
    if (compat_on)
        register_frozen();
    bool ok = sys && c && minor && chosen && ns
              && add_functions(c, trace_hook_methods()) && add_functions(c, methods)
              && add_functions(c, inproc_methods())
              && py.Dict_SetItemString(ns, "__builtins__", py.Eval_GetBuiltins()) == 0
              && py.Dict_SetItemString(ns, "__name__", py.None) == 0
              && py.Dict_SetItemString(ns, "_c", c) == 0
              && py.Dict_SetItemString(ns, "_minor", minor) == 0
              && py.Dict_SetItemString(ns, "_sys", sys) == 0
              && py.Dict_SetItemString(ns, "_selection", chosen) == 0
              && run_source(memprof_bootstrap_py);
    PyObject *refs[] = { minor, chosen };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (refs[i])
            py.DecRef(refs[i]);
    return ok;
}

PyObject *pyside_namespace(void)
{
    if (!ns)
        return pyapi_none();
    py.IncRef(ns);
    return ns;
}
