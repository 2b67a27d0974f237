/*
 * warn: the agent's only voice. One line on stderr, written with write(),
 * at most once per process: after the first problem the agent switches
 * itself off, so later ones would only repeat it.
 */
#ifndef MEMPROF_WARN_H
#define MEMPROF_WARN_H

#include <stdbool.h>

/* "memprof: warning: <what>\n"; returns false so callers can `return warn(...)`. */
bool warn(const char *what);
/* "memprof: warning: <what>: <strerror(err)>\n". */
bool warn_errno(const char *what, int err);
/* Whether a warning was already given in this process. */
bool warn_given(void);
/* Forget the warning (a fresh process image after exec has its own). */
void warn_reset(void);

#endif
