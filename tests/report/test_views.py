"""The views that rank or judge lines tell what a line cost: --top (text,
JSON, CSV), the HTML page's top lines and shading, --diff's largest growth
all rank by the exact-mode increment, never by the compat Increment of the
decorator row (an absolute level, memory_profiler issue #234); the note
under a table names the compat artefacts and only them; the views that
need per-line events say so on a trace of table snapshots only.

Traces are written here from scratch, so each expected fact follows from
the trace's numbers.  Run: /usr/bin/python3 -m pytest -q tests/report
"""
import csv
import io
import json
import os
import re

import pytest

from test_formats import GOLDEN, MIB, header, run

CODE = ('{"k":"code","id":1,"file":1,"name":"%s","qualname":"%s","firstlineno":1,'
        '"top":1,"lines":[1,%d]}')


def write_case(tmp_path, source, events, name="f", trace="trace.jsonl", snapshots=()):
    """SOURCE as app.py, and a trace of EVENTS: (kind, line, rss_bytes)."""
    (tmp_path / "app.py").write_text(source)
    last = len(source.rstrip("\n").split("\n"))
    lines = [header(argv=("app.py",)), '{"k":"pid","pid":4242}',
             '{"k":"file","id":1,"path":"app.py"}', CODE % (name, name, last),
             '{"k":"thread","id":1,"tid":4242,"ident":1,"name":"MainThread"}']
    for t, (kind, line, rss) in enumerate(events):
        lines.append("[%d,1,%d,%d,%d]" % (kind, line, rss, t * 1000))
    lines.extend(snapshots)
    lines.append('{"k":"end","t":%d}' % (len(events) * 1000))
    path = tmp_path / trace
    path.write_text("\n".join(lines) + "\n")
    return path


def one_call(first, body, ret):
    """A call at line FIRST, line events BODY [(line, rss)], the return."""
    events = [(1, first, body[0][1])]
    events += [(0, line, rss) for line, rss in body]
    events.append((2, ret[0], ret[1]))
    return events


# A function in a big process: its decorator row's compat Increment is the
# process's 200 MiB, more than any line cost; line 3 really costs 8 MiB.
BASELINE = """\
@profile
def f():
    a = [0] * 1000000
    del a
    return 0
"""


def baseline_events(base=200, grow=8):
    r0 = base * MIB
    return one_call(1, [(3, r0), (4, r0 + grow * MIB), (5, r0)], (5, r0))


def top_rows(text):
    """--top text -> [(exact, increment, line)] in printed order."""
    rows = []
    for l in text.splitlines()[4:]:
        m = re.match(r"^ *(-?[\d.]+) MiB +(-?[\d.]+) MiB +(-?[\d.]+) MiB +\d+ +\S+ +app\.py:(\d+)", l)
        if m:
            rows.append((float(m.group(1)), float(m.group(2)), int(m.group(4))))
    return rows


def table_rows(text):
    """Text tables -> {line: (mem, increment, occurrences)}."""
    rows = {}
    for l in text.splitlines():
        m = re.match(r"^ *(\d+) +(-?[\d.]+) MiB +(-?[\d.]+) MiB +(\d+)   ", l)
        if m:
            rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)), int(m.group(4)))
    return rows


# -- ranking ---------------------------------------------------------------

def test_top_does_not_rank_the_decorator_row_first(tmp_path):
    path = write_case(tmp_path, BASELINE, baseline_events())
    table = run(str(path), cwd=tmp_path).stdout.decode()
    assert table_rows(table)[1][1] == 200.0     # compat: the absolute level
    out = run("--top", "4", str(path), cwd=tmp_path).stdout.decode()
    assert out.startswith("Top 4 lines by exact-mode increment\n")
    rows = top_rows(out)
    assert rows[0] == (8.0, 8.0, 3)
    # line 5 measured at 0, the decorator row 0 for want of a figure (nothing
    # precedes a call's first line), then line 4's -8
    assert [r[2] for r in rows] == [3, 5, 1, 4] and rows[2][:2] == (0.0, 200.0)


