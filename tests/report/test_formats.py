"""memprof-report's output formats: --plot (SVG), --format json|csv|html,
--top, --diff, and the terminal niceties (colour, progress).

Traces are written here, from scratch, so that the expected facts (spans,
peaks, the diff's answer) follow from the trace's numbers; the golden cases
(tests/golden/) pin the exact bytes of the json, csv, top and diff outputs.
Run: /usr/bin/python3 -m pytest -q -rs tests/report (make test-report).
"""
import csv
import io
import json
import os
import pty
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORT = os.path.join(ROOT, "build", "memprof-report")
GOLDEN = os.path.join(ROOT, "tests", "golden")
SCHEMA = os.path.join(ROOT, "docs", "report-json-schema.json")
SVG = "{http://www.w3.org/2000/svg}"
MIB = 1048576

SOURCE = """\
@profile
def load_data(n):
    data = [0] * n
    return data

@profile
def crunch(data):
    total = sum(data)
    copy = list(data)
    return total
"""


def header(pid=4242, ppid=4200, argv=("app.py", "--size", "3"), t0=10**12):
    return json.dumps({"k": "memprof", "version": 1, "pid": pid, "ppid": ppid,
                       "argv": list(argv), "cwd": "/nonexistent", "t0_ns": t0})


def write_trace(path, seconds=2.0, events_per_call=200, heap=True, argv=None):
    """Two profiled functions called in turn for SECONDS, with samples every
    10 ms; load_data's RSS climbs to a peak in the middle of the run."""
    ns = int(seconds * 1e9)
    lines = [header(argv=argv or ("app.py", "--size", "3")), '{"k":"pid","pid":4242}',
             '{"k":"file","id":1,"path":"app.py"}',
             '{"k":"code","id":1,"file":1,"name":"load_data","qualname":"load_data",'
             '"firstlineno":1,"top":1,"lines":[1,4]}',
             '{"k":"code","id":2,"file":1,"name":"crunch","qualname":"crunch",'
             '"firstlineno":6,"top":2,"lines":[6,10]}',
             '{"k":"thread","id":1,"tid":4242,"ident":1,"name":"MainThread"}']
    calls = 10
    step = ns // (calls * 2 * events_per_call)
    t = 0
    next_sample = 0
    for c in range(calls):
        for code, first, body in ((1, 1, (3, 4)), (2, 6, (8, 9, 10))):
            lines.append("[1,%d,%d,%d,%d]" % (code, first, rss_at(t, ns), t))
            for i in range(events_per_call):
                t += step
                line = body[i % len(body)]
                rss = rss_at(t, ns)
                if heap:
                    lines.append("[0,%d,%d,%d,%d,%d,%d,%d,%d]"
                                 % (code, line, rss, t, rss + 4096, 8192, 4096, 6144))
                else:
                    lines.append("[0,%d,%d,%d,%d,%d]" % (code, line, rss, t, rss + 4096))
                while next_sample <= t:
                    lines.append("[3,%d,%d,%d]" % (rss_at(next_sample, ns), next_sample, 1 << 20))
                    next_sample += 10_000_000
            lines.append("[2,%d,%d,%d,%d]" % (code, body[-1], rss_at(t, ns), t))
    lines.append('{"k":"end","t":%d}' % t)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(os.path.dirname(path), "app.py"), "w") as f:
        f.write(SOURCE)


def rss_at(t, total):
    """A tent from 20 MiB to 220 MiB at the middle of the run."""
    x = t / total
    return int((20 + 200 * (1 - abs(2 * x - 1))) * MIB)


def run(*args, cwd=None, check=True, **kw):
    p = subprocess.run([REPORT, *args], cwd=cwd, capture_output=True, **kw)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "trace.jsonl"
    write_trace(str(path))
    return path


# -- SVG -------------------------------------------------------------------

def svg_texts(root):
    return ["".join(e.itertext()) for e in root.iter(SVG + "text")]


def polylines(root):
    return [e.get("points").split() for e in root.iter(SVG + "polyline")]


def test_plot_is_xml_with_axes_spans_and_peak(trace, tmp_path):
    svg = tmp_path / "plot.svg"
    run("--plot", str(svg), str(trace), cwd=tmp_path)
    root = ET.parse(svg).getroot()
    assert root.tag == SVG + "svg"
    texts = svg_texts(root)
    assert "Time (s)" in texts and "Memory (MiB)" in texts
    assert "load_data" in texts and "crunch" in texts
    peak = [t for t in texts if t.startswith("peak ")]
    assert len(peak) == 1 and "MiB at" in peak[0]
    # The tent's top: 220 MiB (+ the events' 4 KiB peak) near 1 s.
    value, when = float(peak[0].split()[1]), float(peak[0].split()[4])
    assert 219 < value < 221 and 0.9 < when < 1.1
    spans = [e for e in root.iter(SVG + "rect") if e.get("class") == "span"]
    assert len(spans) >= 2
    numeric = [t for t in texts if t.replace(".", "", 1).isdigit()]
    assert len(numeric) >= 6, "tick labels"


