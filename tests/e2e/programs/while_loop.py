# A while loop that keeps three 40 MiB buffers alive, then drops them.
@profile
def grow(count):
    chunks = []
    n = 0
    while n < count:
        chunks.append(bytearray(40 * 2**20))
        n += 1
    ticks = 0
    while ticks < 100:
        ticks += 1
    del chunks
    return n + ticks


if __name__ == '__main__':
    grow(3)
