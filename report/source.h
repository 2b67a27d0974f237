/*
 * source: the text of the profiled source files, for the Line Contents
 * column.
 *
 * Files are read once and kept split into lines the way Python's linecache
 * splits them (\n, \r\n or a lone \r end a line; a leading UTF-8 BOM is
 * dropped), because the trace's line numbers were counted by Python's
 * tokenizer.  Bytes are otherwise passed through as they are.  Each file
 * gets at most one warning per run however many tables or sections use it.
 */
#ifndef MEMPROF_REPORT_SOURCE_H
#define MEMPROF_REPORT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "model.h"

typedef struct source_file {
    char *key;              /* path, abspath and cwd of the file record */
    bool readable;
    char *data;
    size_t *line_start;     /* offsets; line N starts at line_start[N-1] */
    size_t *line_len;       /* without its line ending */
    size_t nlines;
} source_file_t;

typedef struct source_cache {
    diag_t *diag;
    source_file_t **files;
    size_t nfiles, cap;
} source_cache_t;

void source_cache_init(source_cache_t *c, diag_t *diag);
void source_cache_destroy(source_cache_t *c);

/*
 * The source of file record F of a section whose header gave CWD (may be
 * NULL): tries F's abspath, then its path under CWD, then its path as is.
 * Warns once if it cannot be read or has changed since it was profiled.
 * Returns NULL only when out of memory.
 */
const source_file_t *source_cache_get(source_cache_t *c, const file_def_t *f, const char *cwd);

/* Line LINENO (1-based) without its line ending; false if there is none. */
bool source_line(const source_file_t *sf, int lineno, const char **text, size_t *len);

#endif
