# A profiled function calling other profiled functions.
@profile
def make(n):
    block = [0] * n
    return block


@profile
def pad(block):
    block.extend([1] * 100)
    return len(block)


@profile
def outer():
    a = make(5 * 10**6)
    size = pad(a)
    b = [2] * (6 * 10**6)
    del a
    del b
    return size


if __name__ == '__main__':
    outer()
