"""A profiled program whose children are not all Python: a shell running
dd (a 64 MiB buffer) and a Python child. Only the launcher, sampling the
whole tree from outside, sees the shell and dd
(memprof --multiprocess --plot docs/plot-children.svg examples/children.py)."""
import subprocess
import sys


@profile
def main():
    data = [0] * (4 * 10 ** 6)
    subprocess.run(["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=30 2>/dev/null; sleep 0.1"])
    subprocess.run([sys.executable, "-c", "import time; x = bytearray(48 << 20); time.sleep(0.2)"])
    return len(data)


main()
