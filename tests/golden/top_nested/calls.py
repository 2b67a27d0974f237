@profile
def make(n):
    return [0] * n


@profile
def main():
    a = make(10 ** 6)
    b = make(2 * 10 ** 6)
    return len(a) + len(b)


main()
