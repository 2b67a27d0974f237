"""The front ends as pip installs them: the wheel built from this tree
(Debian's pip, no network) installed into a venv that sees Debian's
packages (pytest, IPython), where pytest finds the plugin through its
pytest11 entry point (no -p) and `%load_ext memprof` finds the extension.
"""
import os
import re
import subprocess
import textwrap

import pytest

from memprof_env import ROOT

PYTHON = "/usr/bin/python3"


def run(args, **kw):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMPROF_") and k not in ("LD_PRELOAD", "PYTHONPATH")}
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("installed")
    built = run([PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
                 "-w", str(tmp / "wheels"), str(ROOT)])
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "wheels").glob("memprof_lines-*.whl")
    made = run([PYTHON, "-m", "venv", "--system-site-packages", str(tmp / "venv")])
    assert made.returncode == 0, made.stderr
    installed = run([str(tmp / "venv" / "bin" / "pip"), "install", "--no-index", str(wheel)])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (tmp / "work").mkdir()
    return tmp / "venv" / "bin" / "python", tmp / "work"


def test_pytest_finds_the_plugin_by_its_entry_point(venv):
    python, work = venv
    (work / "test_entry.py").write_text(textwrap.dedent('''\
        import pytest

        @pytest.mark.limit_memory("24 MiB")
        def test_over():
            big = [2] * (10 ** 7)
            assert big
        '''))
    out = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--memprof", "test_entry.py"],
              cwd=work)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the line that took it over: %s:5" % (work / "test_entry.py") in out.stdout
    assert "memprof: costliest lines per test" in out.stdout
    assert "test_entry.py:5  big = [2] * (10 ** 7)" in out.stdout


def test_load_ext_finds_the_extension(venv):
    python, work = venv
    out = run([str(python), "-c", textwrap.dedent('''\
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance(colors="NoColor")
        ip.run_line_magic("load_ext", "memprof")
        ip.run_cell("%memit x = [0] * 10 ** 7")
        import memprof
        print(memprof.__file__)
        ''')], cwd=work)
    assert out.returncode == 0, out.stderr
    memit, where = out.stdout.strip().split("\n")
    m = re.match(r"^peak memory: \d+\.\d\d MiB, increment: (\d+\.\d\d) MiB$", memit)
    assert m and float(m[1]) == pytest.approx(10 ** 7 * 8 / 1048576.0, abs=3), memit
    assert where.startswith(str(python.parent.parent))
