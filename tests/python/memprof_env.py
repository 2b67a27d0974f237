"""The package from the source tree, laid out as `pip install .` lays it
out (python/memprof/ with the built agent and commands in memprof/_lib/),
and the environment that imports it from there."""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "python" / "memprof"
BUILD = ROOT / "build"


def package_tree(where):
    """A directory to put on sys.path: memprof/ of symbolic links to the
    tree's modules and to build/ as its _lib/, and memprof_pytest.py.
    Returns its path."""
    pkg = Path(where) / "memprof"
    pkg.mkdir(parents=True)
    for module in PACKAGE_DIR.glob("*.py"):
        (pkg / module.name).symlink_to(module)
    (pkg / "_lib").symlink_to(BUILD)
    # The pytest plugin is a module beside the package.
    (Path(where) / "memprof_pytest.py").symlink_to(ROOT / "python" / "memprof_pytest.py")
    return Path(where)


def package_env(tree, **extra):
    """os.environ without memprof's variables and LD_PRELOAD, importing
    memprof from tree (see package_tree)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMPROF_") and k != "LD_PRELOAD"}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(tree) + (os.pathsep + path if path else "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def pyenv_python(minor):
    """The newest pyenv interpreter 3.<minor>.x, or None."""
    root = Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")) / "versions"
    found = sorted(root.glob("3.%d.*" % minor), key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
    for v in reversed(found):
        if (v / "bin" / "python").exists():
            return str(v / "bin" / "python")
    return None


DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")


def pyenv_with_debian_packages(spec, names, where):
    """For spec "pyenv-3.N": (pyenv's newest 3.N, a directory of links to
    Debian's pure-Python packages names, made in where, to put on its
    path). Skips, loudly, if pyenv has no 3.N."""
    import pytest
    minor = int(spec.split(".")[1])
    exe = pyenv_python(minor)
    if exe is None:
        pytest.skip("SKIPPED LOUDLY: no pyenv Python 3.%d" % minor)
    for name in names:
        if (DIST_PACKAGES / name).exists():
            (Path(where) / name).symlink_to(DIST_PACKAGES / name)
    return exe, Path(where)
