# memprof: one plain Makefile, no recursion.
#   make            build/libmemprof.so, build/memprof-report, build/memprof
#   make demo       set-up (Debian packages), build, run the seed example
#   make test       unit, golden-file and end-to-end tests
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib/memprof
MANDIR  ?= $(PREFIX)/share/man/man1
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
# Debian's python3-dev headers: types and constants only, see preload/pyapi.h.
PYTHON_INCLUDES := $(shell /usr/bin/python3-config --includes 2>/dev/null || echo -I/usr/include/python3.11)

# Required flags first, the user's CFLAGS after them.
WARN          := -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(CI),-Werror)
FINAL_CFLAGS  := $(WARN) -MMD -MP $(CFLAGS)
AGENT_CFLAGS  := $(FINAL_CFLAGS) -fPIC -fvisibility=hidden -D_GNU_SOURCE $(PYTHON_INCLUDES) -Icollector -Ipreload
REPORT_CFLAGS := $(FINAL_CFLAGS) -D_GNU_SOURCE -Ireport

B := build

AGENT_SRC  := $(wildcard preload/*.c) $(wildcard collector/*.c)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(B)/%.o)
REPORT_LIB_SRC := $(filter-out report/main.c,$(wildcard report/*.c))
REPORT_LIB_OBJ := $(REPORT_LIB_SRC:%.c=$(B)/%.o)
# Unit tests: test_collector*.c link the collector (no Python needed), the
# others the report.
COLLECTOR_LIB_OBJ := $(B)/collector/writer.o $(B)/collector/warn.o $(B)/collector/rss.o $(B)/collector/trace.o
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all demo test check test-unit test-golden test-e2e install uninstall clean setup check-exports bench

all: $(B)/libmemprof.so $(B)/memprof-report $(B)/memprof

$(B)/preload/%.o: preload/%.c | $(B)/preload
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<
$(B)/collector/%.o: collector/%.c | $(B)/collector
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<
$(B)/report/%.o: report/%.c | $(B)/report
	$(CC) $(REPORT_CFLAGS) -c -o $@ $<
$(B)/launcher/%.o: launcher/%.c | $(B)/launcher
	$(CC) $(FINAL_CFLAGS) -D_GNU_SOURCE -c -o $@ $<

# bootstrap.c pulls bootstrap.py in with .incbin, which -MMD does not see.
$(B)/preload/bootstrap.o: preload/bootstrap.py

$(B)/libmemprof.so: $(AGENT_OBJ) preload/exports.map
	$(CC) -shared -o $@ $(AGENT_OBJ) -Wl,--version-script=preload/exports.map -Wl,-z,nodelete -ldl -lpthread $(LDFLAGS)

$(B)/memprof-report: $(B)/report/main.o $(REPORT_LIB_OBJ)
	$(CC) -o $@ $^ -ljansson -lpthread -lm $(LDFLAGS)

$(B)/memprof: $(B)/launcher/memprof.o
	$(CC) -o $@ $^ $(LDFLAGS)

$(B)/tests/test_collector: tests/unit/test_collector.c $(COLLECTOR_LIB_OBJ) | $(B)/tests
	$(CC) $(FINAL_CFLAGS) -D_GNU_SOURCE -Icollector -o $@ $< $(COLLECTOR_LIB_OBJ) -ljansson $(LDFLAGS)

$(B)/tests/%: tests/unit/%.c $(REPORT_LIB_OBJ) | $(B)/tests
	$(CC) $(REPORT_CFLAGS) -o $@ $< $(REPORT_LIB_OBJ) -ljansson -lpthread -lm $(LDFLAGS)

$(B)/preload $(B)/collector $(B)/report $(B)/launcher $(B)/tests:
	mkdir -p $@

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

test: all check-exports test-unit test-golden test-e2e

check: test

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-golden: $(B)/memprof-report
	tests/golden/run.sh $(B)/memprof-report

test-e2e: all
	/usr/bin/python3 -m pytest -q -rs tests/e2e

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)
	install -m 0644 $(B)/libmemprof.so $(DESTDIR)$(LIBDIR)/libmemprof.so
	install -m 0755 $(B)/memprof-report $(DESTDIR)$(BINDIR)/memprof-report
	install -m 0755 $(B)/memprof $(DESTDIR)$(BINDIR)/memprof
	install -m 0644 man/memprof.1 man/memprof-report.1 $(DESTDIR)$(MANDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libmemprof.so $(DESTDIR)$(BINDIR)/memprof-report \
	      $(DESTDIR)$(BINDIR)/memprof $(DESTDIR)$(MANDIR)/memprof.1 $(DESTDIR)$(MANDIR)/memprof-report.1
	-rmdir $(DESTDIR)$(LIBDIR)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