def test_plot_downsamples_a_one_hour_run(tmp_path):
    path = tmp_path / "hour.jsonl"
    # An hour of samples every 100 ms (36,000) and 200,000 events.
    write_trace(str(path), seconds=3600, events_per_call=10000, heap=False)
    svg = tmp_path / "hour.svg"
    run("--plot", str(svg), str(path), cwd=tmp_path)
    root = ET.parse(svg).getroot()
    for points in polylines(root):
        assert 10 < len(points) <= 2000
    ticks = [t for t in svg_texts(root) if t.replace(".", "", 1).isdigit()]
    assert any(float(t) >= 3000 for t in ticks)


def test_plot_without_samples_uses_the_events(tmp_path):
    svg = tmp_path / "seed.svg"
    run("--plot", str(svg), "trace.jsonl", cwd=os.path.join(GOLDEN, "seed"))
    root = ET.parse(svg).getroot()
    assert len(polylines(root)[0]) >= 5
    assert "my_func" in svg_texts(root)


# -- JSON ------------------------------------------------------------------

def validate(doc):
    jsonschema = pytest.importorskip("jsonschema", reason="python3-jsonschema is not installed "
                                     "(scripts/setup-debian.sh installs it)")
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


def test_json_validates_and_carries_everything(trace, tmp_path):
    p = run("--format", "json", "--top", "2", str(trace), cwd=tmp_path)
    doc = json.loads(p.stdout)
    validate(doc)
    assert doc["has_peak"] and doc["has_heap"]
    proc = doc["processes"][0]
    assert proc["argv"] == ["app.py", "--size", "3"] and proc["pid"] == 4242
    assert proc["timeline"]["source"] == "samples" and proc["timeline"]["samples"] >= 200
    names = {s["function"] for s in proc["spans"]}
    assert names == {"load_data", "crunch"} and len(proc["spans"]) == 20
    fn = proc["functions"][0]
    assert fn["function"] == "load_data" and fn["lines"][2]["contents"] == "    data = [0] * n"
    row = fn["lines"][2]
    assert row["allocated_bytes"] == 8192 * row["occurrences"]
    assert len(doc["top"]) == 2


@pytest.mark.parametrize("case", ["seed", "two_processes", "threads", "generator", "peaks",
                                  "snapshot", "non_ascii", "multi_trace"])
def test_json_of_golden_cases_validates(case):
    cwd = os.path.join(GOLDEN, case)
    args = open(os.path.join(cwd, "args")).read().split()
    args = [a for a in args if a.endswith(".jsonl")]
    p = run("--format", "json", "trace.jsonl", *args, cwd=cwd, check=False)
    validate(json.loads(p.stdout))


def test_json_numbers_match_the_text_table():
    cwd = os.path.join(GOLDEN, "seed")
    doc = json.loads(run("--format", "json", "trace.jsonl", cwd=cwd).stdout)
    text = open(os.path.join(cwd, "expected.out")).read().splitlines()
    rows = {int(l[:6]): l for l in text[4:] if l[:6].strip().isdigit()}
    for line in doc["processes"][0]["functions"][0]["lines"]:
        if line["occurrences"]:
            assert "%.3f MiB" % line["mem_usage_mib"] in rows[line["line"]]
            assert "%.3f MiB" % line["increment_mib"] in rows[line["line"]]


# -- CSV -------------------------------------------------------------------

def test_csv_rows_and_quoting(tmp_path):
    path = tmp_path / "trace.jsonl"
    write_trace(str(path), argv=("app.py", 'say "hi", twice'))
    out = run("--format", "csv", str(path), cwd=tmp_path).stdout.decode()
    assert out.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 4 + 5
    assert rows[0]["command"] == 'app.py say "hi", twice'
    assert rows[2]["contents"] == "    data = [0] * n" and rows[2]["function"] == "load_data"
    assert rows[1]["occurrences"] == "0" and rows[1]["mem_usage_mib"] == ""


# -- --top and --diff ------------------------------------------------------

def test_top_lists_the_costliest_lines_first(trace, tmp_path):
    out = run("--top", "3", str(trace), cwd=tmp_path).stdout.decode().splitlines()
    assert out[0] == "Top 3 lines by exact-mode increment"
    costs = [float(l.split()[0]) for l in out[4:7]]
    assert costs == sorted(costs, reverse=True)


def test_diff_gives_the_known_answer():
    cwd = os.path.join(GOLDEN, "diff")
    doc = json.loads(run("--diff", "--format", "json", "trace.jsonl", "new.jsonl",
                         cwd=cwd).stdout)
    validate(doc)
    assert doc["summary"] == {"grew": 1, "shrank": 3, "same": 1, "new": 0, "gone": 0}
    line4 = [l for l in doc["functions"][0]["lines"] if l["line"] == 4][0]
    assert line4["change"] == "grew" and line4["increment_delta_mib"] == 41
    assert line4["mem_usage_delta_mib"] == 40
    text = run("--diff", "trace.jsonl", "new.jsonl", cwd=cwd).stdout.decode()
    assert "Largest growth of an exact-mode increment: example.py:4 (my_func) +41.000 MiB" in text


