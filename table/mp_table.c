/* mp_table: see mp_table.h. C's "%*.*f" and Python's "{:w.pf}" both round
 * the exact binary value to nearest, ties to even, so snprintf gives
 * memory_profiler's digits. */
#include "mp_table.h"

#include <stdio.h>
#include <string.h>

double mp_base(bool prev_measured, double prev_max)
{
    return prev_measured ? prev_max : 0.0;
}

void mp_charge(double *inc, double *max, unsigned long long *count, double mem, double delta)
{
    *inc += delta;
    if (mem > *max)
        *max = mem;
    (*count)++;
}

int mp_format_mib(char *buf, size_t cap, double mib, int precision)
{
    return snprintf(buf, cap, "%*.*f MiB", precision + 4, precision, mib);
}

int mp_format_header(char *buf, size_t cap, const char *extra)
{
    int width = (int)(strlen(MP_HEADER_START) + strlen(extra) + strlen(MP_HEADER_END));
    int n = snprintf(buf, cap, "%s%s%s\n", MP_HEADER_START, extra, MP_HEADER_END);
    for (int i = 0; i < width; i++, n++)
        if ((size_t)n + 1 < cap)
            buf[n] = '=';
    if ((size_t)n + 1 < cap) {
        buf[n] = '\n';
        buf[n + 1] = 0;
    } else if (cap > 0) {
        buf[cap - 1] = 0;
    }
    return n + 1;
}

int mp_format_row(char *buf, size_t cap, long long line, bool measured, double max, double inc,
                  unsigned long long count, int precision, const char *inc_on,
                  const char *inc_off, const char *extra, int extra_blank)
{
    /* A double has at most 309 integer digits; 15 decimals, sign, " MiB". */
    char mem_cell[400], inc_cell[400];
    if (!measured)
        return snprintf(buf, cap, "%6lld%*s", line, MP_BLANK_CELLS + extra_blank, "");
    mp_format_mib(mem_cell, sizeof mem_cell, max, precision);
    mp_format_mib(inc_cell, sizeof inc_cell, inc, precision);
    return snprintf(buf, cap, "%6lld %12s %s%12s%s%s  %10llu   ", line, mem_cell, inc_on, inc_cell,
                    inc_off, extra, count);
}
