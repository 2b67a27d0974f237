/* rss_tp: see rss_tp.h. System calls only (open, read, perf_event_open,
 * mmap, ioctl, getdents64, close), no malloc, no stdio, no lock (a flag
 * that a reader finding it taken goes around): it runs on the per-event
 * path, in the sampler's thread, in fork children and next to signal
 * handlers. */
#include "rss_tp.h"
#include "writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define MAX_THREAD_EVENTS 512
/* 4 MiB of records per CPU: a record is 64 bytes, so 65,536 page faults
 * in a row between two events fit; more and the kernel drops records,
 * which costs one reading of /proc/self/status, not exactness. */
#define RING_PAGES 1024
#define MEMBERS 4       /* file, anon, swap, shmem: the kernel's MM_* */

struct ring {
    struct perf_event_mmap_page *meta;
    const unsigned char *data;
    uint64_t size;          /* a power of two */
};

/* Where a field sits in the tracepoint's raw record (its format file). */
struct field {
    int offset, size;
};

static struct ring rings[MAX_CPUS];
static int nrings;
/* The rings' mappings (one per CPU). A mapping holds its event's file, so
 * the event needs no descriptor of ours. */
static struct mapping {
    void *addr;
    size_t len;
} maps[MAX_CPUS];
static int nmaps;
/* The events of threads that ran before the events were opened, written
 * into a CPU's ring: the kernel refuses to map them (EBUSY), so their
 * descriptors are kept. */
static int thread_fds[MAX_THREAD_EVENTS];
static int nthread_fds;
static bool opened;
static struct field f_curr, f_member, f_size;
static uint32_t own_pid;
/* Each counter's last value and when the kernel reported it. */
static int64_t value[MEMBERS];
static uint64_t value_time[MEMBERS];
/* The highest resident bytes the records went through since the last
 * rss_tp_peak_take(), and whether no record of that interval was lost. */
static int64_t peak;
static bool peak_known, opened_peak;
/* The resident bytes the last folding gave (-1: records were lost). */
static int64_t current = -1;
/* Another thread folds the rings (the sampler's, or a free-threaded
 * interpreter's): this one takes statm. */
static int busy;
/* Records were lost or not understood: no figure until rss_tp_rebase(). */
static bool stale;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A small file read whole into buf (NUL-terminated); its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == cap - 1)
            break;
    }
    close(fd);
    buf[n] = 0;
    return (ssize_t)n;
}

static const char *const tracefs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static long parse_long(const char *p)
{
    long v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    return v;
}

/* "\tfield:<type> <name>;\toffset:N;\tsize:N;..." for the field called name. */
static bool find_field(const char *format, const char *name, struct field *f)
{
    size_t len = strlen(name);
    for (const char *p = strstr(format, "field:"); p; p = strstr(p + 1, "field:")) {
        const char *semi = strchr(p, ';');
        if (!semi || (size_t)(semi - p) < len + 1)
            return false;
        if (memcmp(semi - len, name, len) != 0 || (semi[-len - 1] != ' ' && semi[-len - 1] != '\t'))
            continue;
        const char *o = strstr(semi, "offset:"), *s = strstr(semi, "size:");
        if (!o || !s)
            return false;
        f->offset = (int)parse_long(o + 7);
        f->size = (int)parse_long(s + 5);
        return f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8;
    }
    return false;
}

/* The tracepoint's id and the layout of its fields, or -1. */
static long tracepoint_id(void)
{
    char buf[4096], path[96];
    for (unsigned i = 0; i < sizeof tracefs / sizeof *tracefs; i++) {
        memcpy(path, tracefs[i], strlen(tracefs[i]) + 1);
        strcat(path, "/events/kmem/rss_stat/id");
        if (read_small(path, buf, sizeof buf) <= 0)
            continue;
        long id = parse_long(buf);
        memcpy(path, tracefs[i], strlen(tracefs[i]) + 1);
        strcat(path, "/events/kmem/rss_stat/format");
        struct field mm_id;
        if (id <= 0 || read_small(path, buf, sizeof buf) <= 0 || !find_field(buf, "mm_id", &mm_id)
            || !find_field(buf, "curr", &f_curr) || !find_field(buf, "member", &f_member)
            || !find_field(buf, "size", &f_size))
            return -1;
        return id;
    }
    return -1;
}