def test_diff_of_different_programs_and_usage(trace, tmp_path):
    seed = os.path.join(GOLDEN, "seed", "trace.jsonl")
    p = run("--diff", "--format", "json", seed, str(trace), cwd=tmp_path)
    doc = json.loads(p.stdout)
    validate(doc)
    assert sorted(f["status"] for f in doc["functions"]) == ["only_new", "only_new", "only_old"]
    assert run("--diff", seed, cwd=tmp_path, check=False).returncode == 2
    assert run("--diff", "--format", "csv", seed, seed, cwd=tmp_path, check=False).returncode == 2


# -- HTML ------------------------------------------------------------------

def hostile_trace(tmp_path):
    path = tmp_path / "trace.jsonl"
    write_trace(str(path), argv=("app.py", "<script>alert(1)</script>", "a\u0007b&c"))
    with open(tmp_path / "app.py", "a") as f:
        f.write("# </td></tr></table><b>\x01\n")
    return path


def test_html_escapes_the_trace_and_the_source(tmp_path):
    path = hostile_trace(tmp_path)
    page = run("--format", "html", str(path), cwd=tmp_path).stdout.decode("utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not any(ord(c) < 32 and c not in "\n" for c in page)
    assert "<title>memprof: app.py &lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "src=" not in page and "href=" not in page


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) into rows."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return rows, bpp


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_renders_in_headless_chromium(trace, tmp_path):
    browser = chromium()
    if not browser:
        reason = "chromium is not installed (scripts/setup-debian.sh installs it): HTML not rendered"
        print("SKIP: " + reason)
        pytest.skip(reason)
    html = tmp_path / "report.html"
    run("--format", "html", "-o", str(html), str(trace), cwd=tmp_path)
    png = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="memprof-chromium-")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--user-data-dir=" + profile]
    try:
        subprocess.run(common + ["--screenshot=" + str(png), "--window-size=1200,2000",
                                 "file://" + str(html)], capture_output=True, timeout=60)
        dom = subprocess.run(common + ["--dump-dom", "file://" + str(html)],
                             capture_output=True, timeout=60).stdout.decode()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert png.exists(), "chromium wrote no screenshot"
    rows, bpp = png_pixels(str(png))
    sample = [px for row in rows[::20] for px in row[::bpp * 10]]
    mean = sum(sample) / len(sample)
    variance = sum((v - mean) ** 2 for v in sample) / len(sample)
    assert variance > 100, "the screenshot is blank"
    assert "<title>memprof: app.py --size 3</title>" in dom
    assert "Top lines by exact-mode increment" in dom and "Top lines by peak" in dom
    assert "    data = [0] * n" in dom and "load_data" in dom
    assert dom.count('class="blank"') >= 1 and "<svg" in dom


# -- Terminal --------------------------------------------------------------

def run_on_pty(args, env, cwd):
    master, slave = pty.openpty()
    p = subprocess.run([REPORT, *args], stdout=slave, stderr=subprocess.PIPE, env=env, cwd=cwd)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.returncode == 0
    return out


def test_colour_only_on_a_terminal_and_without_no_color():
    cwd = os.path.join(GOLDEN, "seed")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = run_on_pty(["trace.jsonl"], env, cwd)
    assert b"\x1b[32m-152.590 MiB\x1b[0m" in coloured
    plain = run_on_pty(["trace.jsonl"], dict(env, NO_COLOR="1"), cwd)
    assert b"\x1b[" not in plain
    piped = run("trace.jsonl", cwd=cwd, env=env)
    assert b"\x1b[" not in piped.stdout and piped.stderr == b""


def test_progress_on_a_terminal_only(tmp_path):
    """A read that takes over half a second shows its progress on a terminal
    stderr, erased at the end; not when stderr is a pipe."""
    seed = open(os.path.join(GOLDEN, "seed", "trace.jsonl")).read().splitlines()
    head, events = "\n".join(seed[:6]) + "\n", "".join(
        "[0,1,%d,48713728,%d]\n" % (3 + i % 4, 1210200 + i) for i in range(140000))

    def feed(stderr):
        p = subprocess.Popen([REPORT, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=stderr, cwd=os.path.join(GOLDEN, "seed"))
        p.stdin.write(head.encode())
        p.stdin.flush()
        import time
        time.sleep(0.7)
        p.stdin.write(events.encode())
        p.stdin.close()
        out = p.stdout.read()
        assert p.wait() == 0
        return out

    master, slave = pty.openpty()
    out = feed(slave)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert b"memprof-report: reading -: " in err and err.endswith(b"\r\x1b[K")
    assert b"\x1b" not in out and out.startswith(b"Filename: example.py")
    p = subprocess.run([REPORT, "-"], input=(head + events).encode(), capture_output=True,
                       cwd=os.path.join(GOLDEN, "seed"))
    assert p.stderr == b"" and p.returncode == 0
