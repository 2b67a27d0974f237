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

    [{"filename": "prog.py", "first": 3, "base0": {"3": 1, "7": 2}}, ...]

one entry per printed table, in table order.  The tables themselves are
printed by memory_profiler's unmodified code.
"""
import importlib.util
import json
import os
import sys

MAIN_GUARD = "\nif __name__ == '__main__':\n"


def main():
    path = importlib.util.find_spec('memory_profiler').origin
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
        if not (prev_lineno and prev_lineno in table):
            per_table = counts.setdefault(id(table), {})
            per_table[lineno] = per_table.get(lineno, 0) + 1
        return original_trace(self, code, lineno, prev_lineno)

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
                        'base0': {str(k): v for k, v in table.items()}})
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
