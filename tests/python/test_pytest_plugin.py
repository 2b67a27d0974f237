"""The pytest plugin (memprof_pytest), run by Debian's pytest in a
subprocess on test files written here, importing the package from the
source tree (memprof_env.package_tree).

On Debian's python3 and, where pyenv has them, 3.12 and 3.13 (where
memprof traces through sys.monitoring): Debian's pytest is pure Python, and
runs there from a directory of links to its packages.

Allocations are lists of 8-byte pointers of at least 38 MiB: glibc maps
blocks that large on their own (above its largest mmap threshold, 32
MiB), so each one shows in the RSS when made and leaves it when freed,
whatever earlier tests left in the heap.
"""
import os
import re
import subprocess
import textwrap

import pytest

from memprof_env import package_env, package_tree, pyenv_with_debian_packages

DEBIAN_PYTHON = "/usr/bin/python3"
# What Debian's pytest 7 imports, all pure Python.
PYTEST_PACKAGES = ["_pytest", "pytest", "pluggy", "iniconfig", "packaging", "attr", "attrs", "py", "py.py"]

MIB = 1048576.0
LIST_MIB = lambda n: n * 8 / MIB

LIMITS = textwrap.dedent('''\
    import pytest

    @pytest.mark.limit_memory("24 MiB")
    def test_over():
        small = [1] * (10 ** 5)
        big = [2] * (10 ** 7)
        del big
        assert small

    @pytest.mark.limit_memory("100 MB")
    def test_under():
        kept = [1] * (10 ** 7)
        assert kept

    def test_unlimited():
        huge = [0] * (3 * 10 ** 7)
        assert huge

    @pytest.mark.limit_memory("24 MiB")
    def test_spike():
        assert sum([0] * (10 ** 7)) == 0

    @pytest.mark.limit_memory("24 MiB")
    def test_fails_on_its_own():
        big = [2] * (10 ** 7)
        assert not big

    @pytest.mark.limit_memory("lots")
    def test_bad_size():
        pass

    class TestMethods:
        @pytest.mark.limit_memory("24 MiB")
        def test_method_over(self):
            big = [2] * (5 * 10 ** 6)
            assert big

    import functools


    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            return f(*args, **kwargs)
        return wrapper


    @pytest.mark.limit_memory("24 MiB")
    @deco
    def test_decorated_over():
        huge = [2] * (10 ** 7)
        assert huge
    ''')

COSTS = textwrap.dedent('''\
    import pytest

    def test_alloc():
        keep = [1] * (5 * 10 ** 6)
        more = [2] * (10 ** 7)
        del more
        assert keep

    def test_small():
        x = 1
        assert x

    @pytest.mark.parametrize("n", [5, 6])
    def test_param(n):
        data = [0] * (n * 10 ** 6)
        assert data
    ''')


