"""The IPython extension in a real Jupyter kernel: a notebook is executed
with nbclient in Debian's ipykernel and each cell's output is checked.
The same cells also run in IPython's InteractiveShell on pyenv's 3.12 and
3.13 (where memprof traces through sys.monitoring; Debian's IPython is
pure Python and runs there from a directory of links to its packages, the
kernel's zmq does not).

Facts that hold on any machine: which rows a table has, their source text
and Occurrences, and the increment of an allocation of known size within
a tolerance; never an absolute RSS.
"""
import json
import os
import re
import subprocess
import types

import pytest

from memprof_env import package_env, package_tree, pyenv_with_debian_packages

nbformat = pytest.importorskip("nbformat", reason="SKIPPED LOUDLY: python3-nbformat is not installed")
nbclient = pytest.importorskip("nbclient", reason="SKIPPED LOUDLY: python3-nbclient is not installed")
pytest.importorskip("ipykernel", reason="SKIPPED LOUDLY: python3-ipykernel is not installed")

MIB = 1048576.0
# [1] * n allocates a list of n 8-byte pointers.
LIST_MIB = lambda n: n * 8 / MIB

HEADER = "Line #    Mem usage    Increment  Occurrences   Line Contents"
MEASURED = re.compile(r"^ *(\d+) +(-?\d+\.\d) MiB +(-?\d+\.\d) MiB +(\d+)(?:   (.*))?$")
UNMEASURED = re.compile(r"^ *(\d+)(?: {41}(.*))?$")

CELLS = {
    "load": "%load_ext memprof",
    "define": (
        "def build(n):\n"
        "    kept = [1] * (10 ** 6)\n"
        "    # a comment row\n"
        "    temp = [2] * (n * 10 ** 6)\n"
        "    del temp\n"
        "    return kept\n"
    ),
    "mprun": "%mprun -f build build(20)",
    "mprun_twice": "%mprun -f build build(1); build(1)",
    "mprun_again": "%mprun -f build build(1)",
    "mprun_cell": "%%mprun -f build\nfor _ in range(3):\n    build(1)",
    "memit_kept": "%memit kept = [0] * (25 * 10 ** 6)",
    "kept_there": "print(len(kept))",
    "memit_spike": "%memit sum([0] * (20 * 10 ** 6))",
    "memit_o": "r = %memit -o -q -r 2 [0] * (10 * 10 ** 6)\nprint(len(r.peaks), round(r.increment))",
    "memprof": (
        "%%memprof\n"
        "total = 0\n"
        "for i in range(3):\n"
        "    chunk = [i] * (10 ** 6)\n"
        "    total += len(chunk)\n"
        "big = [0] * (30 * 10 ** 6)\n"
        "del chunk\n"
    ),
    "memprof_ns": "print(total, len(big))",
    "memit_cell": "%%memit n = 10 ** 7; before = [1] * (5 * n)\nafter = [0] * n",
    "memit_cell_ns": "print(len(before), len(after))",
    "mprun_files": ("text = %mprun -r -T mprun.txt -f build build(1)\n"
                    "print(open('mprun.txt').read() == text + '\\n', text.startswith('Filename: '))"),
    "memprof_file": "%%memprof -p 3 -T cell.txt\nsmall = [0] * (10 ** 5)",
    "memprof_file_ns": "print(open('cell.txt').read())",
    "memprof_raises": "%%memprof\nbefore_error = 1\n1 / 0",
    "mprun_no_f": "%mprun build(1)",
    "memit_empty": "%memit",
}


def rows(text):
    """{line: (mem, inc, occurrences, contents)} of the one table in text,
    unmeasured rows as (None, None, None, contents)."""
    lines = text.rstrip("\n").split("\n")
    head = lines.index(HEADER)
    assert lines[head + 1] == "=" * len(HEADER)
    assert lines[head - 1] == "" and lines[head - 2].startswith("Filename: ")
    table = {}
    for line in lines[head + 2:]:
        if not line:
            break       # the end of the table
        m = MEASURED.match(line)
        if m:
            table[int(m[1])] = (float(m[2]), float(m[3]), int(m[4]), m[5] or "")
            continue
        m = UNMEASURED.match(line)
        assert m, "not a table row: %r" % line
        table[int(m[1])] = (None, None, None, m[2] or "")
    return table


