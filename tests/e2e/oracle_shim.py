"""Run memory_profiler 0.61 as ``python3 -m memory_profiler ARGS`` does, and
also say which table rows carry an absolute Mem usage in their Increment.

memory_profiler charges each record against the maximum of the
profiler-wide previous line *if that line is in the same table*, else
against 0.  A row that got even one such record has the process's whole
RSS (which differs between the oracle and memprof: the oracle imports
IPython) folded into its Increment, so only rows without one are
comparable across tools.  This script executes memory_profiler's own
module source as ``__main__``, with ``CodeMap.trace`` wrapped to count
those records, and writes them as JSON to the file named by
``MEMPROF_ORACLE_BASE0``::

    [{"filename": "prog.py", "first": 3, "base0": {"3": 1, "7": 2},
      "level0": {"3": 41.2, "7": 93.0}}, ...]

one entry per printed table, in table order: ``base0`` counts the records
charged against 0, ``level0`` sums what they added to the row's Increment
(their samples, in MiB).  An interpreter without Debian's packages runs
Debian's memory_profiler source over oracle_psutil/psutil.py.  The tables themselves are
printed by memory_profiler's unmodified code.
"""
import importlib.util
import json
import os
import sys

MAIN_GUARD = "\nif __name__ == '__main__':\n"
DEBIAN_MEMORY_PROFILER = '/usr/lib/python3/dist-packages/memory_profiler.py'


def main():
    spec = importlib.util.find_spec('memory_profiler')
    if spec is not None:
        path = spec.origin
    else:
        # An interpreter without Debian's packages (pyenv's): Debian's
        # memory_profiler 0.61 source, over the psutil stand-in beside us.
        path = DEBIAN_MEMORY_PROFILER
        try:
            import psutil  # noqa: F401
        except ImportError:
            sys.path.insert(0, os.path.join(os.path.dirname(
                os.path.abspath(__file__)), 'oracle_psutil'))
    with open(path, encoding='utf-8') as f:
        source = f.read()
    head, guard, body = source.partition(MAIN_GUARD)
    if not guard:
        sys.exit('oracle_shim: no __main__ block in ' + path)

    ns = {'__name__': '__main__', '__file__': path, '__builtins__': __builtins__}
    # Keep line numbers of the module's definitions as in the file.
    exec(compile(head, path, 'exec'), ns)

    counts = {}                     # id(table dict) -> {lineno: n}
    code_map_cls = ns['CodeMap']
    original_trace = code_map_cls.trace

    def trace(self, code, lineno, prev_lineno):
        table = self[code]
        if prev_lineno and prev_lineno in table:
            return original_trace(self, code, lineno, prev_lineno)
        before = table[lineno][0] if lineno in table else 0.0
        result = original_trace(self, code, lineno, prev_lineno)
        per_table = counts.setdefault(id(table), {})
        n, level = per_table.get(lineno, (0, 0.0))
        # Charged against 0: the Increment grew by the sample itself.
        per_table[lineno] = (n + 1, level + table[lineno][0] - before)
        return result

    code_map_cls.trace = trace

    original_show = ns['show_results']

    def show_results(prof, stream=None, precision=1):
        out = []
        code_map = prof.code_map
        for filename, code, linenos in code_map._toplevel:
            if not code_map[code]:
                continue        # memory_profiler prints no table for it
            table = counts.get(id(code_map[code]), {})
            out.append({'filename': filename, 'first': linenos.start,
                        'base0': {str(k): v[0] for k, v in table.items()},
                        'level0': {str(k): v[1] for k, v in table.items()}})
        target = os.environ.get('MEMPROF_ORACLE_BASE0')
        if target:
            with open(target, 'w', encoding='utf-8') as f:
                json.dump(out, f)
        return original_show(prof, stream=stream, precision=precision)

    ns['show_results'] = show_results

    sys.argv = [path] + sys.argv[1:]
    # The __main__ block, dedented by compiling it under an `if True:`.
    exec(compile('if True:\n' + body, path, 'exec'), ns)


if __name__ == '__main__':
    main()
