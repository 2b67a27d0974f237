# A profiled function calling another profiled function in a loop: the
# caller's call line is charged against 0 in memory_profiler (issue #234).
@profile
def leaf(n):
    block = [0] * n
    return len(block)


@profile
def caller(rounds):
    kept = []
    for i in range(rounds):
        kept.append(leaf(1000))
        x = i * 2
    return len(kept) + x


caller(2000)
