# A tiny profiled function called 100,000 times (or as the command line
# says) from unprofiled code.
import sys


@profile
def add(a, b):
    c = a + b
    return c


def main(n):
    s = 0
    for i in range(n):
        s = add(s, 1)
    return s


main(int(sys.argv[1]) if len(sys.argv) > 1 else 100000)
