/*
 * mp_table: memory_profiler 0.61's table, its rule and its text layout, in
 * one place. Compiled into both the agent (collector/agg.c keeps tables in
 * the process; preload/pyside.c prints them per call, as memory_profiler's
 * imported @profile does) and the report (report/table.c, render_table.c),
 * so the two can never disagree by a byte.
 *
 * No allocation and no stdio: the agent calls the rule on its per-event
 * path, and the text goes into caller-owned buffers.
 */
#ifndef MEMPROF_MP_TABLE_H
#define MEMPROF_MP_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* memory_profiler's CodeMap.trace for one charge of a line.
 *
 * The base a sample is charged against: the previous line's Mem usage
 * (its largest sample) if that line was measured in this table, else 0. */
double mp_base(bool prev_measured, double prev_max);
/* Increment += DELTA (memory_profiler: MEM - base), Mem usage = the larger
 * of it and MEM, Occurrences + 1; in this order, for bit-equal doubles. */
void mp_charge(double *inc, double *max, unsigned long long *count, double mem, double delta);

/* ---- the text ---- */

#define MP_HEADER_START "Line #    Mem usage    Increment"
#define MP_HEADER_END "  Occurrences   Line Contents"
/* What an unmeasured row has between its line number and its source. */
#define MP_BLANK_CELLS 41

/* Each returns the length it wrote, or would have written (as snprintf);
 * the text is NUL-terminated when CAP > 0. */

/* Python's '{0:%d.%df} MiB' % (p+4, p), "-0.000" included. */
int mp_format_mib(char *buf, size_t cap, double mib, int precision);
/* The header line with EXTRA columns (may be "") before Occurrences, then
 * the rule of '=' as long as it, each line ending in "\n". */
int mp_format_header(char *buf, size_t cap, const char *extra);
/* A row up to its source text: "%6d %12s %12s" (the Increment cell
 * between INC_ON and INC_OFF, a colour), EXTRA cells, "  %10llu   ";
 * unmeasured, the line number and MP_BLANK_CELLS + EXTRA_BLANK spaces. */
int mp_format_row(char *buf, size_t cap, long long line, bool measured, double max, double inc,
                  unsigned long long count, int precision, const char *inc_on,
                  const char *inc_off, const char *extra, int extra_blank);

#endif