def stdout_of(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors[0].traceback)
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def stderr_of(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


IPYTHON_PACKAGES = ["IPython", "traitlets", "pygments", "prompt_toolkit", "jedi", "parso", "pexpect",
                    "ptyprocess", "decorator.py", "backcall", "stack_data", "executing", "asttokens",
                    "pure_eval", "matplotlib_inline", "pickleshare.py", "wcwidth", "six.py"]

# Runs the cells (argv[1], JSON) in an InteractiveShell; writes each
# cell's stdout, stderr and whether it raised (a UsageError aside) to
# argv[2], as a notebook's outputs.
SHELL = r'''
import contextlib, io, json, sys
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(colors="NoColor")
outputs = {}
for name, src in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = ip.run_cell(src, store_history=True)
    raised = result.error_in_exec
    outputs[name] = [{"output_type": "stream", "name": stream, "text": text.getvalue()}
                     for stream, text in (("stdout", out), ("stderr", err)) if text.getvalue()]
    if raised is not None and not isinstance(raised, UsageError):
        outputs[name].append({"output_type": "error", "traceback": [out.getvalue()]})
with open(sys.argv[2], "w") as f:
    json.dump(outputs, f)
'''


def in_a_shell(exe, tmp, tree, links):
    env = package_env(tree)
    env["PYTHONPATH"] += os.pathsep + str(links)
    result = tmp / "outputs.json"
    done = subprocess.run([exe, "-c", SHELL, json.dumps(list(CELLS.items())), str(result)],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return {name: types.SimpleNamespace(outputs=[types.SimpleNamespace(**o) for o in outs])
            for name, outs in json.loads(result.read_text()).items()}


@pytest.fixture(scope="module", params=["kernel-debian-3.11", "shell-pyenv-3.12", "shell-pyenv-3.13"])
def notebook(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb")
    tree = package_tree(tmp_path_factory.mktemp("pkg"))
    if request.param.startswith("shell"):
        exe, links = pyenv_with_debian_packages(request.param[6:], IPYTHON_PACKAGES,
                                                tmp_path_factory.mktemp("debian-ipython"))
        return in_a_shell(exe, tmp, tree, links)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"name": name}) for name, src in CELLS.items()]
    env = package_env(tree)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                                         resources={"metadata": {"path": str(tmp)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(nb, str(tmp / "executed.ipynb"))
    return {c.metadata["name"]: c for c in nb.cells}


def test_load_ext_prints_nothing(notebook):
    assert notebook["load"].outputs == []


def test_mprun_table_of_a_function_defined_in_a_cell(notebook):
    out = stdout_of(notebook["mprun"])
    table = rows(out)
    filename = out.split("\n")[0][len("Filename: "):]
    assert not os.path.exists(filename)  # the name IPython gave the cell in linecache
    assert sorted(table) == [1, 2, 3, 4, 5, 6]
    assert [table[n][3] for n in range(1, 7)] == [
        "def build(n):", "    kept = [1] * (10 ** 6)", "    # a comment row",
        "    temp = [2] * (n * 10 ** 6)", "    del temp", "    return kept"]
    assert table[3][0] is None
    assert [table[n][2] for n in (1, 2, 4, 5, 6)] == [1, 1, 1, 1, 1]
    assert table[4][1] == pytest.approx(LIST_MIB(20 * 10 ** 6), abs=3)
    assert table[5][1] == pytest.approx(-LIST_MIB(20 * 10 ** 6), abs=3)
    assert table[2][1] == pytest.approx(LIST_MIB(10 ** 6), abs=2)


def test_mprun_counts_every_call_of_its_statement_only(notebook):
    twice = rows(stdout_of(notebook["mprun_twice"]))
    assert [twice[n][2] for n in (1, 2, 4, 5, 6)] == [2] * 5
    # A new %mprun forgets the calls of the earlier ones.
    again = rows(stdout_of(notebook["mprun_again"]))
    assert [again[n][2] for n in (1, 2, 4, 5, 6)] == [1] * 5
    cell = rows(stdout_of(notebook["mprun_cell"]))
    assert [cell[n][2] for n in (1, 2, 4, 5, 6)] == [3] * 5


MEMIT = re.compile(r"^peak memory: (\d+\.\d\d) MiB, increment: (-?\d+\.\d\d) MiB$")


def test_memit_prints_peak_and_increment_and_runs_in_the_namespace(notebook):
    out = stdout_of(notebook["memit_kept"]).strip()
    m = MEMIT.match(out)
    assert m, out
    peak, inc = float(m[1]), float(m[2])
    assert inc == pytest.approx(LIST_MIB(25 * 10 ** 6), abs=3)
    assert peak > inc
    assert stdout_of(notebook["kept_there"]).strip() == str(25 * 10 ** 6)


def test_memit_sees_a_peak_freed_before_the_statement_ended(notebook):
    m = MEMIT.match(stdout_of(notebook["memit_spike"]).strip())
    assert m
    assert float(m[2]) == pytest.approx(LIST_MIB(20 * 10 ** 6), abs=3)


def test_memit_o_returns_the_result_and_q_prints_nothing(notebook):
    out = stdout_of(notebook["memit_o"]).split()
    assert out[0] == "2"
    assert float(out[1]) == pytest.approx(LIST_MIB(10 * 10 ** 6), abs=3)


def test_memprof_cell_magic_tables_the_cells_own_lines(notebook):
    out = stdout_of(notebook["memprof"])
    table = rows(out)
    # The rows are numbered as the notebook numbers the cell's lines.
    cell = CELLS["memprof"].split("\n")[:-1]
    assert sorted(table) == list(range(1, len(cell) + 1))
    assert [table[n][3] for n in sorted(table)] == cell
    # %%memprof's row has the RSS before the cell (a def line's charge); a
    # for line runs once per iteration and once more to end the loop.
    assert [table[n][2] for n in sorted(table)] == [1, 1, 4, 3, 3, 1, 1]
    assert table[1][1] == table[1][0]
    assert table[2][1] == pytest.approx(0, abs=0.5)
    assert table[6][1] == pytest.approx(LIST_MIB(30 * 10 ** 6), abs=3)
    # The cell ran in the user's namespace.
    assert stdout_of(notebook["memprof_ns"]).split() == [str(3 * 10 ** 6), str(30 * 10 ** 6)]


def test_usage_errors_say_what_is_missing(notebook):
    # IPython prints a UsageError as one line on stderr, no traceback.
    assert "UsageError: %mprun needs -f FUNCTION" in stderr_of(notebook["mprun_no_f"])
    assert stdout_of(notebook["mprun_no_f"]) == ""
    assert "UsageError: %memit needs a statement" in stderr_of(notebook["memit_empty"])


def test_memit_cell_mode_measures_the_body_only(notebook):
    m = MEMIT.match(stdout_of(notebook["memit_cell"]).strip())
    assert m
    # The first line's 38 MiB came before the baseline.
    assert float(m[2]) == pytest.approx(LIST_MIB(10 ** 7), abs=3)
    assert stdout_of(notebook["memit_cell_ns"]).split() == [str(5 * 10 ** 7), str(10 ** 7)]


def test_mprun_returns_and_writes_its_tables(notebook):
    out = stdout_of(notebook["mprun_files"])
    assert out.rstrip().split("\n")[-1] == "True True"
    assert "*** Profile printout saved to text file mprun.txt." in out


def test_memprof_cell_magic_precision_and_file(notebook):
    out = stdout_of(notebook["memprof_file"])
    table = out.rstrip().split("\n")
    assert table[-2:] == [l for l in table[-2:] if re.search(r"\d\.\d{3} MiB", l)]
    assert table[-2].endswith("%%memprof -p 3 -T cell.txt")
    assert stdout_of(notebook["memprof_file_ns"]).rstrip() == out.rstrip()


def test_memprof_cell_magic_prints_the_table_of_a_cell_that_raised(notebook):
    cell = notebook["memprof_raises"]
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1
    out = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    # (IPython's shell prints the traceback right after it, on stdout.)
    assert out.startswith("Filename: ") and HEADER in out
    measured = [m for m in map(MEASURED.match, out.split("\n")) if m]
    assert [(int(m[1]), m[5]) for m in measured] == [(1, "%%memprof"), (2, "before_error = 1"), (3, "1 / 0")]
