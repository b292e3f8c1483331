# bitnet-run - build with `make`, test with `make test`.
#
# C11, warnings are errors, only libc, libm and pthreads. Per-ISA kernels
# are compiled with function target attributes, so a plain build runs on
# any CPU of its architecture and picks its kernels at startup.
# src/main.c and src/cli_*.c make the command-line tool; every other src/*.c
# is the engine (include/bitnet.h), linked into the tool, tests and benches.

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?=
WARN     = -Wall -Wextra -Werror
BASE     = -std=c11 -D_GNU_SOURCE -ffp-contract=off -pthread -Iinclude -Isrc -MMD -MP
LDLIBS   = -lm -pthread
BUILD   ?= build

CLI_SRC   = src/main.c $(wildcard src/cli_*.c)
CLI_OBJ   = $(CLI_SRC:src/%.c=$(BUILD)/src/%.o)
LIB_SRC   = $(filter-out $(CLI_SRC),$(wildcard src/*.c))
LIB_OBJ   = $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
TEST_SRC  = $(wildcard tests/*.c)
TEST_OBJ  = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ALL_CFLAGS = $(BASE) $(OPT) $(WARN) $(CFLAGS)

.PHONY: all test bench clean

all: bitnet-run

bitnet-run: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/run-tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

test: bitnet-run $(BUILD)/run-tests
	./$(BUILD)/run-tests

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

bench: bitnet-run $(BENCH_BIN)

clean:
	rm -rf $(BUILD) bitnet-run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
