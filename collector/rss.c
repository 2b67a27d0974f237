/* rss: see rss.h. Async-signal-safe: open, pread64 and close only. */
#include "rss.h"
#include "writer.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int statm_fd = -1;
static int64_t page_size;

bool rss_open(void)
{
    rss_close();
    page_size = sysconf(_SC_PAGESIZE);
    int fd = fd_out_of_the_way(open("/proc/self/statm", O_RDONLY | O_CLOEXEC));
    __atomic_store_n(&statm_fd, fd, __ATOMIC_RELEASE);
    return fd >= 0;
}

void rss_close(void)
{
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

int64_t rss_now(void)
{
    int fd = __atomic_load_n(&statm_fd, __ATOMIC_ACQUIRE);
    if (fd < 0) {
        /* The first event: the descriptor is opened when something is
         * profiled, not before (a process that profiles nothing holds none). */
        if (!rss_open())
            return -1;
        fd = statm_fd;
    }
    return read_statm(fd);
}

int64_t rss_sample(void)
{
    int fd = __atomic_load_n(&statm_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        return read_statm(fd);
    /* No event yet: a descriptor for this one reading only. */
    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int64_t rss = read_statm(fd);
    close(fd);
    return rss;
}
