/* inproc: see inproc.h. */
#include "inproc.h"

#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- reading /proc (proctree.h) ---- */

#define MAX_TREE 1024

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident bytes of PID and, if asked, of all its descendants. */
static long long sample_tree(int pid, bool children)
{
    long long total = proctree_rss(pid);
    if (total >= 0 && children) {
        int kids[MAX_TREE];
        int n = proctree_descendants(pid ? pid : (int)getpid(), kids, MAX_TREE);
        for (int i = 0; i < n; i++) {
            long long r = proctree_rss(kids[i]);
            if (r > 0)
                total += r;
        }
    }
    return total;
}

/* ---- the functions ---- */

static bool int_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t i, long long *v)
{
    if (i >= nargs)
        return true;
    *v = py.Long_AsLongLong(args[i]);
    return !(*v == -1 && py.Err_Occurred());
}

/* rss_now() -> bytes this process has resident now */
/* Appends the tuple (a, b) to list, taking both references (either may be
 * NULL after a failed conversion). Returns false with an error set. */
static bool append_pair(PyObject *list, PyObject *a, PyObject *b)
{
    PyObject *t = a && b ? py.Tuple_Pack(2, a, b) : NULL;
    int ok = t ? py.List_Append(list, t) : -1;
    PyObject *refs[] = { a, b, t };
    for (int k = 0; k < 3; k++)
        if (refs[k])
            py.DecRef(refs[k]);
    return ok == 0;
}

static PyObject *c_rss_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return py.Long_FromLongLong(proctree_rss(0));
}

/* rss_of(pid, children=0) -> bytes of pid (and its descendants), -1 if gone */
static PyObject *c_rss_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long pid = 0, children = 0;
    if (!int_arg(args, nargs, 0, &pid) || !int_arg(args, nargs, 1, &children))
        return NULL;
    return py.Long_FromLongLong(sample_tree((int)pid, children != 0));
}

/* children_rss(pid) -> [(child pid, bytes)...] of pid's descendants */
static PyObject *c_children_rss(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long pid = 0;
    if (!int_arg(args, nargs, 0, &pid))
        return NULL;
    int kids[MAX_TREE];
    int n = proctree_descendants(pid ? (int)pid : (int)getpid(), kids, MAX_TREE);
    PyObject *list = py.List_New(0);
    for (int i = 0; list && i < n; i++) {
        long long r = proctree_rss(kids[i]);
        if (r < 0)
            continue;
        if (!append_pair(list, py.Long_FromLongLong(kids[i]), py.Long_FromLongLong(r))) {
            py.DecRef(list);
            return NULL;
        }
    }
    return list;
}

/* now() -> seconds since the epoch, as time.time() */
static PyObject *c_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return py.Float_FromDouble(wall_clock());
}

/* sleep(seconds), without the GIL */
static PyObject *c_sleep(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    double s = nargs == 1 ? py.Float_AsDouble(args[0]) : -1;
    if (s < 0) {
        if (!py.Err_Occurred())
            py.Err_SetString(*py.ExcValueError, "sleep takes seconds >= 0");
        return NULL;
    }
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    PyThreadState *st = py.Eval_SaveThread();
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    py.Eval_RestoreThread(st);
    return pyapi_none();
}

