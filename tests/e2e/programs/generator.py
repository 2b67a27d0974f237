# A decorated generator iterated by unprofiled code (memory_profiler prints
# no table for it), one iterated by a profiled function (memory_profiler
# traces it then), and a plain profiled function.
@profile
def blocks(count):
    for i in range(count):
        yield [i] * (5 * 10**6)


@profile
def small(count):
    for i in range(count):
        yield i


@profile
def consume():
    total = 0
    for value in small(3):
        total += value
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