def test_json_and_csv_top_rank_the_same_way(tmp_path):
    path = write_case(tmp_path, BASELINE, baseline_events())
    doc = json.loads(run("--format", "json", "--top", "3", str(path), cwd=tmp_path).stdout)
    assert [(t["line"], t["exact_increment_mib"]) for t in doc["top"]] == [(3, 8), (5, 0), (1, 0)]
    assert doc["top"][2]["increment_mib"] == 200
    out = run("--format", "csv", "--top", "2", str(path), cwd=tmp_path).stdout.decode()
    assert [r["line"] for r in csv.DictReader(io.StringIO(out, newline=""))] == ["3", "5"]


def test_html_top_lines_and_shading_follow_the_cost(tmp_path):
    path = write_case(tmp_path, BASELINE, baseline_events())
    page = run("--format", "html", str(path), cwd=tmp_path).stdout.decode()
    assert "Top lines by exact-mode increment" in page
    top = page[page.index('<table class="top">'):]
    top = top[:top.index("</table>")]
    assert re.findall(r'app\.py:(\d+)</td>', top) == ["3", "5", "1", "4"]
    shade = {line: float(v) for v, line in
             re.findall(r'<tr style="background:rgba\(230,80,20,([\d.]+)\)"><td>(\d+)</td>', page)}
    assert shade["3"] > 0.5 and shade["1"] == 0 and shade["4"] == 0
    assert "artefact" not in page


def test_diff_largest_growth_is_of_the_cost(tmp_path):
    """NEW runs in a process 100 MiB bigger and line 3 costs 5 MiB more: the
    compat Increment grows most on the decorator row (+100), the cost on
    line 3 (+5)."""
    old = write_case(tmp_path, BASELINE, baseline_events(200, 8), trace="old.jsonl")
    new = write_case(tmp_path, BASELINE, baseline_events(300, 13), trace="new.jsonl")
    text = run("--diff", str(old), str(new), cwd=tmp_path).stdout.decode()
    assert "Largest growth of an exact-mode increment: app.py:3 (f) +5.000 MiB" in text
    doc = json.loads(run("--diff", "--format", "json", str(old), str(new), cwd=tmp_path).stdout)
    deltas = {l["line"]: l["increment_delta_mib"] for l in doc["functions"][0]["lines"]}
    assert deltas[1] == 100 and deltas[3] == 5


# -- the artefact note -----------------------------------------------------

IDLE = """\
@profile
def f():
    x = 0
    for i in range(100000):
        x += 1
    return x
"""


def loop_events(level_of):
    """IDLE's events; LEVEL_OF(i) is the RSS after iteration i's body."""
    r0 = level_of(-1)
    body = [(3, r0), (4, r0)]
    for i in range(100000):
        body += [(5, body[-1][1]), (4, level_of(i))]
    body.append((6, body[-1][1]))
    return one_call(1, body, (6, body[-1][1]))


def test_no_note_on_an_idle_loop(tmp_path):
    path = write_case(tmp_path, IDLE, loop_events(lambda i: 15 * MIB))
    out = run(str(path), cwd=tmp_path).stdout.decode()
    rows = table_rows(out)
    assert rows[4] == (15.0, 0.0, 100001) and rows[5] == (15.0, 0.0, 100000)
    assert "Note:" not in out and out.endswith("\n\n\n")


def test_no_note_on_a_loop_that_grows(tmp_path):
    """Appends: the RSS climbs a page per iteration, 390 MiB in all, far
    more than the function's first level; compat and cost agree."""
    path = write_case(tmp_path, IDLE, loop_events(lambda i: 15 * MIB + (i + 1) * 4096))
    out = run(str(path), cwd=tmp_path).stdout.decode()
    assert table_rows(out)[5][1] > 390 and "Note:" not in out


