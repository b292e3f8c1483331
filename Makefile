# bitnet-run - build with `make`, test with `make test`.
#
# C11, warnings are errors, only libc, libm and pthreads. Per-ISA kernels
# are compiled with function target attributes, so a plain build runs on
# any CPU of its architecture and picks its kernels at startup.
# src/cli/ makes the command-line tool and sees only include/ and its own
# folder; every other folder of src/ is the engine (include/bitnet.h),
# linked into the tool, tests and benches (docs/ARCHITECTURE.md).

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?=
WARN     = -Wall -Wextra -Werror
BASE     = -std=c11 -D_GNU_SOURCE -ffp-contract=off -pthread -Iinclude -MMD -MP
LDLIBS   = -lm -pthread
BUILD   ?= build

LAYERS    = gguf runtime kernels model tokenizer engine
CLI_SRC   = $(wildcard src/cli/*.c)
CLI_OBJ   = $(CLI_SRC:src/%.c=$(BUILD)/src/%.o)
LIB_SRC   = $(foreach d,$(LAYERS),$(wildcard src/$(d)/*.c))
LIB_OBJ   = $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
TEST_SRC  = $(wildcard tests/*.c)
TEST_OBJ  = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ALL_CFLAGS = $(BASE) $(OPT) $(WARN) $(CFLAGS)

.PHONY: all test bench clean fuzz sanitize

all: bitnet-run

bitnet-run: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

# The CLI is compiled against the public header and its own folder only,
# so the compiler holds it to include/bitnet.h.
$(BUILD)/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/cli -c -o $@ $<

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

# forward.c's per-token loops (norms, activation, residual adds) run on one
# thread while a token decodes; GCC vectorizes them only from -O3 (one
# decoding step's serial work: 1.03 -> 0.73 ms on the 2B-4T shape).
$(BUILD)/src/engine/forward.o: OPT := $(OPT:-O2=-O3)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/run-tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

test: bitnet-run $(BUILD)/run-tests
	./$(BUILD)/run-tests

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

# gen_synthetic writes its model with the tests' GGUF writer.
$(BUILD)/bench/gen_synthetic: $(BUILD)/tests/gguf_build.o

bench: bitnet-run $(BENCH_BIN)

# Hostile input (tests/fuzz/): `make fuzz` builds the libFuzzer targets with
# clang into their own folder and runs each for FUZZ_SECONDS; `make sanitize`
# runs the whole suite, CLI included, under ASan + UBSan.
FUZZ_SECONDS ?= 60
FUZZ_BUILD    = build/fuzz
FUZZ_OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS  = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_HELPERS  = $(addprefix $(BUILD)/tests/,fuzz_drivers.o test_support.o gguf_build.o gguf_edit.o)
SAN_BUILD     = build/sanitize
SAN_OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HELPERS) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -Itests -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(FUZZ_HELPERS) $(BUILD)/tests/json_mini.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -Itests -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bitnet-run: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT="$(FUZZ_OPT)" $(FUZZ_BUILD)/fuzz/make_seeds \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

sanitize:
	$(MAKE) BUILD=$(SAN_BUILD) OPT="$(SAN_OPT)" $(SAN_BUILD)/run-tests $(SAN_BUILD)/bitnet-run
	BN_BITNET_RUN=$(SAN_BUILD)/bitnet-run ./$(SAN_BUILD)/run-tests

clean:
	rm -rf $(BUILD) bitnet-run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
