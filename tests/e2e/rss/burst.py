# More page faults in one line (153,600) than a ring holds records of
# (about 65,000), for test_rss_source.py: records are lost, and the
# figure must still be statm's.
import ctypes
import mmap

PR_SET_THP_DISABLE = 41
ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


@profile
def burst():
    m = mmap.mmap(-1, 600 << 20)
    m.write(b"\1" * (600 << 20))
    x = 1
    m.madvise(mmap.MADV_DONTNEED, 0, 300 << 20)
    x = 2
    m.close()
    return x


burst()
