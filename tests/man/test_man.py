"""memprof(1) and memprof-report(1) are made from the programs' --help by
help2man (make man): each option --help lists appears in its page, every
MEMPROF_* variable the agent or the launcher reads appears in memprof(1),
and each doc the pages point to is one that `make install` installs.

Run: make test-man
"""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"


def page_text(name):
    """The page's words: troff's font changes dropped, its '-' unescaped."""
    src = (BUILD / "man" / (name + ".1")).read_text()
    return re.sub(r"\\f[BIRP]", "", src).replace("\\-", "-").replace("\\(aq", "'")


def help_options(name):
    out = subprocess.run([str(BUILD / name), "--help"], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        m = re.match(r"^  (-\w, )?(--[\w-]+)", line)
        if m:
            found.add(m.group(2))
            if m.group(1):
                found.add(m.group(1)[:2])
    return found


@pytest.mark.parametrize("name", ["memprof", "memprof-report"])
def test_every_help_option_is_in_the_page(name):
    options = help_options(name)
    assert len(options) > 10, options          # the parse found the option list
    text = page_text(name)
    missing = sorted(o for o in options if not re.search(r"(^|[\s,\[(])%s\b" % re.escape(o),
                                                          text, re.M))
    assert missing == [], "%s(1) lacks %s: run make man" % (name, missing)
    assert ".SH OPTIONS" in text and ".SH SYNOPSIS" in text and ".SH EXAMPLES" in text


def test_every_memprof_variable_is_in_memprof_1():
    names = set()
    for folder in ("preload", "collector", "launcher"):
        for f in (ROOT / folder).iterdir():
            if f.suffix in (".c", ".py"):
                names |= set(re.findall(r"""(?:getenv|setenv|environ\.get|unsetenv)\(\s*["'](MEMPROF_\w+)""",
                                        f.read_text()))
                # The launcher's option table names the variables it sets.
                names |= set(re.findall(r'ENV, "(MEMPROF_\w+)"', f.read_text()))
    assert {"MEMPROF_OUTPUT", "MEMPROF_FILES", "MEMPROF_QUIET"} <= names, names
    text = page_text("memprof")
    missing = sorted(n for n in names if n not in text)
    assert missing == [], "memprof(1) lacks %s: add them to memprof --help" % missing


@pytest.mark.parametrize("name", ["memprof", "memprof-report"])
def test_the_docs_the_pages_name_are_installed(name, tmp_path):
    text = page_text(name)
    named = set(re.findall(r"/usr/local/share/doc/memprof/([\w.-]+)", text))
    assert named, "%s(1) points to no docs" % name
    dest = tmp_path / "dest"
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % dest],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for doc in named:
        assert (dest / "usr/local/share/doc/memprof" / doc).is_file(), doc
    installed = (dest / "usr/local/share/man/man1" / (name + ".1")).read_text()
    assert installed == (BUILD / "man" / (name + ".1")).read_text()
