# Lines whose memory rises and falls again before the next line, for the
# peak (MEMPROF_PEAK=1) in test_rss_source.py: 1-4 MiB a line in a loop,
# then 200 MiB (within what a ring holds records of) and 400 MiB (more
# page faults than that: records are lost).
import ctypes
import mmap
import sys

PR_SET_THP_DISABLE = 41
ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


def touched(size):
    # Mapped, written and unmapped: the RSS back where it was (a bytearray
    # would stay in glibc's heap after the first few).
    m = mmap.mmap(-1, size)
    m.write(b"\1" * size)
    m.close()
    return size


@profile
def spikes(rounds):
    keep = []
    n = 0
    for i in range(rounds):
        n += touched((1 + i % 4) << 20)
        keep.append(bytearray(64 << 10))
    big = touched(200 << 20)
    burst = touched(400 << 20)
    return n + big + burst + len(keep)


spikes(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
