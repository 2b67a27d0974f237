/*
 * render_table: memory_profiler's text table, byte for byte.
 *
 * One renderer among the later ones (JSON, CSV, HTML, diff): it reads the
 * model and the source cache and writes a stream, nothing else.  Process
 * headings are added only when there is more than one section, so that a
 * single-process report is identical to memory_profiler's.
 */
#ifndef MEMPROF_REPORT_RENDER_TABLE_H
#define MEMPROF_REPORT_RENDER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"
#include "source.h"

#define RENDER_MAX_PRECISION 15

typedef struct render_options {
    int precision;          /* digits after the point, 0..15 */
    bool peak;              /* add the Peak column (the trace has peaks) */
    bool heap;              /* add Allocated, Freed, Heap peak */
    bool colour;            /* ANSI colours (a terminal, NO_COLOR unset) */
    size_t top;             /* --top N: the N most expensive lines (0: all) */
    bool merge_processes;   /* --processes merge: a pool's tables as one section */
    bool plot_split;        /* --processes split: the plot draws no pool as one */
} render_options_t;

/* ANSI escapes for colour in text output. */
#define COLOUR_GROW "\033[31m"
#define COLOUR_SHRINK "\033[32m"
#define COLOUR_DIM "\033[2m"
#define COLOUR_OFF "\033[0m"

/* Python's '{0:%d.%df} MiB' % (p+4, p): writes at most CAP-1 bytes and a
 * NUL into BUF and returns the length it has (as snprintf). */
int render_mib(char *buf, size_t cap, double mib, int precision);

/* Writes one function's table. */
void render_function_table(FILE *out, const func_table_t *t, const char *filename,
                           const source_file_t *src, const render_options_t *o);

/* In the artefact note's text, a space lines must not be broken at
 * ("2.668 MiB"); shown as a space. */
#define RENDER_NOTE_NBSP '\x1f'

/* The artefact note of T as one paragraph (malloc'd, in *TEXT), or NULL in
 * *TEXT if no row of T is a compat artefact.  Returns 0, or -1 if out of
 * memory. */
int render_artefact_text(const func_table_t *t, const render_options_t *o, char **text);

/* Under T's table (after its blank lines), once: which rows' Increments are
 * compat artefacts (table_is_artefact) and what those lines cost; nothing
 * if none is.  Returns 0, or -1 if out of memory. */
int render_artefact_note(FILE *out, const func_table_t *t, const render_options_t *o);

/* Writes every section's tables, each followed by its artefact note.  Returns 0, or -1 if out of memory. */
int render_tables(FILE *out, const model_t *m, source_cache_t *sources,
                  const render_options_t *o);

/* --top N in text: the N lines with the largest exact-mode increment
 * (rank.h) across every table, with it, the Increment as --mode gives it,
 * Mem usage, Occurrences, function, file:line and source.
 * Returns 0, or -1 if out of memory. */
int render_top(FILE *out, const model_t *m, source_cache_t *sources, const render_options_t *o);

#endif