static int perf_open(long id, pid_t tid, int cpu, bool newer)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_TRACEPOINT;
    a.size = sizeof a;
    a.config = (uint64_t)id;
    a.sample_period = 1;
    a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW;
    a.inherit = 1;
    /* Threads only, not fork children (which set up their own), and gone
     * at exec (Linux 5.13+). */
    a.inherit_thread = newer;
    a.remove_on_exec = newer;
    /* One clock on every CPU, to tell which of two reports is the later. */
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    /* Nobody waits on the rings: no wake-up until one is full. */
    a.watermark = 1;
    a.wakeup_watermark = RING_PAGES * 4096u;
    return (int)syscall(SYS_perf_event_open, &a, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Whether the kernel lets this process take raw samples of a tracepoint:
 * CAP_PERFMON or CAP_SYS_ADMIN, or perf_event_paranoid -1 (what
 * perf_event_open checks for PERF_SAMPLE_RAW). */
static bool raw_samples_allowed(void)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) == 0) {
        uint64_t eff = (uint64_t)data[1].effective << 32 | data[0].effective;
        if (eff & (1ull << CAP_SYS_ADMIN | 1ull << 38))     /* 38: CAP_PERFMON */
            return true;
    }
    char buf[16];
    if (read_small("/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf) <= 0)
        return false;
    return buf[0] == '-';
}

/*
 * No perf_event_open here: a process that profiles nothing must not pay
 * for one. Opening a tracepoint's first perf event on the machine hooks it
 * and closing its last one unhooks it, and the kernel waits for both
 * (20-50 ms each here, off-CPU). Where this says yes and the opening
 * still fails (a seccomp filter, say), the events come from statm and the
 * trace says so.
 */
bool rss_tp_probe(void)
{
    return tracepoint_id() >= 0 && raw_samples_allowed();
}

/* Maps an event's ring (len bytes) and keeps the mapping; NULL if not. */
static void *map_event(int fd, size_t len)
{
    if (nmaps >= MAX_CPUS)
        return NULL;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return NULL;
    maps[nmaps].addr = m;
    maps[nmaps++].len = len;
    return m;
}

/* Events for the threads that run already, on one CPU, written
 * into that CPU's ring (out). Later threads inherit the first event. */
static bool attach_threads(long id, int cpu, bool newer, int out)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return false;
    char buf[4096];
    long n;
    bool ok = true;
    while (ok && (n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; ok && off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            pid_t tid = (pid_t)parse_long(d->d_name);
            if (tid <= 0 || tid == self)
                continue;
            int tfd = nthread_fds < MAX_THREAD_EVENTS ? perf_open(id, tid, cpu, newer) : -1;
            if (tfd < 0 && errno == ESRCH)
                continue;   /* gone meanwhile */
            if (tfd >= 0)
                thread_fds[nthread_fds++] = tfd = fd_out_of_the_way(tfd);
            ok = tfd >= 0 && ioctl(tfd, PERF_EVENT_IOC_SET_OUTPUT, out) == 0;
        }
    }
    close(dir);
    return ok;
}

static int64_t rebase_held(void);

bool rss_tp_open(void)
{
    rss_tp_close(false);
    long id = tracepoint_id();
    long page = sysconf(_SC_PAGESIZE);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (id < 0 || page <= 0 || ncpu <= 0 || ncpu > MAX_CPUS)
        return false;
    own_pid = (uint32_t)getpid();
    size_t len = (size_t)(RING_PAGES + 1) * (size_t)page;
    bool newer = true;
    for (int cpu = 0; cpu < ncpu; cpu++) {
        int fd = perf_open(id, 0, cpu, newer);
        if (fd < 0 && newer && (errno == EINVAL || errno == E2BIG)) {
            newer = false;
            fd = perf_open(id, 0, cpu, newer);
        }
        if (fd < 0 && errno == ENODEV)
            continue;   /* an offline CPU */
        if (fd < 0)
            goto fail;
        void *m = map_event(fd, len);
        bool attached = m && attach_threads(id, cpu, newer, fd);
        /* Nothing needs this descriptor from here on (no ioctl, no read):
         * the mapping keeps the event. */
        close(fd);
        if (!attached)
            goto fail;
        struct ring *r = &rings[nrings++];
        r->meta = m;
        r->data = (const unsigned char *)m + (r->meta->data_offset ? r->meta->data_offset : (uint64_t)page);
        r->size = r->meta->data_size ? r->meta->data_size : (uint64_t)RING_PAGES * (uint64_t)page;
    }
    /* The counters' values before any other thread (the sampler's) can
     * see the rings. */
    if (nrings == 0 || rebase_held() < 0)
        goto fail;
    __atomic_store_n(&opened, true, __ATOMIC_RELEASE);
    return true;
fail:
    rss_tp_close(false);
    return false;
}

