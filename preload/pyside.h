/*
 * pyside: the agent's Python side (the .py files in preload/, embedded by bootstrap.c)
 * and the C functions it calls that are not about tracing.
 */
#ifndef MEMPROF_PYSIDE_H
#define MEMPROF_PYSIDE_H

#include <stdbool.h>

#include "pyapi.h"

/* Runs bootstrap.py (installs builtins.profile); the interpreter must be
 * initialised, the GIL held, and user code not started yet. */
bool pyside_install(void);
/* The Python side's namespace (a new reference; None before
 * pyside_install succeeded): what the Python package reaches through
 * memprof_attach (preload/agent.c). */
PyObject *pyside_namespace(void);
/* The "import" audit event's arguments: serves memory_profiler from
 * compat.py (unless MEMPROF_COMPAT=0). GIL held; the caller keeps any
 * pending exception. */
void pyside_import_event(PyObject *args);
/* The "exec" audit event's arguments: importlib.import_module's way to
 * memory_profiler (see pyside.c). Same conditions. */
void pyside_exec_event(PyObject *args);

#endif
