#!/bin/sh
# make check-valgrind: the report and the agent under valgrind's memcheck.
#   tests/real/check-valgrind.sh BUILD_DIR
# 1. every golden trace through memprof-report, leak check on
#    (tests/golden/run.sh with VALGRIND=1: any error or leak fails);
# 2. a small @profile program run by Debian's python3.11 with libmemprof.so
#    preloaded, under memcheck.  CPython itself is noisy under memcheck
#    (pymalloc reads uninitialised memory on purpose; PYTHONMALLOC=malloc
#    removes most of it, leaks at exit remain), so only errors and definite
#    leaks whose stacks mention libmemprof count.  The trace must still
#    give the table.
set -u
build=${1:?usage: check-valgrind.sh BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=/usr/bin/python3.11
command -v valgrind >/dev/null || { echo "check-valgrind: valgrind is not installed (apt-get install valgrind)"; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

start=$(date +%s)
echo "== golden traces: valgrind memprof-report"
VALGRIND=1 "$root/tests/golden/run.sh" "$build/memprof-report" || status=1
echo "   ($(( $(date +%s) - start )) s)"

start=$(date +%s)
echo "== agent: valgrind $python prog.py with LD_PRELOAD=libmemprof.so"
cat >"$tmp/prog.py" <<'PY'
import os, threading

@profile
def work(n):
    a = [0] * n
    b = {i: str(i) for i in range(1000)}
    del a
    return len(b)

@profile
def gen(k):
    for i in range(k):
        yield i * 2

def thread_body():
    work(5000)

for _ in range(3):
    work(100000)
print(sum(gen(10)))
t = threading.Thread(target=thread_body)
t.start(); t.join()
pid = os.fork()
if pid == 0:
    work(10)
    os._exit(0)
os.waitpid(pid, 0)
PY
(cd "$tmp" && LD_PRELOAD="$build/libmemprof.so" MEMPROF_OUTPUT="$tmp/trace.jsonl" \
    PYTHONMALLOC=malloc valgrind --error-exitcode=9 --trace-children=no \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --num-callers=40 --fullpath-after="$root/" \
    --log-file="$tmp/vg.%p.log" "$python" prog.py >"$tmp/out" 2>"$tmp/err")
rc=$?
echo "   python exit status under valgrind: $rc (9 = memcheck saw errors or definite leaks somewhere, CPython's included)"
# Error blocks are runs of "==PID== " lines separated by "==PID== " blank ones.
# A frame of the agent shows as libmemprof.so (no debug info) or, with
# --fullpath-after, as collector/FILE.c or preload/FILE.c.
ours_re='libmemprof|[( ]collector/|[( ]preload/'
ours=$(cat "$tmp"/vg.*.log | awk -v re="$ours_re" '
    /^==[0-9]+== $/ { if (block ~ re) n++; block = ""; next }
    { block = block "\n" $0 }
    END { if (block ~ re) n++; print n + 0 }')
total=$(cat "$tmp"/vg.*.log | sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' | awk '{s += $1} END {print s + 0}')
echo "   memcheck errors and definite leaks in the agent's code: $ours (all, CPython's included: $total)"
if [ "$ours" != 0 ]; then
    status=1
    cat "$tmp"/vg.*.log | awk -v re="$ours_re" '/^==[0-9]+== $/ { if (block ~ re) print block; block = ""; next } { block = block "\n" $0 }'
fi
if [ "$(cat "$tmp/out")" != 90 ]; then
    echo "FAIL: program output changed under the agent:"; cat "$tmp/out" "$tmp/err"; status=1
fi
if ! "$build/memprof-report" "$tmp/trace.jsonl" >"$tmp/report" 2>"$tmp/report.err" ||
   ! grep -q "a = \[0\] \* n" "$tmp/report"; then
    echo "FAIL: no table from the trace written under valgrind"; cat "$tmp/report" "$tmp/report.err"; status=1
fi
echo "   ($(( $(date +%s) - start )) s)"
[ $status = 0 ] && echo "check-valgrind: OK" || echo "check-valgrind: FAILED"
exit $status
