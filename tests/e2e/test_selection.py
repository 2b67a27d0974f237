"""Profiling without touching the code: MEMPROF_FILES and MEMPROF_FUNCTIONS,
alone and together with @profile, on every interpreter present."""
import shutil

import pytest

from test_agent import (DEBIAN_PYTHON, INTERPRETERS, LAUNCHER, agent_env, interpreter,
                        records, report, run, tables, write)

PROGRAM = """\
import json

def build(n):
    data = [0] * n
    return len(data)

class Worker:
    def run(self, k):
        total = 0
        for i in range(k):
            total += build(1000)
        return total

squares = [i * i for i in range(10)]
print(Worker().run(3), json.dumps(squares[:3]))
"""


def by_first_line(text):
    return {min(rows): rows for _, rows, _ in tables(text)}


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_files_profiles_a_script_without_decorators(spec, tmp_path):
    exe = interpreter(spec)
    write(tmp_path, "nodeco.py", PROGRAM)
    trace = tmp_path / "t.jsonl"
    out = run([exe, "nodeco.py"], tmp_path, agent_env(trace, MEMPROF_FILES="nodeco.py"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "3000 [0, 1, 4]\n", "")
    text = report(trace)
    found = tables(text)
    # The module, then each function as it first ran: run, build.
    assert [name for name, _, _ in found] == ["nodeco.py"] * 3, text
    module, run_rows, build_rows = (rows for _, rows, _ in found)
    assert sorted(module) == list(range(1, 16)), "the module table covers the file"
    assert module[15][2] == 1 and module[1][2] >= 1
    assert module[4] is None and module[9] is None, "function bodies are in their own tables"
    assert sorted(run_rows) == [8, 9, 10, 11, 12]
    assert [run_rows[n][2] for n in (9, 10, 11, 12)] == [1, 4, 3, 1]
    assert [build_rows[n][2] for n in (3, 4, 5)] == [3, 3, 3]
    quals = [r["qualname"] for r in records(trace) if r["k"] == "code" and r["top"] == r["id"]]
    assert quals == ["<module>", "Worker.run", "build"]


@pytest.mark.parametrize("spec", INTERPRETERS)
def test_functions_by_module_and_qualname(spec, tmp_path):
    exe = interpreter(spec)
    write(tmp_path, "nodeco.py", PROGRAM)
    trace = tmp_path / "t.jsonl"
    out = run([exe, "nodeco.py"], tmp_path,
              agent_env(trace, MEMPROF_FUNCTIONS="__main__:Worker.run, json:dump*"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "3000 [0, 1, 4]\n", "")
    found = tables(report(trace))
    assert found[0][0] == "nodeco.py" and sorted(found[0][1]) == [8, 9, 10, 11, 12]
    assert found[1][0].endswith("json/__init__.py")
    assert len(found) == 2, "build() and the module were not selected"


def test_selection_combines_with_profile(tmp_path):
    write(tmp_path, "mixed.py", """\
        import helper

        @profile
        def decorated():
            return helper.work(2)

        decorated()
        helper.work(3)
    """)
    write(tmp_path, "helper.py", """\
        def work(n):
            out = []
            for i in range(n):
                out.append(i)
            return out
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "mixed.py"], tmp_path, agent_env(trace, MEMPROF_FILES="helper.py"))
    assert out.returncode == 0 and out.stderr == ""
    found = tables(report(trace))
    names = [name for name, _, _ in found]
    # Registration order: helper's module (imported first), decorated() at
    # decoration, work() when it first ran; each once.
    assert names.count("mixed.py") == 1 and len(names) == 3, names
    assert names[1] == "mixed.py" and names[0].endswith("helper.py")
    work = found[2][1]
    assert work[3][2] == 2 + 3 + 2, "the for line ran in both calls"


def test_selection_follows_threads(tmp_path):
    write(tmp_path, "th.py", """\
        import threading

        def work():
            x = [0] * 100
            return len(x)

        ts = [threading.Thread(target=work) for _ in range(3)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    """)
    trace = tmp_path / "t.jsonl"
    out = run([DEBIAN_PYTHON, "th.py"], tmp_path, agent_env(trace, MEMPROF_FUNCTIONS="work"))
    assert out.returncode == 0, out.stderr
    rows = tables(report(trace))[0][1]
    assert rows[4][2] == 3


def test_launcher_files_option(tmp_path):
    write(tmp_path, "nodeco.py", PROGRAM)
    out = run([str(LAUNCHER), "-o", "t.jsonl", "--files", "nodeco.py", DEBIAN_PYTHON, "nodeco.py"],
              tmp_path, {k: v for k, v in __import__("os").environ.items()
                         if not k.startswith("MEMPROF_")})
    assert out.returncode == 0, out.stderr
    assert len(tables(out.stdout)) == 3


def test_no_selection_costs_nothing_visible(tmp_path):
    # Patterns that match nothing: no tables, no trace left behind, output unchanged.
    write(tmp_path, "nodeco.py", PROGRAM)
    out = run([DEBIAN_PYTHON, "nodeco.py"], tmp_path,
              agent_env(tmp_path / "t.jsonl", MEMPROF_FILES="nothing*.py", MEMPROF_INTERVAL="off"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "3000 [0, 1, 4]\n", "")
    assert not (tmp_path / "t.jsonl").exists()
