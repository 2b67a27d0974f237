# Workload 5, nothing selected: undecorated work and no decorator at all;
# run with the agent loaded, it measures the agent's steady-state cost.
#   python nothing.py UNITS
import sys

from busywork import work

work(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
