/* rss: see rss.h. Async-signal-safe: open, pread64 and close only (and
 * rss_tp's system calls). The sampler's thread reads too (rss_sample()):
 * what it shares with the events is read and written atomically. */
#include "rss.h"
#include "rss_tp.h"
#include "sampler.h"
#include "writer.h"

#include <string.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int statm_fd = -1;
static int64_t page_size;

enum mode { MODE_AUTO, MODE_STATM, MODE_CHECK };
static enum mode mode;
static bool decided;
static enum rss_source chosen;      /* what the trial said */
static enum rss_source used;        /* what the events got */
static bool tp_open;
static uint64_t recheck_ns = 10000000ull;
static uint64_t last_check_ns;
static uint64_t check_events, check_disagreements, check_lost;

bool rss_configure(const char *v)
{
    if (!v || !*v || !strcmp(v, "auto") || !strcmp(v, "tracepoint"))
        mode = MODE_AUTO;
    else if (!strcmp(v, "statm"))
        mode = MODE_STATM;
    else if (!strcmp(v, "check"))
        mode = MODE_CHECK;
    else
        return false;
    return true;
}

void rss_set_recheck(uint64_t interval_ns)
{
    if (interval_ns)
        recheck_ns = interval_ns;
}

const char *rss_source_name(enum rss_source s)
{
    return s == RSS_TRACEPOINT ? "tracepoint" : s == RSS_CHECK ? "check" : "statm";
}

enum rss_source rss_source(void)
{
    if (!decided) {
        decided = true;
        chosen = RSS_STATM;
        if (mode != MODE_STATM && rss_tp_probe())
            chosen = mode == MODE_CHECK ? RSS_CHECK : RSS_TRACEPOINT;
        used = chosen;
    }
    return chosen;
}

enum rss_source rss_source_used(void)
{
    return used;
}

void rss_check_counts(uint64_t *events, uint64_t *disagreements, uint64_t *lost)
{
    *events = check_events;
    *disagreements = check_disagreements;
    *lost = check_lost;
}

/* statm read through a descriptor opened for this reading only. */
static int64_t statm_once(void);

/* The first event: the source is opened when something is profiled, not
 * before. statm and check keep /proc/self/statm open (a pread per event);
 * the tracepoint keeps no descriptor (rss_tp.h) and reads statm now and
 * then through one opened for the reading. */
static bool open_source(uint64_t now_ns)
{
    if (rss_source() != RSS_STATM) {
        /* The sampler's thread is not there meanwhile: started again from
         * this thread, it inherits this thread's events (a thread that
         * runs already needs events of its own, whose descriptors the
         * process would then hold). */
        bool sampling = sampler_running();
        if (sampling)
            sampler_pause(false);
        bool ok = rss_tp_open();
        used = ok ? chosen : RSS_STATM;
        last_check_ns = now_ns;
        __atomic_store_n(&tp_open, ok, __ATOMIC_RELEASE);
        if (sampling)
            sampler_unpause();
        if (ok && used == RSS_TRACEPOINT)
            return true;
    }
    return rss_open();
}

bool rss_open(void)
{
    int old = __atomic_exchange_n(&statm_fd, -1, __ATOMIC_ACQ_REL);
    if (old >= 0)
        close(old);
    page_size = sysconf(_SC_PAGESIZE);
    int fd = fd_out_of_the_way(open("/proc/self/statm", O_RDONLY | O_CLOEXEC));
    __atomic_store_n(&statm_fd, fd, __ATOMIC_RELEASE);
    return fd >= 0;
}

void rss_close(void)
{
    if (tp_open)
        rss_tp_close(false);
    __atomic_store_n(&tp_open, false, __ATOMIC_RELEASE);
    int fd = __atomic_exchange_n(&statm_fd, -1, __ATOMIC_ACQ_REL);
    if (fd >= 0)
        close(fd);
}

/* statm is "size resident shared text lib data dt", in pages. */
static int64_t read_statm(int fd)
{
    char buf[96];
    /* The system call itself: glibc's pread() is a cancellation point and
     * wraps the call in enabling and disabling asynchronous cancellation,
     * a tenth of the agent's own instructions per event. */
    ssize_t n = syscall(SYS_pread64, fd, buf, sizeof buf - 1, (off_t)0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = buf;
    while (*p && *p != ' ')
        p++;
    if (*p != ' ')
        return -1;
    p++;
    int64_t pages = 0;
    while (*p >= '0' && *p <= '9')
        pages = pages * 10 + (*p++ - '0');
    if (!page_size)
        page_size = sysconf(_SC_PAGESIZE);
    return pages * page_size;
}

static int64_t statm_once(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int64_t rss = read_statm(fd);
    close(fd);
    return rss;
}

int64_t rss_now(uint64_t now_ns)
{
    if (!tp_open) {
        int fd = __atomic_load_n(&statm_fd, __ATOMIC_ACQUIRE);
        if (fd < 0) {
            if (!open_source(now_ns))
                return -1;
            fd = __atomic_load_n(&statm_fd, __ATOMIC_ACQUIRE);
        }
        if (!tp_open)
            return read_statm(fd);
    }
    int64_t fast = rss_tp_read();
    if (used == RSS_CHECK) {
        int64_t statm = read_statm(statm_fd);
        check_events++;
        if (fast < 0)
            check_lost++;
        else if (fast != statm)
            check_disagreements++;
        if (fast != statm)
            rss_tp_rebase();
        return statm;
    }
    /* Now and then, and whenever records were lost: statm's figure, and
     * the counters taken again if the two differ (a change made outside
     * the process's threads: reclaim, khugepaged, KSM). */
    if (fast < 0 || now_ns - last_check_ns >= recheck_ns) {
        last_check_ns = now_ns;
        int64_t statm = statm_once();
        /* No descriptor to be had (the program has used them up): the
         * rings' figure, if they have one. */
        if (statm < 0)
            return fast;
        if (fast != statm)
            rss_tp_rebase();
        return statm;
    }
    return fast;
}

int64_t rss_peak_take(void)
{
    return tp_open && used == RSS_TRACEPOINT ? rss_tp_peak_take() : -1;
}

void rss_after_fork_child(void)
{
    /* The rings are not copied into a child. */
    if (tp_open)
        rss_tp_close(true);
    tp_open = false;
    decided = false;
    check_events = check_disagreements = check_lost = 0;
    rss_close();
}

int64_t rss_sample(void)
{
    /* The tracepoint's figure where the events have it: no descriptor. */
    if (__atomic_load_n(&tp_open, __ATOMIC_ACQUIRE) && used == RSS_TRACEPOINT) {
        int64_t rss = rss_tp_sample();
        if (rss >= 0)
            return rss;
    }
    int fd = __atomic_load_n(&statm_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        return read_statm(fd);
    /* No event yet, or the tracepoint without a figure: a descriptor for
     * this reading only. */
    return statm_once();
}
