/* tree: see tree.h. */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "proctree.h"

/* Processes followed at once; more are in no sample. */
#define MAX_PROCS 1024

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool tree_init(tree_sampler_t *t, uint64_t interval_ns, bool per_process)
{
    memset(t, 0, sizeof *t);
    t->interval_ns = interval_ns;
    t->per_process = per_process;
    t->records = tmpfile();
    return t->records != NULL;
}

/* A command line as a JSON string: bytes that are not UTF-8 become '?'
 * (jansson takes UTF-8 only). */
static json_t *command_string(const char *command)
{
    json_t *s = json_string(command);
    if (s)
        return s;
    char safe[sizeof ((struct tree_named *)0)->command];
    size_t i;
    for (i = 0; command[i] && i + 1 < sizeof safe; i++)
        safe[i] = (unsigned char)command[i] < 0x80 ? command[i] : '?';
    safe[i] = 0;
    return json_string(safe);
}

/* A tree_proc record the first time PID is seen, and again when its
 * command changed (a fork child that has since exec'd). */
static void name_process(tree_sampler_t *t, int pid)
{
    char command[sizeof ((struct tree_named *)0)->command];
    proctree_command(pid, command, sizeof command);
    if (!command[0])
        return;
    size_t i;
    for (i = 0; i < t->nnamed && t->named[i].pid != pid; i++)
        ;
    if (i < t->nnamed && !strcmp(t->named[i].command, command))
        return;
    if (i == t->nnamed) {
        if (t->nnamed == t->named_cap) {
            size_t cap = t->named_cap ? 2 * t->named_cap : 16;
            struct tree_named *p = realloc(t->named, cap * sizeof *p);
            if (!p)
                return;
            t->named = p;
            t->named_cap = cap;
        }
        t->named[t->nnamed++].pid = pid;
    }
    snprintf(t->named[i].command, sizeof t->named[i].command, "%s", command);
    json_t *r = json_pack("{s:s,s:i,s:i,s:o}", "k", "tree_proc", "pid", pid,
                          "ppid", proctree_parent(pid), "command", command_string(command));
    char *line = r ? json_dumps(r, JSON_COMPACT) : NULL;
    if (line)
        fprintf(t->records, "%s\n", line);
    free(line);
    json_decref(r);
}

static void sample(tree_sampler_t *t, pid_t root)
{
    static int pids[MAX_PROCS];
    uint64_t now = monotonic_ns();
    static long long rss[MAX_PROCS];
    pids[0] = (int)root;
    rss[0] = proctree_rss((int)root);
    /* The command has ended (a zombie has no pages) and waits to be
     * reaped: the tree is no more. */
    if (rss[0] <= 0)
        return;
    int n = 1 + proctree_descendants((int)root, pids + 1, MAX_PROCS - 1);
    long long total = rss[0];
    for (int i = 1; i < n; i++) {
        rss[i] = proctree_rss(pids[i]);
        if (rss[i] > 0)
            total += rss[i];
    }
    if (t->per_process)
        for (int i = 0; i < n; i++)
            if (rss[i] >= 0)
                name_process(t, pids[i]);
    fprintf(t->records, "{\"k\":\"tree_sample\",\"t_ns\":%llu,\"rss\":%lld", (unsigned long long)now,
            total);
    if (t->per_process) {
        fputs(",\"procs\":[", t->records);
        for (int i = 0, k = 0; i < n; i++)
            if (rss[i] >= 0)
                fprintf(t->records, "%s[%d,%lld]", k++ ? "," : "", pids[i], rss[i]);
        fputc(']', t->records);
    }
    fputs("}\n", t->records);
    t->samples++;
}

int tree_wait(tree_sampler_t *t, pid_t root)
{
    fprintf(t->records, "{\"k\":\"tree\",\"root\":%d,\"interval_ns\":%llu,\"per_process\":%s}\n",
            (int)root, (unsigned long long)t->interval_ns, t->per_process ? "true" : "false");
    int status;
    uint64_t next = monotonic_ns();
    for (;;) {
        pid_t r = waitpid(root, &status, WNOHANG);
        if (r == root)
            break;
        if (r < 0 && errno != EINTR) {
            /* As the launcher's own wait (memprof.c's die()). */
            fprintf(stderr, "memprof: waitpid: %s\n", strerror(errno));
            exit(2);
        }
        sample(t, root);
        /* On a fixed grid, so that a slow sample does not stretch it. */
        next += t->interval_ns;
        uint64_t now = monotonic_ns();
        if (next < now)
            next = now;
        struct timespec ts = {(time_t)((next - now) / 1000000000u), (long)((next - now) % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return status;
}

bool tree_append(tree_sampler_t *t, const char *trace, bool create)
{
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    int fd = open(trace, flags);
    if (fd < 0 && errno == ENOENT && create)
        fd = open(trace, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        if (errno != ENOENT)
            fprintf(stderr, "memprof: cannot add the process tree's samples to %s: %s\n", trace,
                    strerror(errno));
        return false;
    }
    /* Whole lines per write(): a process of the run that outlived the
     * command may still be appending its own. */
    char buf[65536];
    size_t have = 0;
    bool ok = fflush(t->records) == 0 && fseek(t->records, 0, SEEK_SET) == 0;
    while (ok) {
        size_t n = fread(buf + have, 1, sizeof buf - have, t->records);
        have += n;
        size_t whole = have;
        if (n > 0)
            while (whole > 0 && buf[whole - 1] != '\n')
                whole--;
        if (whole == 0)
            break;
        ok = write(fd, buf, whole) == (ssize_t)whole;
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    if (!ok)
        fprintf(stderr, "memprof: cannot add the process tree's samples to %s: %s\n", trace,
                strerror(errno));
    close(fd);
    return ok;
}

void tree_destroy(tree_sampler_t *t)
{
    if (t->records)
        fclose(t->records);
    free(t->named);
    memset(t, 0, sizeof *t);
}
