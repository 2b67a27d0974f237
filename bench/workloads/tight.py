# Workload 1, tight loop: one decorated function running N iterations of
# arithmetic and appends. Three line events per iteration.
#   python tight.py N
import sys

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731  (plain runs)


@profile
def loop(n):
    out = []
    acc = 0
    for i in range(n):
        acc = (acc + i * 3) % 1000003
        out.append(acc)
    return len(out)


loop(int(sys.argv[1]) if len(sys.argv) > 1 else 200000)
