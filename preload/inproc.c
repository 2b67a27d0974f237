/* inproc: see inproc.h. */
#include "inproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- reading /proc ---- */

static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = 0;
    return n;
}

/* Resident bytes of PID (0: this process), or -1 if it is gone. */
static long long rss_of_pid(int pid)
{
    char path[64], buf[128];
    if (pid == 0)
        strcpy(path, "/proc/self/statm");
    else
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strchr(buf, ' ');
    if (!p)
        return -1;
    return strtoll(p + 1, NULL, 10) * sysconf(_SC_PAGESIZE);
}

/* The parent pid of PID from /proc/PID/stat, or -1. */
static int parent_of(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return -1;
    /* pid (comm) state ppid: comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        return -1;
    return atoi(p + 4);
}

#define MAX_TREE 1024

/* The descendants of ROOT (not ROOT), in pid order, at most MAX: every
 * process whose chain of parents reaches ROOT. Returns how many. */
static int descendants(int root, int *out, int max)
{
    static int pids[32768], parents[32768];
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < (int)(sizeof pids / sizeof pids[0])) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int pid = atoi(e->d_name);
        int ppid = parent_of(pid);
        if (ppid < 0)
            continue;
        pids[n] = pid;
        parents[n] = ppid;
        n++;
    }
    closedir(d);
    int found = 0;
    for (int i = 0; i < n && found < max; i++) {
        int p = parents[i];
        for (int depth = 0; p > 1 && depth < 64; depth++) {
            if (p == root) {
                out[found++] = pids[i];
                break;
            }
            int next = -1;
            for (int j = 0; j < n; j++)
                if (pids[j] == p) {
                    next = parents[j];
                    break;
                }
            p = next;
        }
    }
    return found;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
static PyObject *c_rss_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return py.Long_FromLongLong(rss_of_pid(0));
}

/* rss_of(pid, children=0) -> bytes of pid (and its descendants), -1 if gone */
static PyObject *c_rss_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long pid = 0, children = 0;
    if (!int_arg(args, nargs, 0, &pid) || !int_arg(args, nargs, 1, &children))
        return NULL;
    long long total = rss_of_pid((int)pid);
    if (total >= 0 && children) {
        static int kids[MAX_TREE];
        int n = descendants(pid ? (int)pid : (int)getpid(), kids, MAX_TREE);
        for (int i = 0; i < n; i++) {
            long long r = rss_of_pid(kids[i]);
            if (r > 0)
                total += r;
        }
    }
    return py.Long_FromLongLong(total);
}

/* children_rss(pid) -> [(child pid, bytes)...] of pid's descendants */
static PyObject *c_children_rss(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    long long pid = 0;
    if (!int_arg(args, nargs, 0, &pid))
        return NULL;
    static int kids[MAX_TREE];
    int n = descendants(pid ? (int)pid : (int)getpid(), kids, MAX_TREE);
    PyObject *list = py.List_New(0);
    for (int i = 0; list && i < n; i++) {
        long long r = rss_of_pid(kids[i]);
        if (r < 0)
            continue;
        PyObject *a = py.Long_FromLongLong(kids[i]), *b = py.Long_FromLongLong(r);
        PyObject *t = a && b ? py.Tuple_Pack(2, a, b) : NULL;
        int ok = t ? py.List_Append(list, t) : -1;
        PyObject *refs[] = { a, b, t };
        for (int k = 0; k < 3; k++)
            if (refs[k])
                py.DecRef(refs[k]);
        if (ok < 0) {
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
    if (read_file("/proc/self/status", buf, sizeof buf) <= 0)
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
    long long hwm = high_water_mark(), now = rss_of_pid(0);
    return py.Long_FromLongLong(hwm > now ? hwm : now);
}

#define METHOD(name) { #name, (PyCFunction)(void (*)(void))c_##name, METH_FASTCALL, NULL }

static PyMethodDef methods[] = {
    METHOD(rss_now), METHOD(rss_of), METHOD(children_rss), METHOD(now), METHOD(sleep),
    METHOD(peak_mark), METHOD(peak_since_mark),
    { NULL, NULL, 0, NULL },
};

PyMethodDef *inproc_methods(void)
{
    return methods;
}