def test_no_note_on_one_big_allocation_or_the_seed(tmp_path):
    r0 = 15 * MIB
    path = write_case(tmp_path, BASELINE, one_call(1, [(3, r0), (4, r0 + 160000000), (5, r0)],
                                                   (5, r0)))
    out = run(str(path), cwd=tmp_path).stdout.decode()
    assert table_rows(out)[3][1] == 152.588 and "Note:" not in out
    for case in ("seed", "loop", "nested_call", "recursion", "generator"):
        cwd = os.path.join(GOLDEN, case)
        assert "Note:" not in run("trace.jsonl", cwd=cwd).stdout.decode(), case


def test_note_names_the_artefacts_of_an_up_and_down_loop(tmp_path):
    """IDLE with 100 MiB allocated and freed by line 5 in the first
    iteration only: memory_profiler's rule charges every later run of line 4
    against line 5's 115 MiB maximum."""
    path = write_case(tmp_path, IDLE, loop_events(lambda i: 15 * MIB))
    text = path.read_text().split("\n")
    # the first run of line 5 ends 100 MiB higher; the next event frees it
    first5 = next(i for i, l in enumerate(text) if l.startswith("[0,1,4,"))
    first5 = next(i for i, l in enumerate(text) if i > first5 and l.startswith("[0,1,4,"))
    text[first5] = text[first5].replace(str(15 * MIB), str(115 * MIB))
    path.write_text("\n".join(text))
    out = run(str(path), cwd=tmp_path).stdout.decode()
    rows = table_rows(out)
    assert rows[4][1] < -9_000_000      # memory_profiler's number, kept
    table, note = out.split("\n\n\n", 1)
    assert "Note:" not in table and note.startswith("Note: the Increment of line 4 is a compat "
                                                    "artefact.")
    assert "(115.000 MiB)" in note and "--mode exact): -100.000 MiB." in note.replace("\n", " ")
    assert out.count("Note:") == 1
    exact = run("--mode", "exact", str(path), cwd=tmp_path).stdout.decode()
    assert table_rows(exact)[4][1] == -100.0 and "Note:" not in exact
    doc = json.loads(run("--format", "json", str(path), cwd=tmp_path).stdout)
    lines = doc["processes"][0]["functions"][0]["lines"]
    assert [l["line"] for l in lines if l["compat_artefact"]] == [4]
    assert lines[3]["exact_increment_mib"] == -100 and lines[3]["increment_mib"] < -9_000_000
    page = run("--format", "html", str(path), cwd=tmp_path).stdout.decode()
    assert page.count('<p class="note artefact">Note: the Increment of line 4 is a compat') == 1


# -- traces of table snapshots only ----------------------------------------

SNAPSHOT = '{"k":"table","top":1,"rows":[[1,1,%d,200.0],[3,1,%d,8.0],[4,1,%d,-8.0],[5,1,%d,0.0]]}'


def snapshot_case(tmp_path, events=(), trace="trace.jsonl"):
    r0 = 200 * MIB
    snap = SNAPSHOT % (r0, r0 + 8 * MIB, r0, r0)
    return write_case(tmp_path, BASELINE, list(events), trace=trace, snapshots=[snap])


@pytest.mark.parametrize("args,what", [(["--mode", "exact"], "--mode exact needs"),
                                       (["--top", "3"], "--top ranks lines"),
                                       (["--format", "json", "--top", "3"], "--top ranks lines"),
                                       (["--format", "csv", "--top", "3"], "--top ranks lines")])
def test_views_needing_events_refuse_snapshots(tmp_path, args, what):
    path = snapshot_case(tmp_path)
    p = run(*args, str(path), cwd=tmp_path, check=False)
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    # the trace and the line of its first snapshot (after 5 definitions)
    assert err.count("\n") == 1 and err.startswith("memprof-report: %s:6: %s" % (path, what))
    assert "MEMPROF_AGGREGATE=both or 0" in err
    # the tables themselves come from snapshots as from events, without cost
    assert table_rows(run(str(path), cwd=tmp_path).stdout.decode())[3] == (208.0, 8.0, 1)
    doc = json.loads(run("--format", "json", str(path), cwd=tmp_path).stdout)
    assert {l["exact_increment_mib"] for l in doc["processes"][0]["functions"][0]["lines"]} == {None}


