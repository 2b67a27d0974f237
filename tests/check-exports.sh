#!/bin/sh
# The agent is loaded into every process: it must export only the symbols
# it interposes and must not need libpython (or any Py* symbol) to load.
set -eu
so=${1:-build/libmemprof.so}
# The allocation functions are heap accounting's (preload/interpose_alloc.c).
want="Py_Initialize Py_InitializeEx _Exit _exit aligned_alloc calloc free malloc memalign memprof_attach mmap mmap64 mremap munmap posix_memalign pvalloc realloc reallocarray valloc"
got=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBW]$/ {print $3}' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
if [ "$got" != "$want" ]; then
    echo "check-exports: $so exports '$got', expected '$want'" >&2
    exit 1
fi
if nm -D --undefined-only "$so" | awk '{print $2}' | grep -q '^_*Py'; then
    echo "check-exports: $so needs Python symbols at load time:" >&2
    nm -D --undefined-only "$so" | awk '{print $2}' | grep '^_*Py' >&2
    exit 1
fi
if readelf -d "$so" | grep -q 'NEEDED.*libpython'; then
    echo "check-exports: $so links libpython" >&2
    exit 1
fi
echo "check-exports: ok ($want)"
