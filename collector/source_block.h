/*
 * source_block: the rows of a profiled function's table, found in its
 * source text without Python: from the line inspect.getsourcelines starts
 * at (the first decorator) to the end of the block as its tokenizer-driven
 * block finder ends it (indented trailing comments included, trailing
 * blank lines not). The rules follow the running interpreter's version:
 * they changed in 3.10 (decorators), 3.12 (the tokenizer) and 3.13 (no
 * search backwards from co_firstlineno).
 */
#ifndef MEMPROF_SOURCE_BLOCK_H
#define MEMPROF_SOURCE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* A source file's text, kept to find the blocks of several functions. */
struct source_text;

/* src: the file's bytes as read (any newline convention, a UTF-8 BOM, no
 * final newline are all fine). NULL without memory. */
struct source_text *source_text_new(const char *src, size_t len);
void source_text_free(struct source_text *t);
/* Line `line` (1-based) with its newline, as linecache gives it; false past
 * the end. */
bool source_text_line(const struct source_text *t, int line, const char **text, size_t *len);

/*
 * firstlineno: the code object's co_firstlineno; whole_file: a module's
 * code (every line of the file); minor: the interpreter's 3.<minor>. On
 * success sets *first and *last (1-based, inclusive) and returns true;
 * false where inspect would raise.
 */
bool source_text_block(const struct source_text *t, int firstlineno, bool whole_file, int minor,
                       int *first, int *last);

#endif
