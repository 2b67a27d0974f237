"""The part of psutil that memory_profiler 0.61 uses on Linux, for
interpreters that have no psutil (pyenv's): a process's RSS read from
/proc/PID/statm, as psutil's Process.memory_info() reads it.  On the
path only when oracle_shim.py runs memory_profiler under such an
interpreter; Debian's python3 uses the real psutil."""
import collections
import os

__version__ = '5.9.4'

_PAGE = os.sysconf('SC_PAGE_SIZE')

pmem = collections.namedtuple('pmem', 'rss vms shared text lib data dirty')


class Error(Exception):
    pass


class NoSuchProcess(Error):
    pass


class AccessDenied(Error):
    pass


class Process:
    def __init__(self, pid=None):
        self.pid = os.getpid() if pid is None else pid

    def memory_info(self):
        try:
            with open('/proc/%d/statm' % self.pid, 'rb') as f:
                fields = [int(x) * _PAGE for x in f.read().split()[:7]]
        except FileNotFoundError:
            raise NoSuchProcess(self.pid)
        vms, rss, shared, text, lib, data, dirty = fields
        return pmem(rss, vms, shared, text, lib, data, dirty)

    def children(self, recursive=False):
        return []
