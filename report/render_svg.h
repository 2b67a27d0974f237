/*
 * render_svg: memory over time as an SVG plot (--plot, and inline in the
 * HTML page): x in seconds, y in MiB, one line per process, the spans of the
 * profiled functions as shaded bands labelled with the function's name, the
 * peak marked and labelled.
 *
 * Each curve is reduced to the lowest and highest value per pixel column
 * (at most two points per column), so a 1-hour trace draws about as many
 * points as a 1-second one and spikes stay visible.
 */
#ifndef MEMPROF_REPORT_RENDER_SVG_H
#define MEMPROF_REPORT_RENDER_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

/* Plot size in pixels. */
#define SVG_WIDTH 1000
#define SVG_HEIGHT 520

/* STANDALONE adds the XML declaration (a file of its own). Returns 0, or
 * -1 if out of memory. */
int render_svg(FILE *out, const model_t *m, bool standalone);

#endif
