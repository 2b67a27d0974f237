/* rss: see rss.h. Async-signal-safe: open, pread and close only. */
#include "rss.h"
#include "writer.h"

#include <fcntl.h>
#include <unistd.h>

static int statm_fd = -1;
static int64_t page_size;

bool rss_open(void)
{
    rss_close();
    page_size = sysconf(_SC_PAGESIZE);
    statm_fd = fd_out_of_the_way(open("/proc/self/statm", O_RDONLY | O_CLOEXEC));
    return statm_fd >= 0;
}

void rss_close(void)
{
    if (statm_fd >= 0)
        close(statm_fd);
    statm_fd = -1;
}

int64_t rss_now(void)
{
    /* statm is "size resident shared text lib data dt", in pages. */
    char buf[96];
    ssize_t n = pread(statm_fd, buf, sizeof buf - 1, 0);
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
    return pages * page_size;
}