void rss_tp_close(bool fork_child)
{
    __atomic_store_n(&opened, false, __ATOMIC_RELEASE);
    /* Not while the sampler's thread folds (a fork child has no other
     * thread, and a busy flag left by one that was folding at the fork). */
    if (fork_child)
        busy = 0;
    else
        while (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
            sched_yield();
    stale = false;
    opened_peak = false;
    __atomic_store_n(&current, -1, __ATOMIC_RELEASE);
    /* A fork child has no mapping of the rings (the kernel does not copy
     * them), only the threads' descriptors. */
    for (int i = 0; i < nmaps; i++)
        if (!fork_child)
            munmap(maps[i].addr, maps[i].len);
    nmaps = 0;
    nrings = 0;
    for (int i = 0; i < nthread_fds; i++)
        close(thread_fds[i]);
    nthread_fds = 0;
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
}

static int64_t field_value(const unsigned char *raw, uint32_t raw_size, const struct field *f, bool *ok)
{
    if ((uint32_t)(f->offset + f->size) > raw_size) {
        *ok = false;
        return 0;
    }
    const unsigned char *p = raw + f->offset;
    switch (f->size) {
    case 1: { int8_t v; memcpy(&v, p, 1); return v; }
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

static int64_t resident(void)
{
    return value[0] + value[1] + value[3];
}

/* One record of the ring; false if it is not one this module understands
 * (lost records among them). */
static bool fold_record(const unsigned char *rec, uint32_t len)
{
    struct perf_event_header h;
    memcpy(&h, rec, sizeof h);
    if (h.type != PERF_RECORD_SAMPLE)
        return false;
    /* pid, tid, time, raw size, raw data */
    if (len < 28)
        return false;
    uint32_t pid, raw_size;
    uint64_t t;
    memcpy(&pid, rec + 8, 4);
    memcpy(&t, rec + 16, 8);
    memcpy(&raw_size, rec + 24, 4);
    if (28 + raw_size > len)
        return false;
    /* Another process's records: a fork child that inherited the event
     * on a kernel without inherit_thread. */
    if (pid != own_pid)
        return true;
    const unsigned char *raw = rec + 28;
    bool ok = true;
    int64_t curr = field_value(raw, raw_size, &f_curr, &ok);
    int64_t member = field_value(raw, raw_size, &f_member, &ok);
    int64_t size = field_value(raw, raw_size, &f_size, &ok);
    if (!ok)
        return false;
    /* curr 0: another mm than ours, changed by one of our threads. */
    if (!curr || member < 0 || member >= MEMBERS)
        return true;
    if (t >= value_time[member]) {
        value_time[member] = t;
        value[member] = size;
        int64_t now = resident();
        if (now > peak)
            peak = now;
    }
    return true;
}

/* n bytes of ring r from position at (which may wrap around its end). */
static void ring_copy(const struct ring *r, uint64_t at, void *dst, size_t n)
{
    size_t off = (size_t)(at & (r->size - 1));
    size_t first = n < r->size - off ? n : (size_t)(r->size - off);
    memcpy(dst, r->data + off, first);
    memcpy((unsigned char *)dst + first, r->data, n - first);
}

/* When the record at position at was written; 0 (first) for a record
 * that is not a sample, which fold_record() refuses anyway. */
static uint64_t record_time(const struct ring *r, uint64_t at)
{
    struct perf_event_header h;
    ring_copy(r, at, &h, sizeof h);
    uint64_t t = 0;
    if (h.type == PERF_RECORD_SAMPLE && h.size >= 24)
        ring_copy(r, at + 16, &t, sizeof t);
    return t;
}

/*
 * Folds in what arrived in every ring; false if something was lost. The
 * records of all rings are taken in the order of their times (a thread
 * that moved to another CPU reports there), so that the running sum goes
 * through the values the process's RSS had, and its highest is the peak.
 * Mostly one ring has news; then that order is the ring's own.
 */
static bool fold_rings(void)
{
    bool whole = !stale;
    uint64_t head[MAX_CPUS], tail[MAX_CPUS];
    int pending = 0;
    for (int i = 0; i < nrings; i++) {
        struct ring *r = &rings[i];
        head[i] = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
        tail[i] = r->meta->data_tail;
        if (head[i] == tail[i])
            continue;
        /* A ring filled up to the last record's room has dropped records,
         * and says so (PERF_RECORD_LOST) only once there is room again:
         * a full ring is a loss now. */
        if (head[i] - tail[i] > r->size - 512)
            whole = false;
        if (head[i] - tail[i] > r->size)
            tail[i] = head[i];
        else
            pending++;
    }
    while (pending > 0) {
        int next = -1;
        uint64_t next_time = 0;
        for (int i = 0; i < nrings; i++) {
            if (tail[i] >= head[i])
                continue;
            uint64_t t = pending > 1 ? record_time(&rings[i], tail[i]) : 0;
            if (next < 0 || t < next_time) {
                next = i;
                next_time = t;
            }
        }
        struct ring *r = &rings[next];
        unsigned char copy[256];
        struct perf_event_header h;
        ring_copy(r, tail[next], &h, sizeof h);
        uint64_t at = tail[next] & (r->size - 1);
        const unsigned char *rec = r->data + at;
        if (h.size < sizeof h || h.size > head[next] - tail[next]) {
            whole = false;
            tail[next] = head[next];
        } else if (at + h.size > r->size && h.size > sizeof copy) {
            whole = false;
            tail[next] += h.size;
        } else {
            if (at + h.size > r->size) {
                /* Wrapped around the ring's end. */
                ring_copy(r, tail[next], copy, h.size);
                rec = copy;
            }
            if (!fold_record(rec, h.size))
                whole = false;
            tail[next] += h.size;
        }
        if (tail[next] >= head[next])
            pending--;
    }
    if (!whole)
        peak_known = false;
    __atomic_store_n(&current, whole ? resident() : -1, __ATOMIC_RELEASE);
    for (int i = 0; i < nrings; i++)
        if (rings[i].meta->data_tail != head[i])
            __atomic_store_n(&rings[i].meta->data_tail, head[i], __ATOMIC_RELEASE);
    return whole;
}

/* Whether a ring has records not folded in yet: one load per ring, the
 * whole cost of a reading when nothing changed. */
static bool rings_have_news(void)
{
    for (int i = 0; i < nrings; i++)
        if (__atomic_load_n(&rings[i].meta->data_head, __ATOMIC_ACQUIRE)
            != __atomic_load_n(&rings[i].meta->data_tail, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

/* Folds; the caller holds busy. -1 while records are missing. */
static int64_t fold_held(void)
{
    if (fold_rings())
        return resident();
    stale = true;
    return -1;
}

int64_t rss_tp_read(void)
{
    if (!opened)
        return -1;
    /* Nothing new: the figure the last folding left (stored before it
     * moved the tails on; -1 after a loss, until rss_tp_rebase()). */
    if (!rings_have_news())
        return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
    if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return -1;
    int64_t rss = fold_held();
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    return rss;
}

/* "RssAnon:\t   1234 kB" in /proc/self/status, in bytes, or -1. */
static int64_t status_kib(const char *buf, const char *key)
{
    size_t len = strlen(key);
    for (const char *p = buf; (p = strstr(p, key)); p += len)
        if (p == buf || p[-1] == '\n') {
            p += len;
            while (*p == ' ' || *p == '\t')
                p++;
            return (int64_t)parse_long(p) * 1024;
        }
    return -1;
}

/* The counters from /proc/self/status (opened for this reading only: a
 * rare one), the rings emptied; the caller holds busy. */
static int64_t rebase_held(void)
{
    char buf[4096];
    /* Reports older than this reading are in it; newer ones replace it. */
    uint64_t t = monotonic_ns();
    if (read_small("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    int64_t file = status_kib(buf, "RssFile:"), anon = status_kib(buf, "RssAnon:"),
            shmem = status_kib(buf, "RssShmem:");
    if (file < 0 || anon < 0 || shmem < 0)
        return -1;
    value[0] = file;
    value[1] = anon;
    value[3] = shmem;
    for (int m = 0; m < MEMBERS; m++)
        value_time[m] = t;
    if (!opened_peak) {
        opened_peak = true;
        peak = resident();
        peak_known = true;
    }
    stale = false;
    int64_t rss = fold_held();
    if (rss > peak)
        peak = rss;
    return rss;
}

int64_t rss_tp_rebase(void)
{
    if (!opened || __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return -1;
    int64_t rss = rebase_held();
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    return rss;
}

int64_t rss_tp_sample(void)
{
    if (!__atomic_load_n(&opened, __ATOMIC_ACQUIRE))
        return -1;
    /* An event folding at this moment takes tens of nanoseconds; one that
     * was preempted meanwhile: statm instead. */
    for (int turns = 0; __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE); turns++) {
        if (turns == 100)
            return -1;
        sched_yield();
    }
    int64_t rss = fold_held();
    if (rss < 0)
        rss = rebase_held();
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    return rss;
}

int64_t rss_tp_peak_take(void)
{
    if (!opened || __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return -1;
    int64_t highest = peak_known ? peak : -1;
    peak = resident();
    peak_known = true;
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    return highest;
}
