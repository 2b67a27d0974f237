/*
 * render_svg: memory over time as an SVG plot (--plot, and inline in the
 * HTML page): x in seconds, y in MiB, one line per process (or per pool),
 * a legend naming them above, the peak marked and labelled with the line
 * that ran then, and under the time axis a lane per profiled function
 * showing when it ran.
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

/* Plot width in pixels; the height follows from the legend's rows and
 * the number of profiled functions. */
#define SVG_WIDTH 1000

/* STANDALONE adds the XML declaration (a file of its own).  The processes
 * of one pool (model_process_groups) are drawn as their sum, each faint
 * beneath it, unless SPLIT_PROCESSES; with several processes a dashed line
 * is their total.  Returns 0, or -1 if out of memory. */
int render_svg(FILE *out, const model_t *m, bool standalone, bool split_processes);

#endif