def test_html_and_diff_say_why_they_do_not_rank_snapshots(tmp_path):
    path = snapshot_case(tmp_path)
    page = run("--format", "html", str(path), cwd=tmp_path).stdout.decode()
    assert "Lines are not ranked or shaded: " + str(path) in page
    assert 'class="top"' not in page and "rgba(230,80,20,0.000)" in page
    assert "rgba(230,80,20,0.5" not in page
    events = write_case(tmp_path, BASELINE, baseline_events(), trace="events.jsonl")
    text = run("--diff", str(events), str(path), cwd=tmp_path).stdout.decode()
    assert "Largest growth: not ranked: %s holds table snapshots only" % path in text


def test_exact_mode_on_events_and_snapshots_uses_the_events(tmp_path):
    """MEMPROF_AGGREGATE=both: events and a snapshot of the same run; the
    snapshot's compat Increments must not replace the exact ones."""
    both = snapshot_case(tmp_path, baseline_events(), trace="both.jsonl")
    events = write_case(tmp_path, BASELINE, baseline_events(), trace="events.jsonl")
    exact = run("--mode", "exact", str(both), cwd=tmp_path).stdout.decode()
    assert exact == run("--mode", "exact", str(events), cwd=tmp_path).stdout.decode()
    assert table_rows(exact)[1] == (200.0, 0.0, 1)
    assert run("--top", "1", str(both), cwd=tmp_path).stdout.decode() == \
        run("--top", "1", str(events), cwd=tmp_path).stdout.decode()
    # split by thread, the events go to the thread's table, the snapshot to
    # the function's: still a trace with events
    for args in (["--mode", "exact"], ["--top", "1"]):
        split = run("--threads", "split", *args, str(both), cwd=tmp_path)
        assert split.stdout == run("--threads", "split", *args, str(events), cwd=tmp_path).stdout


def test_a_tree_process_line_starts_at_its_exec(tmp_path):
    """--multiprocess: a fork child sampled before its exec has its
    parent's pages in its RSS (40 MiB here, for a shell of 1.5 MiB); its
    own line and peak start at the exec, the tree's total keeps every
    sample. (A loaded machine's sampler caught such a child: the plot drew
    the shell as a 40 MiB process of its own.)"""
    path = write_case(tmp_path, "a = 1\n", [(1, 1, 10 * MIB), (0, 1, 10 * MIB), (2, 1, 10 * MIB)])
    tree = [
        '{"k":"tree","root":4242,"interval_ns":10000000,"per_process":true}',
        '{"k":"tree_proc","pid":4242,"ppid":1,"command":"python3 app.py"}',
        '{"k":"tree_sample","t_ns":1000,"rss":%d,"procs":[[4242,%d]]}' % (40 * MIB, 40 * MIB),
        '{"k":"tree_proc","pid":4250,"ppid":4242,"command":"python3 app.py"}',
        '{"k":"tree_sample","t_ns":2000,"rss":%d,"procs":[[4242,%d],[4250,%d]]}'
        % (80 * MIB, 40 * MIB, 40 * MIB),
        '{"k":"tree_proc","pid":4250,"ppid":4242,"command":"sh -c true"}',
        '{"k":"tree_sample","t_ns":3000,"rss":%d,"procs":[[4242,%d],[4250,%d]]}'
        % (41 * MIB + MIB // 2, 40 * MIB, 3 * MIB // 2),
    ]
    with open(path, "a") as f:
        f.write("\n".join(tree) + "\n")
    doc = json.loads(run("--format", "json", str(path), cwd=tmp_path).stdout)
    procs = {p["pid"]: p for p in doc["process_tree"]["processes"]}
    assert procs[4250]["command"] == "sh -c true"
    assert procs[4250]["peak_mib"] == 1.5, procs[4250]
    assert procs[4242]["peak_mib"] == 40, procs[4242]
    assert doc["process_tree"]["peak_mib"] == 80, doc["process_tree"]
