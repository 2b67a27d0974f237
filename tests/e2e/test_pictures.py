"""The plots of a program with 30 profiled functions and of a 5-process
Pool, drawn by `memprof --plot` from real runs and rendered by headless
Chromium: no text of the picture overlaps another or leaves it (measured
by the browser, not estimated), every function is named once, a pool is
drawn as its summed group beside the total, and the peak names its line.

MEMPROF_UPDATE_DOCS=1 also copies the SVG and PNG of each into docs/
(docs/plot-30-functions.*, docs/plot-pool.*)."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "build" / "memprof"
EXAMPLES = ROOT / "examples"
SVG = "{http://www.w3.org/2000/svg}"

# The browser measures every text's box once laid out (transforms
# included) and writes what it found into the page.
MEASURE = """<!DOCTYPE html><html><body style="margin:0">%s
<pre id="result"></pre><script>
const svg = document.querySelector("svg");
const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
const boxes = [...svg.querySelectorAll("text")].map(t => {
  const b = t.getBoundingClientRect();
  return {s: t.textContent, x: b.left, y: b.top, r: b.right, b: b.bottom};
});
const out = {n: boxes.length, overlaps: [], outside: []};
for (let i = 0; i < boxes.length; i++) {
  const a = boxes[i];
  if (a.x < 0 || a.y < 0 || a.r > W || a.b > H) out.outside.push(a.s);
  for (let j = i + 1; j < boxes.length; j++) {
    const c = boxes[j];
    if (a.x < c.r - 0.5 && c.x < a.r - 0.5 && a.y < c.b - 0.5 && c.y < a.b - 0.5)
      out.overlaps.push([a.s, c.s]);
  }
}
document.getElementById("result").textContent = JSON.stringify(out);
</script></body></html>"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("SKIPPED LOUDLY: chromium is not installed (scripts/setup-debian.sh installs "
                "it): plots not rendered")


def browse(args, url):
    profile = tempfile.mkdtemp(prefix="memprof-chromium-")
    try:
        return subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + profile, *args, url],
            capture_output=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_pixels(path):
    spec = importlib.util.spec_from_file_location("formats", ROOT / "tests/report/test_formats.py")
    formats = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(formats)
    return formats.png_pixels(path)


def draw(program, tmp_path, *extra):
    shutil.copy(EXAMPLES / program, tmp_path / program)
    svg = tmp_path / "plot.svg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPROF_")
           and k not in ("LD_PRELOAD",)}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run([str(LAUNCHER), "-n", "-o", "t.jsonl", "--plot", str(svg), *extra,
                          program], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return svg


def render(svg, tmp_path):
    """The browser's measurements and a PNG of the picture."""
    root = ET.parse(svg).getroot()
    page = tmp_path / "measure.html"
    page.write_text(MEASURE % re.sub(r"^<\?xml[^>]*>\s*", "", svg.read_text()))
    dom = browse(["--dump-dom"], "file://%s" % page).stdout.decode()
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), "the browser measured nothing:\n" + dom[-2000:]
    facts = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<")
                       .replace("&gt;", ">").replace("&quot;", '"'))
    png = tmp_path / "plot.png"
    browse(["--screenshot=%s" % png, "--window-size=%s,%s" % (root.get("width"),
                                                              root.get("height"))],
           "file://%s" % svg)
    assert png.exists(), "chromium wrote no screenshot"
    rows, bpp = png_pixels(str(png))
    assert len(rows) == int(root.get("height"))
    colours = {bytes(row[i:i + 3]) for row in rows[::7] for i in range(0, len(row), bpp * 5)}
    assert len(colours) > 8, "the screenshot is blank or grey"
    return root, facts, png


def texts(root, cls=None):
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")
            if cls is None or t.get("class") == cls]


def lane_names(root):
    return [t.text for t in root.iter(SVG + "text") if t.get("class") == "lane"]


def keep(name, svg, png):
    if os.environ.get("MEMPROF_UPDATE_DOCS") == "1":
        shutil.copy(svg, ROOT / "docs" / (name + ".svg"))
        shutil.copy(png, ROOT / "docs" / (name + ".png"))


def check_layout(facts):
    assert facts["n"] > 15      # axes, legend, peak, lanes: the browser saw them
    assert facts["overlaps"] == [], "texts overprint: %r" % facts["overlaps"][:5]
    assert facts["outside"] == [], "texts leave the picture: %r" % facts["outside"]


