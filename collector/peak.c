/* peak: see peak.h. Syscalls only: it runs on the per-event path. */
#include "peak.h"
#include "writer.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

static int clear_refs_fd = -1;
static int status_fd = -1;      /* for when getrusage cannot tell */
/* getrusage() also reports the peak of the image this process was exec'd
 * from (a big parent of a spawned child, say), which no reset clears: it
 * returns max(that, our mark). Above that value it is our mark; at it, our
 * mark is hidden and /proc/self/status is read instead (slower). */
static int64_t exec_floor;

static void reset_mark(void)
{
    (void)!pwrite(clear_refs_fd, "5", 1, 0);
}

/* VmHWM from /proc/self/status, in bytes. */
static int64_t status_hwm(void)
{
    char buf[4096];
    ssize_t n = pread(status_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    for (char *p = buf; *p; p++) {
        if ((p == buf || p[-1] == '\n') && p[0] == 'V' && p[1] == 'm' && p[2] == 'H' && p[3] == 'W'
            && p[4] == 'M' && p[5] == ':') {
            int64_t kib = 0;
            for (p += 6; *p == ' ' || *p == '\t'; p++)
                ;
            while (*p >= '0' && *p <= '9')
                kib = kib * 10 + (*p++ - '0');
            return kib * 1024;
        }
    }
    return -1;
}

static int64_t mark_now(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    int64_t mark = (int64_t)ru.ru_maxrss * 1024;
    if (exec_floor && mark <= exec_floor && status_fd >= 0)
        return status_hwm();
    return mark;
}

static int64_t rss_kib_now(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    char buf[96];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = buf;
    while (*p && *p != ' ')
        p++;
    int64_t pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (*p - '0');
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

bool peak_open(void)
{
    if (clear_refs_fd >= 0)
        close(clear_refs_fd);
    if (status_fd >= 0)
        close(status_fd);
    status_fd = -1;
    clear_refs_fd = fd_out_of_the_way(open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC));
    if (clear_refs_fd < 0)
        return false;
    reset_mark();
    struct rusage ru;
    int64_t rss = rss_kib_now();
    exec_floor = 0;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || rss < 0)
        return false;
    if (ru.ru_maxrss > rss + 64) {
        exec_floor = (int64_t)ru.ru_maxrss * 1024;
        status_fd = fd_out_of_the_way(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
        if (status_fd < 0)
            return false;
    }
    return true;
}

int64_t peak_take(int64_t rss_now)
{
    int64_t mark = mark_now();
    int64_t peak = mark > rss_now ? mark : rss_now;
    /* The next interval starts at the RSS now: bring the mark down to it
     * if memory was released (otherwise it is there already). */
    if (mark > rss_now)
        reset_mark();
    return peak;
}

int64_t peak_take_known(int64_t rss_now, int64_t peak)
{
    if (peak <= rss_now)
        return rss_now;
    reset_mark();
    return peak;
}

void peak_after_fork_child(void)
{
    if (clear_refs_fd >= 0)
        peak_open();
}
