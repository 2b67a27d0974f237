# A recursive profiled function: the deepest call allocates, every level
# passes the list up, and the outermost caller frees it.
@profile
def depth(n):
    if n == 0:
        return [0] * (5 * 10**6)
    inner = depth(n - 1)
    inner.append(n)
    return inner


@profile
def main():
    data = depth(4)
    del data
    extra = bytearray(45 * 2**20)
    del extra


if __name__ == '__main__':
    main()
