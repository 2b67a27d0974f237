"""memprof's pytest plugin (the ``pytest11`` entry point ``memprof``).

A module of its own, beside the package: ``import memprof`` loads the agent,
and a test run that asks for nothing of memprof must not have it.

- ``pytest --memprof``: every test function's lines are recorded while it
  runs; at the end, the costliest lines of each test are printed, ranked
  by the exact-mode increment as ``memprof-report --top`` ranks them (the
  report does the ranking, from this process's trace).
- ``@pytest.mark.limit_memory("24 MiB")``: the test fails if the RSS rose
  more than that above its level at the start of the test's call, and the
  failure names the line of the test that took it over. Works with or
  without ``--memprof``; the agent is loaded at the first such test.

A run that asks for neither never loads the agent: the plugin then only
adds its option and its marker. The measuring is the agent's; this module
registers the test function (``memprof.register``), reads the RSS and the
peak (``memprof.rss``, ``mark_peak``, ``peak``) and the line table
(``memprof.table``).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import types

import pytest

MIB = 1048576.0

# pytest-memray's units, so that its markers work unchanged: KB, MB, GB,
# TB are powers of 1024 as KiB, MiB, GiB, TiB are; case does not matter.
_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtp", 1):
    _UNITS[_p + "b"] = _UNITS[_p + "ib"] = 1024 ** _i
_SIZE = re.compile(r"^\s*\+?(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")

_ROW = re.compile(r"^ *(\d+) +(-?\d+\.\d+) MiB +(-?\d+\.\d+) MiB +(\d+)   (.*)$")

_ENV_LOCK = ("MEMPROF_OUTPUT", "MEMPROF_FD")


def parse_size(limit):
    """Bytes in "24 MiB", "1.5GB", "512 kb", "100 B" or a number of bytes."""
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0:
        return float(limit)
    m = _SIZE.match(limit) if isinstance(limit, str) else None
    if not m or m[2].lower() not in _UNITS:
        raise ValueError("limit_memory: %r is not a size such as '24 MiB' (units B, KB, MB, GB, TB, "
                         "KiB, MiB, GiB, TiB; KB = KiB = 1024 B)" % (limit,))
    return float(m[1]) * _UNITS[m[2].lower()]


def _mib(n):
    return "%.1f MiB" % n


def measured_rows(text):
    """[(line, mem, inc, occurrences, contents)] of the measured rows of
    memprof's text table, in the table's (the source's) order."""
    rows = []
    for line in text.split("\n"):
        m = _ROW.match(line)
        if m:
            rows.append((int(m[1]), float(m[2]), float(m[3]), int(m[4]), m[5]))
    return rows


def pytest_addoption(parser):
    group = parser.getgroup("memprof", "memprof (line-by-line memory)")
    group.addoption("--memprof", action="store_true", default=False,
                    help="record each test's lines and print the costliest lines of each test at the end")
    group.addoption("--memprof-top", type=int, default=5, metavar="N",
                    help="lines per test printed by --memprof (default 5)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "limit_memory(size): fail the test if the RSS rises more than size ('24 MiB') above its level "
        "at the start of the test; the failure names the line that took it over (memprof)")
    config.pluginmanager.register(_Session(config), "memprof-session")


class _Result:
    def __init__(self, item, func, baseline, peak, table):
        self.nodeid = item.nodeid
        self.key = (func.__code__.co_filename, func.__code__.co_firstlineno)
        self.baseline = baseline
        self.peak = peak
        self.table = table


class _Session:

    def __init__(self, config):
        self.config = config
        self.enabled = config.getoption("memprof")
        self.top = max(1, config.getoption("memprof_top"))
        self.results = {}       # nodeid -> _Result
        self.over = {}          # nodeid -> the limit_memory failure message
        self.agent = None       # None: not tried; False: off; True: recording
        self.trace = None       # the trace to rank from (--memprof)
        self.own_dir = None     # a temporary directory for it, removed at the end
        self.problem = None
        if self.enabled:
            self._start()

    # ---- the agent ----

    def _start(self):
        if self.agent is not None:
            return self.agent
        chosen = any(os.environ.get(k) for k in _ENV_LOCK)
        if not chosen and not _already_in_process():
            # The trace (the report ranks from it) is the plugin's business:
            # a temporary file, not one in the user's directory. The
            # variable is set only while the agent loads and reads it.
            self.own_dir = tempfile.mkdtemp(prefix="memprof-pytest-")
            os.environ["MEMPROF_OUTPUT"] = os.path.join(self.own_dir, "memprof.%p.jsonl")
        try:
            import memprof          # loads the agent, which reads MEMPROF_OUTPUT
            self.agent = bool(memprof.start())
        except Exception as e:      # the agent could not be loaded
            self.agent = False
            self.problem = "memprof's agent could not be loaded: %s" % e
        finally:
            if self.own_dir:
                del os.environ["MEMPROF_OUTPUT"]
        if self.agent is False and self.problem is None:
            self.problem = "memprof's agent is not recording (see its warning on stderr)"
        if self.agent:
            self.trace = self._trace_path()
        return self.agent

    def _trace_path(self):
        if "MEMPROF_FD" in os.environ and not self.own_dir:
            return None
        if self.own_dir:
            pattern, pid = os.path.join(self.own_dir, "memprof.%p.jsonl"), str(os.getpid())
        else:
            # The first process of the run made the trace, and named it.
            pattern = os.environ.get("MEMPROF_OUTPUT", "memprof.%p.jsonl")
            pid = os.environ.get("MEMPROF_SESSION", str(os.getpid()))
        return os.path.abspath(pattern.replace("%p", pid))

    # ---- each test ----

    @pytest.hookimpl(hookwrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        marker = pyfuncitem.get_closest_marker("limit_memory")
        func = _function_of(pyfuncitem.obj)
        if (not self.enabled and marker is None) or func is None:
            yield
            return
        limit = None
        if marker is not None:
            if len(marker.args) != 1 or marker.kwargs:
                pytest.fail("limit_memory takes one size, as limit_memory('24 MiB')", pytrace=False)
            try:
                limit = parse_size(marker.args[0])
            except ValueError as e:
                pytest.fail(str(e), pytrace=False)
        if not self._start():
            yield
            if limit is not None:
                self.over[pyfuncitem.nodeid] = "limit_memory could not be checked: %s" % self.problem
            return
        import memprof
        memprof.register(func)
        memprof.reset(func)
        baseline = memprof.rss()
        memprof.mark_peak()
        with memprof.tracing():
            yield
        peak = memprof.peak()
        result = _Result(pyfuncitem, func, baseline, peak, memprof.table(func, precision=3))
        self.results[pyfuncitem.nodeid] = result
        if limit is not None and (peak - baseline) * MIB > limit:
            self.over[pyfuncitem.nodeid] = self._over_message(result, limit)

    def _over_message(self, result, limit):
        rise = result.peak - result.baseline
        head = ("memprof: the test was limited to %s and its RSS rose %s above the %s at its start "
                "(peak %s)" % (_mib(limit / MIB), _mib(rise), _mib(result.baseline), _mib(result.peak)))
        threshold = result.baseline + limit / MIB
        filename = result.key[0]
        for line, mem, _inc, _count, contents in measured_rows(result.table):
            if mem > threshold:
                return "%s\nthe line that took it over: %s:%d (%s above the start once it ran)\n    %s" % (
                    head, filename, line, _mib(mem - result.baseline), contents.strip())
        return ("%s\nno line of the test ended above the limit: the peak was reached and released "
                "inside one line (or in a thread)\n\n%s" % (head, result.table.rstrip()))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "call" or item.nodeid not in self.over:
            return
        report = outcome.get_result()
        message = self.over.pop(item.nodeid)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.sections.append(("memprof limit_memory", message))

    # ---- the end ----

    def pytest_terminal_summary(self, terminalreporter):
        if not self.enabled:
            return
        tr = terminalreporter
        tr.write_sep("=", "memprof: costliest lines per test (exact-mode increment)")
        if not self.agent:
            tr.write_line(self.problem or "memprof: nothing was recorded")
            return
        ranked, why = self._ranked()
        if ranked is None:
            tr.write_line("memprof: the lines cannot be ranked: %s" % why)
        by_key = {}
        for r in self.results.values():
            by_key.setdefault(r.key, []).append(r.nodeid)
        for r in self.results.values():
            tr.write_line("")
            tr.write_line("%s: peak %s above the %s at its start" % (
                r.nodeid, _mib(r.peak - r.baseline), _mib(r.baseline)))
            others = len(by_key[r.key]) - 1
            if ranked is None:
                continue
            # The costliest: lines that added memory, not those that freed it.
            lines = [row for row in ranked.get(r.key, []) if row[0] > 0][:self.top]
            if others:
                tr.write_line("  (lines of all %d tests of this function)" % (others + 1))
            if not lines:
                tr.write_line("  no line of the test added memory")
            for exact, line, contents in lines:
                tr.write_line("  %12s  %s:%d  %s" % ("%.3f MiB" % exact, os.path.basename(r.key[0]), line,
                                                      contents.strip()))

    def _ranked(self):
        """{(co_filename, first line): [(exact increment, line, contents)]},
        most expensive first, as memprof-report --top ranks them."""
        if not self.trace or not os.path.exists(self.trace):
            return None, "the trace was not found (%s)" % (self.trace or "MEMPROF_FD")
        from memprof import _agent
        report = _agent.command_path("memprof-report")
        if not os.path.exists(report):
            report = shutil.which("memprof-report") or report
        try:
            out = subprocess.run([report, "--format", "json", "--top", "1000000", self.trace],
                                 capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, "%s: %s" % (report, e)
        if out.returncode not in (0, 1):
            return None, out.stderr.strip()
        data = json.loads(out.stdout)
        pid = os.getpid()
        functions = {}
        for proc in data["processes"]:
            if proc["pid"] != pid:
                continue
            for f in proc["functions"]:
                contents = {row["line"]: row["contents"] or "" for row in f["lines"]}
                functions[(f["filename"], f["function"])] = ((f["path"], f["first_line"]), contents)
        ranked = {}
        for row in data.get("top", []):
            if row.get("pid", pid) != pid:
                continue
            found = functions.get((row["filename"], row["function"]))
            if found:
                key, contents = found
                ranked.setdefault(key, []).append(
                    (row["exact_increment_mib"], row["line"], contents.get(row["line"], "")))
        return ranked, None

    def pytest_unconfigure(self, config):
        if self.own_dir:
            shutil.rmtree(self.own_dir, ignore_errors=True)


def _already_in_process():
    # The agent came with the process (LD_PRELOAD, the memprof launcher):
    # its trace is where that run put it.
    import ctypes
    try:
        ctypes.PyDLL(None).memprof_attach
        return True
    except AttributeError:
        return False


def _function_of(obj):
    # A method's function; under decorators (functools.wraps, mock.patch),
    # the test's own body.
    obj = getattr(obj, "__func__", obj)
    seen = set()
    while hasattr(obj, "__wrapped__") and id(obj) not in seen:
        seen.add(id(obj))
        obj = obj.__wrapped__
    if isinstance(getattr(obj, "__code__", None), types.CodeType):
        return obj
    return None
