/*
 * inproc: the C functions behind the Python package and memory_profiler's
 * API (python/memprof, preload/compat.py): memory now, the peak since a
 * mark, and sampling a process (or its tree) over time in a thread of the
 * agent's, not with psutil. None of it is on the per-line path.
 */
#ifndef MEMPROF_INPROC_H
#define MEMPROF_INPROC_H

#include "pyapi.h"

/* The functions for the Python side's _c. NULL-terminated. */
PyMethodDef *inproc_methods(void);

#endif
