"""memprof's IPython extension: ``%load_ext memprof``.

Three magics over the agent, through the package's own functions
(``memprof.register``, ``tracing``, ``table``, ``reset``, ``rss``,
``mark_peak``, ``peak``): the agent records and renders, this module only
parses the magic's line and runs the user's code.

- ``%memit [-r R] [-o] [-q] STATEMENT`` (and ``%%memit SETUP`` with the
  measured code in the cell): the peak RSS while the statement ran and its
  increment over the RSS before it, printed as memory_profiler 0.61 prints
  them. The peak is the kernel's high-water mark, not a 0.1 s sample, so a
  spike between two samples is not missed.
- ``%mprun -f FUNC [-f FUNC2...] [-T FILE] [-r] STATEMENT``: runs the
  statement and prints the line table of each FUNC for that run only.
- ``%%memprof [-p N] [-T FILE]``: runs the cell and prints the line table
  of the cell's own lines (functions defined in the cell count in it).

Options are parsed with IPython's ``Magics.parse_options``, as
memory_profiler's magics parse theirs, so the same lines work.
"""
import gc
import types

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class, needs_local_scope

import memprof


class MemitResult:
    """What ``%memit -o`` returns: ``peak`` and ``increment`` in MiB, the
    ``baseline`` they are measured from, one peak per repeat in
    ``peaks``."""

    def __init__(self, peaks, baseline):
        self.peaks = list(peaks)
        self.baseline = baseline
        self.peak = max(self.peaks)
        self.increment = self.peak - baseline

    def __str__(self):
        return "peak memory: %.02f MiB, increment: %.02f MiB" % (self.peak, self.increment)

    def _repr_pretty_(self, p, cycle):
        p.text("<MemitResult : %s>" % self)


def _agent_ready():
    # The agent turned itself off (and said why, once, on stderr): a magic
    # that cannot measure says so instead of printing numbers.
    try:
        if memprof.start():
            return
    except RuntimeError:
        pass
    raise UsageError("memprof's agent is not recording in this kernel (see its warning on stderr)")


def _code_of(obj):
    # Methods and decorated functions (functools.wraps, @profile): the
    # function whose lines the user wrote.
    obj = _unwrapped(getattr(obj, "__func__", obj))
    if not isinstance(getattr(obj, "__code__", None), types.CodeType):
        raise UsageError("%r is not a Python function: memprof profiles the lines of Python functions" % (obj,))
    return obj


def _unwrapped(func):
    seen = set()
    while hasattr(func, "__wrapped__") and id(func) not in seen:
        seen.add(id(func))
        func = func.__wrapped__
    return func


