# A while loop that builds a dict, then an idle while loop.
import sys


@profile
def index(n):
    d = {}
    i = 0
    while i < n:
        d[i] = str(i)
        i += 1
    j = 0
    while j < n:
        j += 1
    return len(d)


index(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