def test_thirty_functions(tmp_path):
    svg = draw("thirty_functions.py", tmp_path)
    root, facts, png = render(svg, tmp_path)
    check_layout(facts)
    lanes = lane_names(root)
    assert lanes == ["step_%02d_work" % i for i in range(30)], lanes    # each once, in run order
    bars = [r for r in root.iter(SVG + "rect") if r.get("class") == "span"]
    assert len(bars) >= 30
    peak = [t for t in texts(root) if t.startswith("peak ")]
    assert len(peak) == 1
    assert re.search(r"thirty_functions\.py:\d+ in step_\d\d_work$", peak[0]), peak
    # One process: no total, no group.
    assert not [p for p in root.iter(SVG + "polyline") if p.get("class") in ("total", "group")]
    keep("plot-30-functions", svg, png)


def test_pool(tmp_path):
    svg = draw("pool.py", tmp_path)
    root, facts, png = render(svg, tmp_path)
    check_layout(facts)
    legend = texts(root, "legend")
    assert any(t.startswith("total of ") and "processes" in t for t in legend), legend
    pool = [t for t in legend if t.startswith("5 processes summed (pids ")]
    assert len(pool) == 1, legend
    polylines = [p.get("class") for p in root.iter(SVG + "polyline")]
    assert polylines.count("total") == 1 and polylines.count("group") == 1
    members = [g for g in root.iter(SVG + "g") if g.get("class") == "member"]
    assert len(members) == 5        # each worker still there, faint, its pid on hover
    assert lane_names(root) == ["work"]
    peak = [t for t in texts(root) if t.startswith("peak ")]
    assert len(peak) == 1 and re.search(r"pool\.py:\d+ in work \(pid \d+\)$", peak[0]), peak
    keep("plot-pool", svg, png)

    # Split: every worker its own curve and legend entry, no group.
    (tmp_path / "split").mkdir()
    split = draw("pool.py", tmp_path / "split", "--processes", "split")
    root = ET.parse(split).getroot()
    polylines = [p.get("class") for p in root.iter(SVG + "polyline")]
    assert "group" not in polylines and polylines.count("total") == 1
    workers = [t for t in texts(root, "legend") if "--multiprocessing-fork" in t]
    assert len(workers) == 5, texts(root, "legend")


def test_plot_into_png_name_is_refused(tmp_path):
    out = subprocess.run([str(ROOT / "build" / "memprof-report"), "--plot", "x.png",
                          str(ROOT / "tests/golden/seed/trace.jsonl")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "--plot: 'x.png': only SVG is drawn: give a file name ending in .svg" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_timestamps(tmp_path):
    # profile.timestamp's named spans: a block of lanes of their own under
    # the functions', one per name, each named once, no text overprinted.
    svg = draw("timestamps.py", tmp_path)
    root, facts, png = render(svg, tmp_path)
    keep("plot-timestamps", svg, png)
    check_layout(facts)
    assert lane_names(root) == ["build", "load", "parse", "free"]
    assert texts(root, "timestamps-title") == [
        "profile.timestamp spans: when each ran, in its process's colour"]
    bars = [r for r in root.iter(SVG + "rect") if r.get("class") == "timestamp"]
    names = ["".join(r.itertext()).split(" (pid")[0] for r in bars]
    assert sorted(names) == ["free", "load", "parse"]
    by_name = {n: r for n, r in zip(names, bars)}
    # Each in its own lane (rows 13 px apart), under the functions' lane.
    ys = [float(by_name[n].get("y")) for n in ("load", "parse", "free")]
    fn_bar = [r for r in root.iter(SVG + "rect") if r.get("class") == "span"]
    assert len(fn_bar) == 1 and ys[0] > float(fn_bar[0].get("y")) + 13
    assert ys[1] - ys[0] == 13 and ys[2] - ys[1] == 13
    # parse runs inside load; free after it.
    x = {n: (float(r.get("x")), float(r.get("x")) + float(r.get("width"))) for n, r in by_name.items()}
    assert x["load"][0] <= x["parse"][0] and x["parse"][1] <= x["load"][1] + 1
    assert x["free"][0] >= x["load"][1] - 1
    assert "to" in "".join(by_name["load"].itertext())      # the RSS at both ends on hover


def test_process_tree(tmp_path):
    # --multiprocess: the tree's total sampled from outside, dashed, and dd
    # (not Python, no section) in a line of its own; no text overprinted.
    svg = draw("children.py", tmp_path, "--multiprocess")
    root, facts, png = render(svg, tmp_path)
    keep("plot-children", svg, png)
    check_layout(facts)
    legend = texts(root, "legend")
    assert legend[0].startswith("process tree total, sampled from outside every 10 ms")
    assert [t for t in legend if "(from outside): dd if=/dev/zero" in t]
    assert [t for t in legend if t.endswith("children.py")]     # the parent's own section
    groups = [g for g in root.iter(SVG + "g") if g.get("class") == "tree-process"]
    assert len(groups) == 1
    total = [p for p in root.iter(SVG + "polyline") if p.get("class") == "tree-total"]
    assert len(total) == 1
