# memprof: one plain Makefile, no recursion.
#   make            build/libmemprof.so, build/memprof-report, build/memprof
#   make demo       set-up (Debian packages), build, run the seed example
#   make test       unit, golden-file and end-to-end tests
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib/memprof
MANDIR  ?= $(PREFIX)/share/man/man1
DOCDIR  ?= $(PREFIX)/share/doc/memprof
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
# Debian's python3-dev headers: types and constants only, see preload/pyapi.h.
PYTHON_INCLUDES := $(shell /usr/bin/python3-config --includes 2>/dev/null || echo -I/usr/include/python3.11)

# Required flags first, the user's CFLAGS after them.
WARN          := -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(CI),-Werror)
FINAL_CFLAGS  := $(WARN) -MMD -MP $(CFLAGS)
AGENT_CFLAGS  := $(FINAL_CFLAGS) -fPIC -fvisibility=hidden -D_GNU_SOURCE $(PYTHON_INCLUDES) -Icollector -Ipreload -Itable
REPORT_CFLAGS := $(FINAL_CFLAGS) -D_GNU_SOURCE -Ireport -Itable

B := build

# table/: memory_profiler's rule and text table, one object linked into both
# the agent and the report.
TABLE_SRC  := $(wildcard table/*.c)
TABLE_OBJ  := $(TABLE_SRC:%.c=$(B)/%.o)
AGENT_SRC  := $(wildcard preload/*.c) $(wildcard collector/*.c)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(B)/%.o) $(TABLE_OBJ)
REPORT_LIB_SRC := $(filter-out report/main.c,$(wildcard report/*.c))
REPORT_LIB_OBJ := $(REPORT_LIB_SRC:%.c=$(B)/%.o) $(TABLE_OBJ)
# Unit tests: test_collector*.c link the collector (no Python needed), the
# others the report.
COLLECTOR_LIB_OBJ := $(B)/collector/writer.o $(B)/collector/warn.o $(B)/collector/rss.o $(B)/collector/trace.o \
                     $(B)/collector/agg.o $(B)/collector/peak.o $(B)/collector/heap.o $(B)/collector/rss_tp.o $(B)/collector/sampler.o \
                     $(TABLE_OBJ)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all demo test check test-unit test-golden test-e2e test-report test-package test-frontends install uninstall clean setup check-exports bench \
        man test-man FORCE

all: $(B)/libmemprof.so $(B)/memprof-report $(B)/memprof

$(B)/preload/%.o: preload/%.c | $(B)/preload
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<
$(B)/collector/%.o: collector/%.c | $(B)/collector
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<
$(B)/report/%.o: report/%.c | $(B)/report
	$(CC) $(REPORT_CFLAGS) -c -o $@ $<
$(B)/table/%.o: table/%.c | $(B)/table
	$(CC) $(FINAL_CFLAGS) -fPIC -fvisibility=hidden -D_GNU_SOURCE -c -o $@ $<
$(B)/launcher/%.o: launcher/%.c | $(B)/launcher
	$(CC) $(FINAL_CFLAGS) -D_GNU_SOURCE -Icollector -c -o $@ $<

# bootstrap.c pulls bootstrap.py in with .incbin, which -MMD does not see.
$(B)/preload/bootstrap.o: $(wildcard preload/*.py)

$(B)/libmemprof.so: $(AGENT_OBJ) preload/exports.map
	$(CC) -shared -o $@ $(AGENT_OBJ) -Wl,--version-script=preload/exports.map -Wl,-z,nodelete -ldl -lpthread $(LDFLAGS)

$(B)/memprof-report: $(B)/report/main.o $(REPORT_LIB_OBJ)
	$(CC) -o $@ $^ -ljansson -lpthread -lm $(LDFLAGS)

# The launcher's tree sampler (--include-children) reads /proc as the
# agent's memory_usage does: collector/proctree.c, linked into both.
$(B)/memprof: $(B)/launcher/memprof.o $(B)/launcher/tree.o $(B)/launcher/compact.o \
              $(B)/collector/proctree.o
	$(CC) -o $@ $^ -ljansson $(LDFLAGS)

$(B)/tests/test_collector: tests/unit/test_collector.c $(COLLECTOR_LIB_OBJ) | $(B)/tests
	$(CC) $(FINAL_CFLAGS) -D_GNU_SOURCE -Icollector -o $@ $< $(COLLECTOR_LIB_OBJ) -ljansson $(LDFLAGS)

# Heap accounting's counters alone (no hooks, no LD_PRELOAD).
$(B)/tests/test_heap: tests/unit/test_heap.c $(B)/collector/heap.o | $(B)/tests
	$(CC) $(FINAL_CFLAGS) -D_GNU_SOURCE -Icollector -o $@ $< $(B)/collector/heap.o -lpthread $(LDFLAGS)

$(B)/tests/%: tests/unit/%.c $(REPORT_LIB_OBJ) | $(B)/tests
	$(CC) $(REPORT_CFLAGS) -o $@ $< $(REPORT_LIB_OBJ) -ljansson -lpthread -lm $(LDFLAGS)

$(B)/preload $(B)/collector $(B)/report $(B)/table $(B)/launcher $(B)/tests $(B)/man:
	mkdir -p $@

# The man pages are the programs' own --help, through help2man (Debian's
# help2man), with the prose of man/*.h2m: they cannot fall behind --help.
# DOCDIR is where they say the docs are.
MAN_PAGES := $(B)/man/memprof.1 $(B)/man/memprof-report.1
HELP2MAN  ?= help2man

# Rewritten when DOCDIR changes (make install PREFIX=/usr after a plain make).
$(B)/man/docdir: FORCE | $(B)/man
	@echo '$(DOCDIR)' | cmp -s - $@ || echo '$(DOCDIR)' > $@

$(B)/man/%.h2m: man/%.h2m $(B)/man/docdir
	sed 's|@DOCDIR@|$(DOCDIR)|g' $< > $@

$(B)/man/%.1: $(B)/% $(B)/man/%.h2m
	$(HELP2MAN) --no-info --no-discard-stderr \
	    --include $(B)/man/$*.h2m --output $@ ./$(B)/$*

.SECONDARY: $(MAN_PAGES:.1=.h2m)

man: $(MAN_PAGES)

FORCE:

test-man: $(MAN_PAGES)
	/usr/bin/python3 -m pytest -q -rs tests/man

# The .so must export only its hooks and must not need libpython.
check-exports: $(B)/libmemprof.so
	tests/check-exports.sh $(B)/libmemprof.so

setup:
	scripts/setup-debian.sh

demo: setup all
	@echo "== LD_PRELOAD=$(B)/libmemprof.so /usr/bin/python3 examples/example.py"
	cd examples && rm -f demo.jsonl && LD_PRELOAD=$(CURDIR)/$(B)/libmemprof.so MEMPROF_OUTPUT=demo.jsonl /usr/bin/python3 example.py
	@echo "== $(B)/memprof-report examples/demo.jsonl"
	cd examples && $(CURDIR)/$(B)/memprof-report demo.jsonl

test: all check-exports test-unit test-golden test-e2e test-report test-package test-frontends test-man test-robust-fast

check: test

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-golden: $(B)/memprof-report
	tests/golden/run.sh $(B)/memprof-report

test-e2e: all
	/usr/bin/python3 -m pytest -q -rs tests/e2e

test-report: $(B)/memprof-report
	/usr/bin/python3 -m pytest -q -rs tests/report

# The Python package (pyproject.toml, python/memprof): built as a wheel
# and installed into a fresh venv, each entry point run there.
test-package: all
	/usr/bin/python3 -m pytest -q -rs tests/package

# The package's front ends: the IPython magics in a Jupyter kernel (and in
# IPython's shell on pyenv 3.12, 3.13), the pytest plugin under pytest.
test-frontends: all
	/usr/bin/python3 -m pytest -q -rs tests/python

# The docs the man pages point to go to DOCDIR.
DOCS := README.rst docs/report-formats.rst docs/report-json-schema.json

install: all $(MAN_PAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 0644 $(B)/libmemprof.so $(DESTDIR)$(LIBDIR)/libmemprof.so
	install -m 0755 $(B)/memprof-report $(DESTDIR)$(BINDIR)/memprof-report
	install -m 0755 $(B)/memprof $(DESTDIR)$(BINDIR)/memprof
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libmemprof.so $(DESTDIR)$(BINDIR)/memprof-report \
	      $(DESTDIR)$(BINDIR)/memprof $(DESTDIR)$(MANDIR)/memprof.1 $(DESTDIR)$(MANDIR)/memprof-report.1
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(B)

# Speed: plain Python, memprof and memory_profiler side by side, and the
# report on 10 million events (about 10 minutes); writes BENCHMARKS.rst.
# See bench/README. BENCH_ARGS=--quick for a short trial run.
bench: all
	mkdir -p $(B)/bench
	$(CC) -O2 -std=gnu11 -Wall -Wextra -o $(B)/bench/floor bench/floor.c
	/usr/bin/python3 bench/run.py $(BENCH_ARGS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- Robustness: fuzzing, sanitizers, valgrind, CPython's own tests ----
#   make fuzz             libFuzzer on the trace reader, FUZZ_TIME seconds (60)
#   make check-sanitize   unit and golden tests, ASan+UBSan build in build-san/
#   make check-valgrind   golden traces and one traced Python program under valgrind
#   make test-real        CPython's regression tests with and without the agent
# The fast part (fuzz regressions, a small CPython subset) is in `make test`
# through test-robust-fast.

FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FZ        := $(B)/fuzz
FUZZ_SAN  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
FUZZ_OBJ  := $(REPORT_LIB_SRC:report/%.c=$(FZ)/%.o) $(TABLE_SRC:table/%.c=$(FZ)/%.o)
# halt_on_error: every UB report is fatal except the known ones listed
# (with their regression case) in tests/fuzz/ubsan.supp.
FUZZ_ENV  := UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/fuzz/ubsan.supp

SAN       := build-san
SAN_CC    ?= $(CC)
SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_REPORT_OBJ    := $(REPORT_LIB_SRC:%.c=$(SAN)/%.o) $(TABLE_SRC:%.c=$(SAN)/%.o)
SAN_COLLECTOR_OBJ := $(COLLECTOR_LIB_OBJ:$(B)/%=$(SAN)/%)
SAN_UNIT_BIN      := $(UNIT_SRC:tests/unit/%.c=$(SAN)/tests/%)
SAN_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: clean-san fuzz fuzz-build test-fuzz-regressions check-sanitize check-valgrind test-real \
        test-real-fast test-robust-fast

$(FZ)/%.o: report/%.c | $(FZ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -D_GNU_SOURCE -Ireport -Itable -c -o $@ $<
$(FZ)/%.o: table/%.c | $(FZ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -D_GNU_SOURCE -Itable -c -o $@ $<

# --wrap=open: see tests/fuzz/fuzz_report.c (source files come from memory).
$(FZ)/fuzz_report: tests/fuzz/fuzz_report.c $(FUZZ_OBJ) | $(FZ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -D_GNU_SOURCE -Ireport -Itable -o $@ $< $(FUZZ_OBJ) \
	    -Wl,--wrap=open -ljansson -lpthread -lm

$(FZ) $(FZ)/corpus $(FZ)/crashes:
	mkdir -p $@

fuzz-build: $(FZ)/fuzz_report

# New inputs go to build/fuzz/corpus (not committed); findings to
# build/fuzz/crashes/ (fork mode keeps fuzzing past a crash; any finding
# fails the target).  Copy a finding into tests/fuzz/regressions/ with a note.
fuzz: $(FZ)/fuzz_report | $(FZ)/corpus $(FZ)/crashes
	@rm -f $(FZ)/crashes/*
	$(FUZZ_ENV) $(FZ)/fuzz_report -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	    -max_total_time=$(FUZZ_TIME) -max_len=16384 -timeout=20 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FZ)/crashes/ $(FZ)/corpus tests/fuzz/corpus
	@if ls $(FZ)/crashes/* >/dev/null 2>&1; then \
	    echo "fuzz: findings in $(FZ)/crashes/ (replay: $(FZ)/fuzz_report FILE):"; \
	    ls -l $(FZ)/crashes/; exit 1; \
	 else echo "fuzz: no findings in $(FUZZ_TIME) s"; fi

test-fuzz-regressions: $(B)/memprof-report
	@if command -v $(FUZZ_CC) >/dev/null; then $(MAKE) --no-print-directory fuzz-build; \
	 else echo "SKIPPED LOUDLY: no $(FUZZ_CC): fuzz regressions replayed without sanitizers"; fi
	/usr/bin/python3 -m pytest -q -rsx tests/fuzz/test_regressions.py

$(SAN)/report/%.o: report/%.c | $(SAN)/report
	$(SAN_CC) $(REPORT_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
$(SAN)/collector/%.o: collector/%.c | $(SAN)/collector
	$(SAN_CC) $(AGENT_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
$(SAN)/table/%.o: table/%.c | $(SAN)/table
	$(SAN_CC) $(FINAL_CFLAGS) -D_GNU_SOURCE $(SAN_FLAGS) -c -o $@ $<
$(SAN)/memprof-report: $(SAN)/report/main.o $(SAN_REPORT_OBJ)
	$(SAN_CC) $(SAN_FLAGS) -o $@ $(SAN)/report/main.o $(SAN_REPORT_OBJ) -ljansson -lpthread -lm
$(SAN)/tests/test_collector: tests/unit/test_collector.c $(SAN_COLLECTOR_OBJ) | $(SAN)/tests
	$(SAN_CC) $(FINAL_CFLAGS) $(SAN_FLAGS) -D_GNU_SOURCE -Icollector -o $@ $< $(SAN_COLLECTOR_OBJ) -ljansson
# Heap accounting's counters alone, as $(B)/tests/test_heap.
$(SAN)/tests/test_heap: tests/unit/test_heap.c $(SAN)/collector/heap.o | $(SAN)/tests
	$(SAN_CC) $(FINAL_CFLAGS) $(SAN_FLAGS) -D_GNU_SOURCE -Icollector -o $@ $< $(SAN)/collector/heap.o -lpthread
$(SAN)/tests/%: tests/unit/%.c $(SAN_REPORT_OBJ) | $(SAN)/tests
	$(SAN_CC) $(REPORT_CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_REPORT_OBJ) -ljansson -lpthread -lm
$(SAN)/report $(SAN)/collector $(SAN)/table $(SAN)/tests:
	mkdir -p $@

check-sanitize: $(SAN)/memprof-report $(SAN_UNIT_BIN)
	@fail=0; for t in $(SAN_UNIT_BIN); do echo "== $$t (ASan+UBSan)"; $(SAN_ENV) $$t || fail=1; done; \
	 echo "== tests/golden/run.sh $(SAN)/memprof-report (ASan+UBSan)"; \
	 $(SAN_ENV) tests/golden/run.sh $(SAN)/memprof-report || fail=1; exit $$fail

check-valgrind: all
	tests/real/check-valgrind.sh $(B)

test-real: all
	scripts/setup-debian.sh test-real
	/usr/bin/python3 tests/real/run_real.py --agent $(B)/libmemprof.so

test-real-fast: all
	/usr/bin/python3 tests/real/run_real.py --agent $(B)/libmemprof.so --fast

test-robust-fast: test-fuzz-regressions test-real-fast

# `make clean` removes build/ (the fuzz build is in it); this adds build-san/.
clean: clean-san
clean-san:
	rm -rf $(SAN)

-include $(shell find $(SAN) -name '*.d' 2>/dev/null)
