import sys


@profile
def f(n):
    x = 0
    for i in range(n):
        x += 1
    return x


f(int(sys.argv[1]) if len(sys.argv) > 1 else 100000)
# The loop of issue 9: lines that allocate nothing, 100,000 times unless
# the command line says otherwise (memory_profiler: 0.000 MiB on each).
