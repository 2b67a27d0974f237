/* proctree: see proctree.h. */
#include "proctree.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t proctree_read(const char *path, char *buf, size_t size)
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

long long proctree_rss(int pid)
{
    char path[64], buf[128];
    if (pid == 0)
        strcpy(path, "/proc/self/statm");
    else
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
    if (proctree_read(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strchr(buf, ' ');
    if (!p)
        return -1;
    return strtoll(p + 1, NULL, 10) * sysconf(_SC_PAGESIZE);
}

int proctree_parent(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (proctree_read(path, buf, sizeof buf) <= 0)
        return -1;
    /* pid (comm) state ppid: comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        return -1;
    return atoi(p + 4);
}

/* Appends PID's children (of all its threads) to OUT from N; returns the
 * new count, or -1 if the kernel has no children files. */
static int children_of(int pid, int *out, int n, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return n;       /* gone meanwhile: no children */
    bool any_file = false;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char file[320], buf[4096];
        snprintf(file, sizeof file, "/proc/%d/task/%s/children", pid, e->d_name);
        ssize_t len = proctree_read(file, buf, sizeof buf);
        if (len < 0)
            continue;
        any_file = true;
        for (char *p = buf; *p && n < max;) {
            char *end;
            long child = strtol(p, &end, 10);
            if (end == p)
                break;
            out[n++] = (int)child;
            p = end;
        }
    }
    closedir(d);
    return any_file || n > 0 ? n : -1;
}

/* Every process's parent from /proc/PID/stat: the way without children
 * files (CONFIG_PROC_CHILDREN off). */
static int descendants_by_scan(int root, int *out, int max)
{
    enum { MAX_PROCS = 32768 };
    int *pids = malloc(2 * MAX_PROCS * sizeof *pids), *parents = pids + MAX_PROCS;
    int n = 0;
    DIR *d = pids ? opendir("/proc") : NULL;
    if (!d) {
        free(pids);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_PROCS) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int pid = atoi(e->d_name);
        int ppid = proctree_parent(pid);
        if (ppid < 0)
            continue;
        pids[n] = pid;
        parents[n] = ppid;
        n++;
    }
    closedir(d);
    /* Breadth first from ROOT: parents come before their children. */
    int found = 0;
    for (int at = -1; at < found && found < max; at++) {
        int parent = at < 0 ? root : out[at];
        for (int i = 0; i < n && found < max; i++)
            if (parents[i] == parent && pids[i] != root)
                out[found++] = pids[i];
    }
    free(pids);
    return found;
}

int proctree_descendants(int root, int *out, int max)
{
    int found = 0;
    for (int at = -1; at < found; at++) {
        int n = children_of(at < 0 ? root : out[at], out, found, max);
        if (n < 0 && at < 0)
            return descendants_by_scan(root, out, max);
        if (n > found)
            found = n;
    }
    return found;
}

void proctree_command(int pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    ssize_t n = proctree_read(path, buf, size);
    if (n <= 0) {
        buf[0] = 0;
        return;
    }
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
}