@pytest.fixture(scope="module", params=["debian-3.11", "pyenv-3.12", "pyenv-3.13"])
def python(request, tmp_path_factory):
    """(interpreter, directory to put on its path for pytest or None)."""
    if request.param == "debian-3.11":
        return DEBIAN_PYTHON, None
    return pyenv_with_debian_packages(request.param, PYTEST_PACKAGES, tmp_path_factory.mktemp("debian-pytest"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return package_tree(tmp_path_factory.mktemp("pkg"))


def run_pytest(python, tree, tmp_path, files, *args, **env):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    exe, links = python
    env = package_env(tree, **env)
    if links:
        env["PYTHONPATH"] += os.pathsep + str(links)
    out = subprocess.run([exe, "-m", "pytest", "-p", "memprof_pytest",
                          "-p", "no:cacheprovider", "-p", "no:warnings", "-q", *args],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return out


def outcomes(stdout):
    """{test name: PASSED/FAILED/ERROR} from -rA's short summary."""
    found = {}
    for line in stdout.split("\n"):
        m = re.match(r"^(PASSED|FAILED|ERROR) \S+::(?:\w+::)?(\w+)", line)
        if m:
            found[m[2]] = m[1]
    return found


def failure_of(stdout, name):
    m = re.search(r"_{3,} (?:\w+\.)?%s _{3,}\n(.*?)(?=\n_{3,} |\n=+ )" % name, stdout, re.S)
    assert m, stdout
    return m[1]


@pytest.fixture(scope="module")
def limits(python, tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    out = run_pytest(python, tree, tmp, {"test_limits.py": LIMITS}, "-rA")
    return out, tmp


def test_limit_memory_fails_the_tests_over_their_limit_only(limits):
    out, tmp = limits
    assert out.returncode == 1, out.stdout + out.stderr
    assert outcomes(out.stdout) == {
        "test_over": "FAILED", "test_under": "PASSED", "test_unlimited": "PASSED",
        "test_spike": "FAILED", "test_fails_on_its_own": "FAILED", "test_bad_size": "FAILED",
        "test_method_over": "FAILED", "test_decorated_over": "FAILED"}
    # Without --memprof and with markers, the trace is the plugin's own,
    # in a temporary directory: nothing is left in the user's.
    assert sorted(p.name for p in tmp.iterdir()) == ["test_limits.py"]


def test_limit_memory_names_the_line_that_took_it_over(limits):
    text = failure_of(limits[0].stdout, "test_over")
    m = re.search(r"limited to 24\.0 MiB and its RSS rose (\d+\.\d) MiB above", text)
    assert m, text
    assert float(m[1]) == pytest.approx(LIST_MIB(10 ** 7), abs=3)
    assert re.search(r"the line that took it over: \S*test_limits\.py:6 \(", text), text
    assert "big = [2] * (10 ** 7)" in text
    method = failure_of(limits[0].stdout, "test_method_over")
    assert re.search(r"test_limits\.py:35 .*\n +big = \[2\] \* \(5 \* 10 \*\* 6\)", method), method
    # Under a functools.wraps decorator: the line of the test's own body.
    decorated = failure_of(limits[0].stdout, "test_decorated_over")
    line = LIMITS.split("\n").index("    huge = [2] * (10 ** 7)") + 1
    assert re.search(r"test_limits\.py:%d .*\n +huge = " % line, decorated), decorated


def test_limit_memory_sees_a_peak_inside_a_line(limits):
    text = failure_of(limits[0].stdout, "test_spike")
    m = re.search(r"its RSS rose (\d+\.\d) MiB above", text)
    assert m and float(m[1]) == pytest.approx(LIST_MIB(10 ** 7), abs=3), text
    assert "inside one line" in text


def test_limit_memory_keeps_the_tests_own_failure(limits):
    text = failure_of(limits[0].stdout, "test_fails_on_its_own")
    assert "assert not" in text
    assert "memprof limit_memory" in text and "test_limits.py:25" in text


def test_limit_memory_refuses_a_size_it_cannot_read(limits):
    text = failure_of(limits[0].stdout, "test_bad_size")
    assert "'lots' is not a size" in text


def test_without_markers_or_option_the_agent_is_not_loaded(python, tree, tmp_path):
    probe = textwrap.dedent('''\
        import ctypes

        def test_no_agent():
            big = [0] * (10 ** 7)
            try:
                ctypes.PyDLL(None).memprof_attach
            except AttributeError:
                return
            raise AssertionError("the agent is loaded")
        ''')
    out = run_pytest(python, tree, tmp_path, {"test_probe.py": probe})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "memprof" not in out.stdout + out.stderr


COST_ROW = re.compile(r"^ +(-?\d+\.\d{3}) MiB  test_costs\.py:(\d+)  (.*)$")


def summary(stdout):
    """{nodeid: [(exact MiB, line, contents)]} of --memprof's summary."""
    part = stdout[stdout.index("memprof: costliest lines per test"):]
    tests, current = {}, None
    for line in part.split("\n")[1:]:
        m = re.match(r"^(\S+::\S+): peak (\d+\.\d) MiB above", line)
        if m:
            current = tests.setdefault(m[1], {"peak": float(m[2]), "rows": []})
            continue
        m = COST_ROW.match(line)
        if m and current is not None:
            current["rows"].append((float(m[1]), int(m[2]), m[3]))
        if line.startswith("="):
            break
    return tests


def test_memprof_option_prints_each_tests_costliest_lines(python, tree, tmp_path):
    out = run_pytest(python, tree, tmp_path, {"test_costs.py": COSTS}, "--memprof", "--memprof-top", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    tests = summary(out.stdout)
    assert sorted(tests) == ["test_costs.py::test_alloc", "test_costs.py::test_param[5]",
                             "test_costs.py::test_param[6]", "test_costs.py::test_small"]
    rows = tests["test_costs.py::test_alloc"]["rows"]
    # Ranked by what each line cost: the 76 MiB line, then the 38 MiB one;
    # the others added nothing (del freed) and are not listed.
    assert [r[1] for r in rows] == [5, 4]
    assert rows[0][0] == pytest.approx(LIST_MIB(10 ** 7), abs=3)
    assert rows[1][0] == pytest.approx(LIST_MIB(5 * 10 ** 6), abs=3)
    assert rows[0][2] == "more = [2] * (10 ** 7)"
    assert tests["test_costs.py::test_alloc"]["peak"] == pytest.approx(LIST_MIB(15 * 10 ** 6), abs=3)
    assert tests["test_costs.py::test_small"]["rows"] == []
    assert "no line of the test added memory" in out.stdout
    assert "(lines of all 2 tests of this function)" in out.stdout
    # The trace was the plugin's own: nothing left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_costs.py"]


@pytest.mark.parametrize("text, size", [
    ("24 MiB", 24 * 2 ** 20), ("24MiB", 24 * 2 ** 20), ("100 MB", 100 * 2 ** 20), ("1.5 gb", 1.5 * 2 ** 30),
    ("512 kb", 512 * 1024), ("2 KiB", 2048), ("100 B", 100), ("+3 TB", 3 * 2 ** 40), (4096, 4096), ("7", 7)])
def test_sizes_read_as_pytest_memray_reads_them(tree, text, size):
    assert plugin_module(tree).parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-5 MB", "24 XB", "MiB", "", None, True, -1])
def test_sizes_refused(tree, text):
    with pytest.raises(ValueError, match="is not a size"):
        plugin_module(tree).parse_size(text)


def plugin_module(tree):
    # The plugin's module alone (it loads no agent when imported).
    import importlib.util
    spec = importlib.util.spec_from_file_location("memprof_pytest_plugin", tree / "memprof_pytest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
