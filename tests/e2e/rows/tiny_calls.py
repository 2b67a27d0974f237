# A tiny profiled function called 100,000 times from unprofiled code.
@profile
def add(a, b):
    c = a + b
    return c


def main():
    s = 0
    for i in range(100000):
        s = add(s, 1)
    return s


main()
