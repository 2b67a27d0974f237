import os
import subprocess
import sys

from memory_profiler import memory_usage


def work(n, scale=1):
    data = [0] * (n * scale)
    return len(data)


def kind(v):
    if isinstance(v, list):
        inner = sorted({type(x).__name__ for x in v})
        return 'list[%s]' % ','.join(inner)
    if isinstance(v, tuple):
        return 'tuple(%s)' % ','.join(kind(x) for x in v)
    return type(v).__name__


if __name__ == '__main__':
    print('default', kind(memory_usage()), len(memory_usage()))
    samples = memory_usage(-1, interval=.1, timeout=.5)
    print('timeout', kind(samples), 4 <= len(samples) <= 5)
    print('max_usage', kind(memory_usage(timeout=.3, max_usage=True)))
    print('pid', kind(memory_usage(os.getpid())))
    print('timestamps', kind(memory_usage(-1, timestamps=True)))
    mem, ret = memory_usage((work, (10 ** 6,), {'scale': 2}), retval=True)
    print('function retval', kind(mem), ret)
    print('function max', kind(memory_usage((work, (10,)), max_usage=True)))
    big = memory_usage((work, (3 * 10 ** 7,)), interval=.01)
    print('function saw the 229 MiB list', max(big) - big[0] > 150)
    print('callable', kind(memory_usage(lambda: work(10))))
    child = subprocess.Popen([sys.executable, '-c',
                              'import time; x = [0] * (2 * 10 ** 7); time.sleep(.5)'])
    seen = memory_usage(child, interval=.1, include_children=True)
    child.wait()
    print('popen', kind(seen), max(seen) > 150)
