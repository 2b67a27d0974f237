# Decorated generators: one iterated by unprofiled code (memory_profiler
# prints no table for it), one by a profiled function that frees each block
# before asking for the next (traced by both); and a plain function.
@profile
def blocks(count):
    for i in range(count):
        yield [i] * (5 * 10**6)


@profile
def consumed(count):
    for i in range(count):
        yield [i] * (5 * 10**6)


@profile
def consume():
    total = 0
    for value in consumed(3):
        total += len(value)
        del value
    return total


@profile
def plain():
    x = [0] * (5 * 10**6)
    del x


if __name__ == '__main__':
    for block in blocks(3):
        del block
    consume()
    plain()
