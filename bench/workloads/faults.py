# Workload 8, page faults: one tiny decorated call (the RSS source opens at
# its first event and stays open), then ROUNDS x 64 MiB mapped, written page
# by page (4 KiB pages: transparent huge pages off) and unmapped, timed
# inside the process into $BENCH_INNER_TIME: what a page fault costs while
# the kmem:rss_stat tracepoint writes a record for each.
#   python faults.py ROUNDS
import ctypes
import mmap
import os
import sys
import time

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731

PR_SET_THP_DISABLE = 41
ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


@profile
def start():
    return 1


start()
size = 64 << 20
t0 = time.perf_counter()
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 8):
    m = mmap.mmap(-1, size)
    for off in range(0, size, 4096):
        m[off] = 1
    m.close()
if os.environ.get("BENCH_INNER_TIME"):
    with open(os.environ["BENCH_INNER_TIME"], "w") as f:
        f.write(repr(time.perf_counter() - t0))
