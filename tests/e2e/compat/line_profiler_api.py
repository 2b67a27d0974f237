import io

from memory_profiler import LineProfiler, show_results


def counting_loop():
    total = 0
    for i in range(12):
        total += i
    return total


def allocating():
    block = [1] * (10 ** 7)
    del block


if __name__ == '__main__':
    prof = LineProfiler()
    counted = prof(counting_loop)
    counted()
    prof.add_function(allocating)
    prof.runctx('allocating()', globals(), locals())
    show_results(prof)
    out = io.StringIO()
    show_results(prof, stream=out, precision=2)
    print('stream had', out.getvalue().count('Filename: '), 'tables')
    # The measures, as memory_profiler's CodeMap holds them.
    rows = list(prof.code_map.values())[0]
    print('occurrences of the for line and its body:',
          [rows[line][2] for line in sorted(rows)][-3:-1])
    print('wrapped name', counted.__name__)
