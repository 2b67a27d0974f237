"""The HTML page shades by the rankings it shows: each row by what the line
cost (the exact-mode increment, as "Top lines by exact-mode increment"),
each Peak cell by the peak ranking within its function, from the lowest
peak (unshaded) to the highest, and says so above the tables.

Run: /usr/bin/python3 -m pytest -q tests/report
"""
import re

from test_formats import GOLDEN, run

CELL = re.compile(r'<td class="peak" style="background:rgba\(40,100,220,([\d.]+)\)">\s*([\d.]+) MiB')


def page(case):
    return run("--format", "html", "trace.jsonl", cwd=GOLDEN + "/" + case).stdout.decode()


def test_peak_cells_shaded_by_the_peak_ranking():
    html = page("peaks")
    cells = [(float(a), float(v)) for a, v in CELL.findall(html)]
    assert len(cells) >= 3, html
    lo, hi = min(v for _, v in cells), max(v for _, v in cells)
    assert lo < hi
    for alpha, value in cells:
        assert abs(alpha - (value - lo) / (hi - lo) * 0.5) < 0.002, (alpha, value)
    assert "Peak cells by the peak ranking" in html


def test_rows_shaded_by_cost_and_said_so():
    html = page("seed")
    assert "Rows are shaded by what each line cost, the exact-mode increment" in html
    assert "Peak cells" not in html and 'class="peak" style' not in html
    rows = re.findall(r'<tr style="background:rgba\(230,80,20,([\d.]+)\)"><td>(\d+)</td>', html)
    shade = {int(line): float(a) for a, line in rows}
    # Line 4 (b = [2] * ...) cost the most: the darkest; the decorator row,
    # whose compat Increment is the whole process, is not shaded.
    assert shade[4] == max(shade.values()) > 0 and shade[1] == 0