/* VmHWM of this process, in bytes, or -1. */
static long long high_water_mark(void)
{
    char buf[4096];
    if (proctree_read("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    char *p = strstr(buf, "\nVmHWM:");
    return p ? strtoll(p + 7, NULL, 10) * 1024 : -1;
}

/* peak_mark(): the high-water mark starts again from the RSS now */
static PyObject *c_peak_mark(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    /* Where the kernel refuses, the mark keeps the process's peak. */
    if (fd >= 0) {
        (void)!write(fd, "5", 1);
        close(fd);
    }
    return pyapi_none();
}

/* peak_since_mark() -> the largest RSS in bytes since peak_mark() */
static PyObject *c_peak_since_mark(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long hwm = high_water_mark(), now = proctree_rss(0);
    return py.Long_FromLongLong(hwm > now ? hwm : now);
}

/* ---- sampling a process while a function runs (memory_usage) ---- */

/* One sampling at a time, as memory_profiler's MemTimer: the samples of
 * the running process (or another pid), its tree summed if asked, every
 * interval, in a thread of the agent's so that the function runs on. */
static struct {
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    int pid;
    bool children;
    double interval;
    long long *bytes;
    double *when;
    size_t n, cap;
} timer = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void take_sample(void)
{
    if (timer.n == timer.cap) {
        size_t cap = timer.cap ? 2 * timer.cap : 256;
        long long *b = realloc(timer.bytes, cap * sizeof *b);
        if (b)
            timer.bytes = b;
        double *w = b ? realloc(timer.when, cap * sizeof *w) : NULL;
        if (w)
            timer.when = w;
        if (!b || !w)
            return;
        timer.cap = cap;
    }
    timer.bytes[timer.n] = sample_tree(timer.pid, timer.children);
    timer.when[timer.n] = wall_clock();
    timer.n++;
}

static void *timer_main(void *arg)
{
    pthread_mutex_lock(&timer.lock);
    for (;;) {
        take_sample();
        if (timer.stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + timer.interval;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        while (!timer.stop && pthread_cond_timedwait(&timer.wake, &timer.lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&timer.lock);
    return NULL;
}

/* timer_start(pid, interval, children): the first sample now, then one
 * every interval until timer_stop() */
static PyObject *c_timer_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long pid = 0, children = 0;
    double interval = nargs >= 2 ? py.Float_AsDouble(args[1]) : -1;
    if (!int_arg(args, nargs, 0, &pid) || !int_arg(args, nargs, 2, &children)
        || (interval == -1 && py.Err_Occurred()))
        return NULL;
    if (timer.running) {
        py.Err_SetString(*py.ExcValueError, "memprof: a memory_usage sampling is already running");
        return NULL;
    }
    timer.pid = (int)pid;
    timer.children = children != 0;
    timer.interval = interval > 1e-6 ? interval : 1e-6;
    timer.stop = false;
    timer.n = 0;
    take_sample();
    if (pthread_create(&timer.thread, NULL, timer_main, NULL) != 0) {
        py.Err_SetString(*py.ExcOSError, "memprof: cannot start the sampling thread");
        return NULL;
    }
    timer.running = true;
    return pyapi_none();
}

/* timer_stop() -> [(bytes, seconds since the epoch), ...], with one last
 * sample taken now */
static PyObject *c_timer_stop(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (timer.running) {
        PyThreadState *st = py.Eval_SaveThread();
        pthread_mutex_lock(&timer.lock);
        timer.stop = true;
        pthread_cond_signal(&timer.wake);
        pthread_mutex_unlock(&timer.lock);
        pthread_join(timer.thread, NULL);
        py.Eval_RestoreThread(st);
        timer.running = false;
    }
    PyObject *list = py.List_New(0);
    for (size_t i = 0; list && i < timer.n; i++) {
        if (!append_pair(list, py.Long_FromLongLong(timer.bytes[i]),
                         py.Float_FromDouble(timer.when[i]))) {
            py.DecRef(list);
            list = NULL;
        }
    }
    timer.n = 0;
    return list;
}

#define METHOD(name) { #name, (PyCFunction)(void (*)(void))c_##name, METH_FASTCALL, NULL }

static PyMethodDef methods[] = {
    METHOD(rss_now), METHOD(rss_of), METHOD(children_rss), METHOD(now), METHOD(sleep),
    METHOD(peak_mark), METHOD(peak_since_mark), METHOD(timer_start), METHOD(timer_stop),
    { NULL, NULL, 0, NULL },
};

PyMethodDef *inproc_methods(void)
{
    return methods;
}
