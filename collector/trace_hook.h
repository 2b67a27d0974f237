/*
 * trace_hook: the interpreter-facing side of the collector (see
 * trace_hook.c): the trace callbacks and the C functions that the Python
 * bootstrap calls.
 */
#ifndef MEMPROF_TRACE_HOOK_H
#define MEMPROF_TRACE_HOOK_H

#include <stdbool.h>

#include "pyapi.h"

/* Starts recording to fd (path: the file it is open on, or NULL); the
 * interpreter must be initialised. */
bool trace_hook_init(int fd, const char *path);
/* At each audit event while recording: work that waits for the program
 * (threading's profile hook, see trace_hook.c). */
void trace_hook_audit_event(void);
/* register, enter, leave, warn and the sys.monitoring callbacks, for the
 * bootstrap's namespace. NULL-terminated. */
PyMethodDef *trace_hook_methods(void);

#endif
