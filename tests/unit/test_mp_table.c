/* Unit tests of table/mp_table: memory_profiler 0.61's rule and text
 * layout, as its show_results formats them ('{0:>6} {1:>12} {2:>12}
 * {3:>10}   {4:<}' and '{0:%d.%df} MiB'). */
#include "check.h"
#include "mp_table.h"

static void test_rule(void)
{
    double inc = 0, max = 0;
    unsigned long long count = 0;

    /* The first charge of a table has base 0: Increment = Mem usage. */
    mp_charge(&inc, &max, &count, 46.5, 46.5 - mp_base(false, 99.0));
    CHECK(inc == 46.5 && max == 46.5 && count == 1);
    /* Then the previous line's Mem usage is the base; the maximum stays. */
    mp_charge(&inc, &max, &count, 40.0, 40.0 - mp_base(true, 45.0));
    CHECK(inc == 46.5 - 5.0 && max == 46.5 && count == 2);
}

static void test_text(void)
{
    char buf[512];

    CHECK(mp_format_header(buf, sizeof buf, "") == 124);
    CHECK_STR(buf, "Line #    Mem usage    Increment  Occurrences   Line Contents\n"
                   "=============================================================\n");
    mp_format_mib(buf, sizeof buf, -0.0001, 3);
    CHECK_STR(buf, " -0.000 MiB");
    mp_format_row(buf, sizeof buf, 4, true, 206.68, 152.59, 1, 3, "", "", "", 0);
    CHECK_STR(buf, "     4  206.680 MiB  152.590 MiB           1   ");
    /* Wider than the field: pushed right, nothing cut. */
    mp_format_row(buf, sizeof buf, 12345678, true, 123456789.0, -1.0, 10000000000ULL, 1, "", "",
                  "", 0);
    CHECK_STR(buf, "12345678 123456789.0 MiB     -1.0 MiB  10000000000   ");
    mp_format_row(buf, sizeof buf, 2, false, 0, 0, 0, 1, "", "", "", 0);
    CHECK_STR(buf, "     2                                         ");
    /* The report's colour and extra columns go where its layout wants them. */
    mp_format_row(buf, sizeof buf, 3, true, 1.0, 2.0, 5, 1, "<", ">", " X", 0);
    CHECK_STR(buf, "     3      1.0 MiB <     2.0 MiB> X           5   ");
    mp_format_row(buf, sizeof buf, 3, false, 0, 0, 0, 1, "", "", "", 13);
    CHECK(strlen(buf) == 6 + 41 + 13);
    /* Truncation reports the length it needed, as snprintf. */
    CHECK(mp_format_header(buf, 10, "") == 124 && strlen(buf) == 9);
}

int main(void)
{
    test_rule();
    test_text();
    return check_summary();
}
