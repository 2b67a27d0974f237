"""`python -m memprof [options] script.py args`, and the `memprof` and
`memprof-report` commands of a pip installation: the C programs in the
package, run in place of this process."""
import os
import sys

from memprof._agent import command_path


def _run(name, args, env=None):
    path = command_path(name)
    try:
        os.execve(path, [name] + args, env if env is not None else os.environ)
    except OSError as e:
        sys.stderr.write("memprof: cannot run %s: %s\n" % (path, e.strerror))
        return 127


def main(argv=None):
    """memprof, the launcher: a script is run with this interpreter."""
    env = dict(os.environ)
    env["MEMPROF_PYTHON"] = sys.executable
    return _run("memprof", list(sys.argv[1:] if argv is None else argv), env)


def report_main(argv=None):
    """memprof-report."""
    return _run("memprof-report", list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
