"""`import memprof` in an interpreter started without the agent (no
LD_PRELOAD): the import itself loads the agent, installs the builtin
profile and keeps the tables in the process, so what is decorated or
selected afterwards is recorded, without a call to memprof.start().

The package comes from the source tree (memprof_env.package_tree); the
table is compared with memory_profiler 0.61's (`python -m memory_profiler`
on Debian's python3) for the same program.
"""
import re
import subprocess
import textwrap

import pytest

from memprof_env import package_env, package_tree, pyenv_python

DEBIAN = "/usr/bin/python3"
INTERPRETERS = [pytest.param("debian", id="debian-3.11"),
                pytest.param(12, id="pyenv-3.12"), pytest.param(13, id="pyenv-3.13")]

PROGRAM = textwrap.dedent('''\
    import sys
    maps = lambda: "libmemprof.so" in open("/proc/self/maps").read()
    if sys.argv[1:] == ["memprof"]:
        before = maps()
        import memprof
        print("loaded", before, maps(), callable(__builtins__.profile if hasattr(__builtins__, "profile") else __builtins__["profile"]))

    @profile
    def grow():
        a = [1] * (10 ** 6)
        b = [2] * (2 * 10 ** 7)
        del b
        return a

    grow()
    if "memprof" in sys.modules:
        print(memprof.table(), end="")
    ''')

ROW = re.compile(r"^ *(\d+) +(-?\d+\.\d+) MiB +(-?\d+\.\d+) MiB +(\d+)   (.*)$")


def python_of(spec):
    if spec == "debian":
        return DEBIAN
    exe = pyenv_python(spec)
    if exe is None:
        pytest.skip("SKIPPED LOUDLY: no pyenv Python 3.%d" % spec)
    return exe


def rows(text):
    """{line: (increment, occurrences, contents)} of a table's measured rows."""
    return {int(m[1]): (float(m[3]), int(m[4]), m[5])
            for m in map(ROW.match, text.splitlines()) if m}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return package_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    work = tmp_path_factory.mktemp("oracle")
    (work / "prog.py").write_text(PROGRAM)
    r = subprocess.run([DEBIAN, "-m", "memory_profiler", "prog.py"], cwd=work,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_import_loads_the_agent_and_records_what_is_then_decorated(spec, tree, oracle, tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    r = subprocess.run([python_of(spec), "prog.py", "memprof"], cwd=tmp_path, env=package_env(tree),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    first, _, table = r.stdout.partition("\n")
    assert first == "loaded False True True"
    mine, theirs = rows(table), rows(oracle)
    # The same rows, each run as often, and the same big increments.
    assert sorted(mine) == sorted(theirs) == [8, 10, 11, 12, 13], table + oracle
    for line in mine:
        assert mine[line][1:] == theirs[line][1:], (line, table, oracle)
    assert 150 < mine[11][0] < 156 and 150 < theirs[11][0] < 156
    assert -156 < mine[12][0] < -150 and -156 < theirs[12][0] < -150
    # The layout: header and rule as memory_profiler prints them.
    assert table.split("\n")[2:4] == oracle.split("\n")[2:4]


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_import_then_selection_by_name(spec, tree, tmp_path):
    (tmp_path / "sel.py").write_text(textwrap.dedent('''\
        import memprof

        def build():
            a = [0] * (10 ** 7)
            return len(a)

        build()
        print(memprof.table(), end="")
        '''))
    r = subprocess.run([python_of(spec), "sel.py"], cwd=tmp_path,
                       env=package_env(tree, MEMPROF_FUNCTIONS="build"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    table = rows(r.stdout)
    assert sorted(table) == [3, 4, 5], r.stdout
    assert 73 < table[4][0] < 80, r.stdout       # 10**7 pointers: 76.3 MiB


def test_python_dash_m_memprof_does_not_load_it_here(tree, tmp_path):
    # `python -m memprof` imports the package while sys.argv[0] is "-m":
    # no agent in the interpreter that goes on to run the launcher.
    code = ('import sys; sys.argv[0] = "-m"; import memprof; '
            'print("libmemprof.so" in open("/proc/self/maps").read())')
    r = subprocess.run([DEBIAN, "-c", code], cwd=tmp_path, env=package_env(tree),
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "False\n", r.stdout + r.stderr
    r = subprocess.run([DEBIAN, "-c", code.replace('sys.argv[0] = "-m"; ', "")], cwd=tmp_path,
                       env=package_env(tree), capture_output=True, text=True, timeout=60)
    assert r.stdout == "True\n", r.stdout + r.stderr
