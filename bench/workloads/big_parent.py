# Runs the program given after a Python of 200 MiB peak: its argv[1:]
# exec'd from this image, as a test runner or a notebook's subprocess would
# start it. getrusage()'s ru_maxrss then carries this image's peak, which
# MEMPROF_PEAK's kernel high-water mark must see past.
#   python big_parent.py PROGRAM ARGS...
import os
import sys

ballast = bytearray(200 << 20)
os.execv(sys.argv[1], sys.argv[1:])
