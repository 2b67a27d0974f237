/* warn: see warn.h. write() only: it may run in _exit or a fork handler. */
#include "warn.h"

#include <string.h>
#include <unistd.h>

static bool given;

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(2, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

bool warn_errno(const char *what, int err)
{
    if (given)
        return false;
    given = true;
    put("memprof: warning: ");
    put(what);
    if (err) {
        /* strerrordesc_np neither allocates nor depends on the locale. */
        const char *desc = strerrordesc_np(err);
        put(": ");
        put(desc ? desc : "unknown error");
    }
    put("\n");
    return false;
}

bool warn(const char *what)
{
    return warn_errno(what, 0);
}

bool warn_given(void)
{
    return given;
}

void warn_reset(void)
{
    given = false;
}
