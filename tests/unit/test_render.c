/* Unit tests of the number formatting and row layout of render_table,
 * against strings Python's format() gives for the same values. */
#include <stdlib.h>

#include "check.h"
#include "render_table.h"

static const char *mib(double v, int p)
{
    static char buf[400];
    render_mib(buf, sizeof buf, v, p);
    return buf;
}

static void test_numbers_like_python(void)
{
    /* '{0:7.3f} MiB'.format(v) and friends, checked with Python 3.11 */
    CHECK_STR(mib(46.45703125, 3), " 46.457 MiB");
    CHECK_STR(mib(-152.58984375, 3), "-152.590 MiB");
    CHECK_STR(mib(0.0, 3), "  0.000 MiB");
    CHECK_STR(mib(-0.0001, 3), " -0.000 MiB");
    CHECK_STR(mib(2.5, 0), "   2 MiB");
    CHECK_STR(mib(3.5, 0), "   4 MiB");
    CHECK_STR(mib(0.125, 2), "  0.12 MiB");
    CHECK_STR(mib(46.45703125, 1), " 46.5 MiB");
    CHECK_STR(mib(46.45703125, 5), " 46.45703 MiB");
    CHECK_STR(mib(12582912.0, 3), "12582912.000 MiB");
    CHECK_STR(mib(1.0 / 3.0, 15), "  0.333333333333333 MiB");
}

static void test_rows(void)
{
    func_table_t t;
    source_file_t src = {0};
    render_options_t o = {.precision = 3};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    size_t starts[2] = {0, 9};
    size_t lens[2] = {8, 8};
    char data[] = "@profile\ndef f():";

    src.readable = true;
    src.data = data;
    src.line_start = starts;
    src.line_len = lens;
    src.nlines = 2;
    CHECK(out != NULL);
    CHECK(table_init(&t, 1, 1, "f", true, 1, 3) == 0);
    CHECK(table_record_line(&t, 1, 0, 46.45703125) == 0);
    render_function_table(out, &t, "x.py", &src, &o);
    fclose(out);
    CHECK_STR(text, "Filename: x.py\n\n"
                    "Line #    Mem usage    Increment  Occurrences   Line Contents\n"
                    "=============================================================\n"
                    "     1   46.457 MiB   46.457 MiB           1   @profile\n"
                    "     2                                         def f():\n"
                    "     3                                         \n"
                    "\n\n");
    free(text);
    table_destroy(&t);
}

int main(void)
{
    test_numbers_like_python();
    test_rows();
    return check_summary();
}