@magics_class
class MemprofMagics(Magics):

    def _compile(self, source):
        # The shell's compiler: the cell's __future__ flags apply, and the
        # source is kept in linecache (tracebacks and tables show it).
        source = self.shell.transform_cell(source)
        filename = self.shell.compile.cache(source, self.shell.execution_count)
        return self.shell.compile(source, filename, "exec")

    @needs_local_scope
    @line_cell_magic
    def memit(self, line="", cell=None, local_ns=None):
        """Measure the peak memory of a statement.

        Usage, in line mode:
          %memit [-r<R>] [-o] [-q] statement

        Usage, in cell mode:
          %%memit [-r<R>] [-o] [-q] setup_code
          code...

        In cell mode the first line is run first, unmeasured, and the cell's
        body is measured. Prints ``peak memory: X MiB, increment: Y MiB``:
        the highest RSS reached while the code ran, and how far that is above
        the RSS before it.

        Options:
        -r<R>: run the code R times; the peak is the highest of them.
        -o: return a MemitResult (peak, increment, baseline, peaks).
        -q: print nothing.
        -t<T>, -i<I>: accepted for memory_profiler's sake and unused: memprof
        reads the kernel's high-water mark, there is no sampling to time.
        -c (children's memory) is not supported.
        """
        opts, stmt = self.parse_options(line, "r:t:i:coq", posix=False, strict=False)
        if "c" in opts:
            raise UsageError("%memit -c (memory of child processes) is not supported by memprof")
        try:
            repeat = max(1, int(getattr(opts, "r", 1)))
        except ValueError:
            raise UsageError("%%memit -r needs a number, not %r" % (opts.r,))
        setup = stmt if cell is not None else "pass"
        body = cell if cell is not None else stmt
        if not body.strip():
            raise UsageError("%memit needs a statement to measure")
        _agent_ready()
        glob = self.shell.user_ns
        local = local_ns if cell is None else None
        setup_code = self._compile(setup)
        body_code = self._compile(body)
        # As memory_profiler does: garbage left by earlier cells would
        # otherwise be collected (or not) in the middle of the measurement.
        gc.collect()
        exec(setup_code, glob, local)
        baseline = memprof.rss()
        peaks = []
        for _ in range(repeat):
            memprof.mark_peak()
            exec(body_code, glob, local)
            peaks.append(memprof.peak())
        result = MemitResult(peaks, baseline)
        if "q" not in opts:
            print(result)
        if "o" in opts:
            return result
        return None

    @line_cell_magic
    def mprun(self, parameter_s="", cell=None):
        """Run a statement and print the line-by-line memory table of the
        functions named with -f, for that run only.

        Usage, in line mode:
          %mprun -f func1 [-f func2...] statement

        Usage, in cell mode:
          %%mprun -f func1 [-f func2...] [statement]
          code...

        In cell mode the cell's lines follow the statement of the first line.

        Options:
        -f <function>: profile this function (any expression that gives a
        function or method; no spaces in it). At least one is needed.
        Functions defined in notebook cells show their source.
        -T <filename>: also write the tables to this file.
        -r: return the tables as a string.
        """
        opts, stmt = self.parse_options(parameter_s, "rf:T:c", list_all=True)
        if "c" in opts:
            raise UsageError("%mprun -c (memory of child processes) is not supported by memprof")
        if cell is not None:
            stmt += "\n" + cell
        names = opts.get("f", [])
        if not names:
            raise UsageError("%mprun needs -f FUNCTION: the function whose lines to profile")
        if not stmt.strip():
            raise UsageError("%mprun needs a statement to run")
        funcs = []
        for name in names:
            try:
                obj = eval(name, self.shell.user_global_ns, self.shell.user_ns)
            except Exception as e:
                raise UsageError("Could not find function %r.\n%s: %s" % (name, type(e).__name__, e))
            funcs.append(_code_of(obj))
        _agent_ready()
        code = self._compile(stmt)
        for func in funcs:
            memprof.register(func)
        # This run's lines only: what earlier runs (or an @profile) recorded
        # for these functions is forgotten.
        memprof.reset(*funcs)
        message = ""
        try:
            with memprof.tracing():
                exec(code, self.shell.user_global_ns, self.shell.user_ns)
        except SystemExit:
            message = "*** SystemExit exception caught in code being profiled."
        except KeyboardInterrupt:
            message = "*** KeyboardInterrupt exception caught in code being profiled."
        finally:
            # Printed before another exception's traceback, too.
            output = memprof.table(*funcs, precision=1).rstrip()
            print(output)
        if message:
            print(message)
        files = [f for f in opts.get("T", []) if f]
        for name in files:
            with open(name, "w") as f:
                f.write(output + "\n")
            print("\n*** Profile printout saved to text file %s. %s" % (name, message))
        if "r" in opts:
            return output
        return None

    @cell_magic
    def memprof(self, line, cell):
        """Run the cell and print the line-by-line memory table of its own
        lines.

        Usage:
          %%memprof [-p N] [-T FILE]
          code...

        Every line of the cell is a row, numbered as the notebook numbers
        them (%%memprof is line 1, with the RSS before the cell ran, as a
        def line has in memory_profiler's tables); functions defined in the
        cell and called in it count in the rows of their lines. The value
        of a last expression is not displayed (print it).

        Options:
        -p N: N digits after the decimal point (default 1, as %mprun).
        -T <filename>: also write the table to this file.
        """
        opts, rest = self.parse_options(line, "p:T:")
        if rest.strip():
            raise UsageError("%%%%memprof takes no statement: put the code in the cell (got %r)" % rest)
        try:
            precision = int(getattr(opts, "p", 1))
        except ValueError:
            raise UsageError("%%%%memprof -p needs a number, not %r" % (opts.p,))
        _agent_ready()
        # The table's rows are the cell's lines as the notebook numbers
        # them: row 1 is the %%memprof line, compiled as a `pass` that
        # starts the code, as a def line starts a function. It takes the
        # charge memory_profiler's rule gives a table's first line (the
        # whole RSS: nothing is measured before it), which would otherwise
        # fall on the cell's first statement.
        shown = "%%memprof" + (" " + line.strip() if line.strip() else "") + "\n" + cell
        filename = self.shell.compile.cache(shown, self.shell.execution_count)
        code = self.shell.compile("pass\n" + self.shell.transform_cell(cell), filename, "exec")
        # The cell's code as a function without fast locals: run, it reads
        # and writes the user's namespace as the cell itself would.
        cell_func = types.FunctionType(code, self.shell.user_ns)
        run = memprof.register(cell_func)
        try:
            run()
        finally:
            output = memprof.table(cell_func, precision=precision).rstrip()
            print(output)
            name = getattr(opts, "T", "")
            if name:
                with open(name, "w") as f:
                    f.write(output + "\n")


def load_ipython_extension(ipython):
    """``%load_ext memprof``: registers %memit, %mprun and %%memprof."""
    ipython.register_magics(MemprofMagics)
