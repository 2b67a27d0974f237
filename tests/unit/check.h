/*
 * check: the unit tests' assertion macro.  A failed CHECK reports and lets
 * the test go on, so one run shows every failure; check_summary() prints the
 * "N passed, N failed" line the test runner looks for.
 */
#ifndef MEMPROF_TEST_CHECK_H
#define MEMPROF_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_STR(got, want)                                                 \
    do {                                                                     \
        const char *got_ = (got), *want_ = (want);                           \
        if (strcmp(got_, want_) == 0) {                                      \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__,    \
                    __LINE__, got_, want_);                                  \
        }                                                                    \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
