# Appends in a loop: the list grows in steps as CPython over-allocates.
import sys


@profile
def grow(n):
    out = []
    for i in range(n):
        out.append([i] * 50)
    total = len(out)
    return total


grow(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
