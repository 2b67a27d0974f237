@profile
def f():
    x = 0
    for i in range(100000):
        x += 1
    return x


f()
# The loop of issue 9, as a user typed it: lines that allocate nothing,
# 100,000 times (memory_profiler: 0.000 MiB on lines 4 and 5).
