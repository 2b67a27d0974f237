# Touches, frees, touches again and madvise(MADV_DONTNEED)s memory from the
# main thread and from other threads, for test_rss_source.py. Transparent
# huge pages are off for this process (khugepaged's collapsing is a change
# no thread of the process makes, which the tracepoint cannot see).
#   python touch_threads.py [ROUNDS]
import ctypes
import mmap
import os
import sys
import threading

PR_SET_THP_DISABLE = 41
ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)
PAGE = mmap.PAGESIZE
MIB = 1 << 20

try:
    profile
except NameError:
    profile = lambda f: f  # noqa: E731


def touch(m, start, end, value=1):
    for off in range(start, end, PAGE):
        m[off] = value


@profile
def in_thread(size):
    m = mmap.mmap(-1, size)
    touch(m, 0, size)
    m.madvise(mmap.MADV_DONTNEED, 0, size // 2)
    touch(m, 0, size // 4, 2)
    m.close()
    b = bytearray(size)
    del b


def one_after_another(n, size):
    # Each thread runs profiled code while the others are not running.
    for _ in range(n):
        t = threading.Thread(target=in_thread, args=(size,))
        t.start()
        t.join()


def side_by_side(n, size, shared):
    # Threads touching one mapping at once, joined before the next line.
    part = size // n
    ts = [threading.Thread(target=touch, args=(shared, i * part, (i + 1) * part))
          for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@profile
def work(rounds):
    m = mmap.mmap(-1, 16 * MIB)
    for r in range(rounds):
        touch(m, 0, 8 * MIB)
        m.madvise(mmap.MADV_DONTNEED, 0, 4 * MIB)
        touch(m, 0, 16 * MIB, 3)
        side_by_side(4, 16 * MIB, m)
        m.madvise(mmap.MADV_DONTNEED, 0, 16 * MIB)
        side_by_side(4, 8 * MIB, m)
        one_after_another(3, 2 * MIB)
        big = bytearray(32 * MIB)
        del big
        for i in range(64):
            m[(i * 37 * PAGE) % (16 * MIB)] = i
    m.close()
    return rounds


@profile
def forked():
    pid = os.fork()
    if pid == 0:
        work(1)
        os._exit(0)
    os.waitpid(pid, 0)


work(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
if os.environ.get('TOUCH_FORK') == '1':
    forked()
