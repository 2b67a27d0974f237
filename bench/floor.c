/*
 * floor: what one traced line event costs at the least, measured on this
 * machine in the same benchmark run: the system calls the agent makes per
 * event (a pread() of /proc/self/statm kept open, clock_gettime()) and a
 * few others for scale. Prints one JSON object: nanoseconds per call.
 *
 *   build/bench/floor [ITERATIONS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile long sink;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("/proc/self/statm");
        return 1;
    }
    char buf[96];
    struct timespec ts;
    struct rusage ru;
    double t;

    /* Warm up the paths once. */
    for (long i = 0; i < n / 10; i++)
        sink += pread(fd, buf, sizeof buf - 1, 0);

    t = now();
    for (long i = 0; i < n; i++)
        sink += syscall(SYS_getppid);
    double bare = (now() - t) / n;

    t = now();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    double clk = (now() - t) / n;

    t = now();
    for (long i = 0; i < n; i++)
        sink += pread(fd, buf, sizeof buf - 1, 0);
    double statm = (now() - t) / n;

    t = now();
    for (long i = 0; i < n; i++) {
        sink += pread(fd, buf, sizeof buf - 1, 0);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    double event = (now() - t) / n;

    t = now();
    for (long i = 0; i < n; i++) {
        getrusage(RUSAGE_SELF, &ru);
        sink += ru.ru_maxrss;
    }
    double rusage = (now() - t) / n;

    printf("{\"bare_syscall_ns\":%.1f,\"clock_gettime_ns\":%.1f,\"pread_statm_ns\":%.1f,"
           "\"event_floor_ns\":%.1f,\"getrusage_ns\":%.1f}\n",
           bare, clk, statm, event, rusage);
    return 0;
}
