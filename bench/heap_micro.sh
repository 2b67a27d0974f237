#!/bin/sh
# Heap accounting's cost per malloc/free pair (see bench/heap_micro.c), by
# make bench runs it; by hand after `make`: bench/heap_micro.sh [SIZE [THREADS]]
set -eu
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p $out
cc -O2 -o $out/heap_micro bench/heap_micro.c -lpthread
cc -O2 -DWITH_PYTHON $(/usr/bin/python3-config --includes) -o $out/heap_micro_py bench/heap_micro.c \
    -lpthread $(/usr/bin/python3-config --ldflags --embed)
agent=$PWD/build/libmemprof.so
trace=$(mktemp -u /tmp/heap_micro.XXXXXX)
for i in 1 2; do
    echo "== run $i"
    echo "no agent:             $($out/heap_micro_py "$@")"
    echo "agent, forward only:  $(LD_PRELOAD=$agent $out/heap_micro "$@")"
    echo "agent, accounting on: $(LD_PRELOAD=$agent MEMPROF_HEAP=1 MEMPROF_OUTPUT=$trace $out/heap_micro_py "$@")"
done
rm -f "$trace"
