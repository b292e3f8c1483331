# bitnet-run - build with `make`, test with `make test`.
#
# C11, warnings are errors, only libc, libm and pthreads. Per-ISA kernels
# are compiled with function target attributes, so a plain build runs on
# any CPU of its architecture and picks its kernels at startup.
# The tool's three folders (src/cli: main and the modes; src/server: the
# HTTP server; src/common: the generation library both use) see only
# include/, src/common and their own folder; every other folder of src/ is
# the engine (include/bitnet.h), linked into the tool, tests and benches
# (docs/ARCHITECTURE.md).

CC      ?= cc
AR      ?= ar
OPT     ?= -O2
CFLAGS  ?=
WARN     = -Wall -Wextra -Werror
BASE     = -std=c11 -D_GNU_SOURCE -ffp-contract=off -pthread -Iinclude -MMD -MP
LDLIBS   = -lm -pthread
BUILD   ?= build

# Windows (x86-64): the same sources cross-built with MinGW-w64, by `make
# windows` or `make CC=x86_64-w64-mingw32-gcc`. Programs end in .exe and are
# linked statically (winpthreads, libgcc) so they run with nothing
# installed; src/runtime/posix_win32.h fills in the POSIX extensions
# Windows lacks. printf is MinGW's C99 one, whose %zu and floats read as glibc's;
# GCC would check our format(printf) functions against Microsoft's older
# printf instead, so format checks are left to the Linux builds.
WINDOWS_CC ?= x86_64-w64-mingw32-gcc
ifneq (,$(findstring mingw,$(shell $(CC) -dumpmachine 2>/dev/null)))
EXE      = .exe
BASE    += -D__USE_MINGW_ANSI_STDIO=1 -Wno-format -include src/runtime/posix_win32.h
LDFLAGS += -static
LDLIBS  += -lpsapi -lws2_32 -lshell32 -ladvapi32
ifeq ($(origin AR),default)
AR       = $(patsubst %gcc,%ar,$(CC))
endif
endif

# `make install` (tools/install.sh does the copying; DESTDIR is honoured).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
VERSION    := $(shell sed -n 's/.*define BN_VERSION "\(.*\)"/\1/p' include/bitnet.h)
SOMAJOR     = $(firstword $(subst ., ,$(VERSION)))

LAYERS    = gguf runtime kernels model tokenizer engine backend

# The Vulkan backend (src/backend/vulkan/) is built when glslc and the
# Vulkan headers are there (Debian: glslc, libvulkan-dev); VULKAN=0 leaves
# it out. It loads libvulkan.so.1 with dlopen, so the binary links nothing
# more either way.
VULKAN ?= $(if $(shell command -v glslc 2>/dev/null),$(shell printf '\043include <vulkan/vulkan.h>\n' | \
	$(CC) -E -x c - >/dev/null 2>&1 && echo 1))
ifeq ($(VULKAN),1)
LAYERS   += backend/vulkan
BACKENDS  = cpu vulkan
BASE     += -DBN_VULKAN
else
BACKENDS  = cpu
endif
TOOL_DIRS = cli server common
CLI_SRC   = $(foreach d,$(TOOL_DIRS),$(wildcard src/$(d)/*.c))
CLI_OBJ   = $(CLI_SRC:src/%.c=$(BUILD)/src/%.o) $(BUILD)/gen/webui_page.o
LIB_SRC   = $(foreach d,$(LAYERS),$(wildcard src/$(d)/*.c))
LIB_OBJ   = $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
PIC_OBJ   = $(LIB_SRC:src/%.c=$(BUILD)/pic/src/%.o)
LIB_A     = $(BUILD)/libbitnet.a
LIB_SO    = $(BUILD)/libbitnet.so
TEST_SRC  = $(wildcard tests/*.c)
TEST_OBJ  = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o)
# Test files that drive bitnet-run through a POSIX shell, fork or signals
# stay out of the Windows runner, which names them in one skipped test
# (tests/posix_only.c); tools/ci-windows.sh runs the CLI under Wine instead.
POSIX_ONLY_TESTS = test_cli test_cli_interrupt test_cli_lineedit test_cli_model_flags test_server \
	test_install test_lookup test_bench test_docs test_embed_cli
ifeq ($(EXE),.exe)
TEST_SRC := $(filter-out $(POSIX_ONLY_TESTS:%=tests/%.c),$(TEST_SRC))
endif
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ALL_CFLAGS = $(BASE) $(OPT) $(WARN) $(CFLAGS)

# A plain `make` builds the tool, whatever rules come first below.
.DEFAULT_GOAL := all

# The commit a build came from (--version, --bench's build_commit). Like
# the flags, it is stamped in a file that changes only when the commit
# does, and version.o is rebuilt then.
COMMIT_STAMP = $(BUILD)/.commit
COMMIT_NOW  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
ifneq ($(COMMIT_NOW),$(shell cat $(COMMIT_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && echo $(COMMIT_NOW) >$(COMMIT_STAMP))
endif
$(BUILD)/src/cli/version.o: $(COMMIT_STAMP)
$(BUILD)/src/cli/version.o: ALL_CFLAGS += -DBN_BUILD_COMMIT='"$(COMMIT_NOW)"'

.PHONY: all lib test bench clean fuzz sanitize install uninstall format print-format-src windows FORCE

all: bitnet-run$(EXE)

# $(BUILD)/.flags holds the compiler and flags the objects of $(BUILD) were
# built with (and, for Windows, the test files the runner leaves out). It is rewritten (and so everything rebuilt) only when they
# change: `make CC=clang` after a gcc build, or another OPT or CFLAGS. A dry
# run (-n, -q) leaves it alone and shows the rebuild a change would cause.
FLAGS_STAMP = $(BUILD)/.flags
FLAGS_NOW   = $(CC) $(ALL_CFLAGS) | $(LDFLAGS) $(LDLIBS) | $(AR)$(if $(EXE), | $(POSIX_ONLY_TESTS))
FLAGS_Q     = '$(subst ','\'',$(strip $(FLAGS_NOW)))'
ifneq ($(strip $(FLAGS_NOW)),$(strip $(shell cat $(FLAGS_STAMP) 2>/dev/null)))
ifneq (,$(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))))
$(FLAGS_STAMP): FORCE
	printf '%s\n' $(FLAGS_Q) >$@
else
$(shell mkdir -p $(BUILD) && printf '%s\n' $(FLAGS_Q) >$(FLAGS_STAMP))
endif
endif

bitnet-run$(EXE): $(CLI_OBJ) $(LIB_OBJ) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)
	@echo "bitnet-run: backends built: $(BACKENDS)"

# The shaders to SPIR-V, as C array bodies that vk_shaders.c includes:
# one with double sums (BN_F64=1), one with float sums, for devices
# without shaderFloat64.
VK_SHADERS = $(patsubst src/backend/vulkan/shaders/%.comp,%,$(wildcard src/backend/vulkan/shaders/*.comp))
VK_INC     = $(foreach s,$(VK_SHADERS),$(BUILD)/vulkan/$(s).f64.inc $(BUILD)/vulkan/$(s).f32.inc)
GLSLC      = glslc --target-env=vulkan1.2 -O -mfmt=num

$(BUILD)/vulkan/%.f64.inc: src/backend/vulkan/shaders/%.comp src/backend/vulkan/shaders/common.glsl
	@mkdir -p $(dir $@)
	$(GLSLC) -DBN_F64=1 -o $@ $<

$(BUILD)/vulkan/%.f32.inc: src/backend/vulkan/shaders/%.comp src/backend/vulkan/shaders/common.glsl
	@mkdir -p $(dir $@)
	$(GLSLC) -DBN_F64=0 -o $@ $<

VK_SHADERS_OBJ = $(BUILD)/src/backend/vulkan/vk_shaders.o $(BUILD)/pic/src/backend/vulkan/vk_shaders.o
$(VK_SHADERS_OBJ): $(VK_INC)
$(VK_SHADERS_OBJ): ALL_CFLAGS += -I$(BUILD)/vulkan

# The tool is compiled against the public header, the generation library
# and its own folder only, so the compiler holds it to include/bitnet.h.
$(BUILD)/src/cli/%.o: src/cli/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/common -Isrc/cli -c -o $@ $<

$(BUILD)/src/server/%.o: src/server/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/common -Isrc/server -c -o $@ $<

# The server's chat page (GET /), embedded as a C array made at build time
# from the committed HTML.
$(BUILD)/gen/webui_page.c: src/server/webui/index.html tools/embed.sh
	@mkdir -p $(dir $@)
	tools/embed.sh webui_page $< >$@

$(BUILD)/gen/webui_page.o: $(BUILD)/gen/webui_page.c $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/src/common/%.o: src/common/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/common -c -o $@ $<

$(BUILD)/src/%.o: src/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

# The engine again as position-independent code, for the shared library
# (the tool, tests and static library keep the objects above).
$(BUILD)/pic/src/%.o: src/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -Isrc -c -o $@ $<

# The per-token loops of a layer (ops.c, forward.c: norms, activation,
# residual adds) run on one thread while a token decodes; GCC vectorizes
# them only from -O3.
ENGINE_O3 = ops forward attention
$(ENGINE_O3:%=$(BUILD)/src/engine/%.o) $(ENGINE_O3:%=$(BUILD)/pic/src/engine/%.o): OPT := $(OPT:-O2=-O3)

# The engine as a library for other programs (docs/EMBEDDING.md): static,
# and shared with the soname libbitnet.so.$(SOMAJOR).
lib: $(LIB_A) $(LIB_SO)

$(LIB_A): $(LIB_OBJ) $(FLAGS_STAMP)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(LIB_SO): $(PIC_OBJ) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libbitnet.so.$(SOMAJOR) -o $@.$(VERSION) \
		$(PIC_OBJ) $(LDFLAGS) $(LDLIBS)
	ln -sf libbitnet.so.$(VERSION) $@.$(SOMAJOR)
	ln -sf libbitnet.so.$(SOMAJOR) $@

$(BUILD)/tests/%.o: tests/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<
$(BUILD)/tests/posix_only.o: ALL_CFLAGS += -DBN_POSIX_ONLY_TESTS='"$(POSIX_ONLY_TESTS)"'

# The server's HTTP parser depends on libc only; the tests and the fuzz
# target link it on its own, and the tests the text stream of src/common
# (with its buffers and messages). So do the grammar engine and its logging
# (common/json.c would clash with the tests' json_mini.c: only the fuzz
# targets link the schema converter).
TEST_CLI_OBJ = $(BUILD)/src/server/http.o $(addprefix $(BUILD)/src/common/,stream.o reasoning.o buf.o log.o grammar.o)
FUZZ_SCHEMA_OBJ = $(addprefix $(BUILD)/src/common/,json_schema.o json.o buf.o)

$(BUILD)/run-tests$(EXE): $(TEST_OBJ) $(LIB_OBJ) $(TEST_CLI_OBJ) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

# tests/test_install.c installs the libraries built here into a temporary
# prefix (tools/check-install.sh) and builds examples/embed.c against them.
test: bitnet-run $(BUILD)/run-tests lib
	./$(BUILD)/run-tests

# bitnet-run.exe, the static library and the test runner for Windows, in
# their own build folder (tools/ci-windows.sh runs them under Wine).
WINDOWS_BUILD = build-windows
windows:
	$(MAKE) CC=$(WINDOWS_CC) BUILD=$(WINDOWS_BUILD) bitnet-run.exe $(WINDOWS_BUILD)/libbitnet.a \
		$(WINDOWS_BUILD)/run-tests.exe

install: bitnet-run lib
	BUILD='$(BUILD)' DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' \
	LIBDIR='$(LIBDIR)' INCLUDEDIR='$(INCLUDEDIR)' VERSION='$(VERSION)' \
	LIBS_PRIVATE='$(LDLIBS)' tools/install.sh

uninstall:
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' LIBDIR='$(LIBDIR)' \
	INCLUDEDIR='$(INCLUDEDIR)' tools/install.sh --uninstall

# Reformats the C files in place with .clang-format (not the generated
# Unicode tables of tools/gen_unicode.py).
FORMAT_SRC = $(filter-out src/tokenizer/unicode_data.c,$(wildcard src/*/*.c src/*/*.h \
	src/*/*/*.c src/*/*/*.h include/*.h tests/*.c tests/*.h tests/*/*.c tests/*/*.h bench/*.c \
	bench/*.h examples/*.c))
format:
	clang-format -i $(FORMAT_SRC)

# The files `make format` formats, for tools/check-format.sh.
print-format-src:
	@echo $(FORMAT_SRC)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

# gen_synthetic writes its model with the tests' GGUF writer.
$(BUILD)/bench/gen_synthetic: $(BUILD)/tests/gguf_build.o

bench: bitnet-run $(BENCH_BIN)

# Hostile input (tests/fuzz/): `make fuzz` builds the libFuzzer targets with
# clang into their own folder and runs each for FUZZ_SECONDS; `make sanitize`
# runs the whole suite, CLI included, under ASan + UBSan. Both leave the
# Vulkan backend out: its driver (lavapipe) is not ours to instrument.
FUZZ_SECONDS ?= 60
FUZZ_BUILD    = build/fuzz
FUZZ_OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS  = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_HELPERS  = $(addprefix $(BUILD)/tests/,fuzz_drivers.o test_support.o gguf_build.o gguf_edit.o) \
	$(TEST_CLI_OBJ)
SAN_BUILD     = build/sanitize
SAN_OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HELPERS) $(FUZZ_SCHEMA_OBJ) $(LIB_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -Itests -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(FUZZ_HELPERS) $(BUILD)/tests/json_mini.o $(LIB_OBJ) \
		$(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -Itests -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bitnet-run: $(CLI_OBJ) $(LIB_OBJ) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)
	@echo "bitnet-run: backends built: $(BACKENDS)"

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT="$(FUZZ_OPT)" VULKAN=0 $(FUZZ_BUILD)/fuzz/make_seeds \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

sanitize:
	$(MAKE) BUILD=$(SAN_BUILD) OPT="$(SAN_OPT)" VULKAN=0 $(SAN_BUILD)/run-tests $(SAN_BUILD)/bitnet-run
	BN_BITNET_RUN=$(SAN_BUILD)/bitnet-run ./$(SAN_BUILD)/run-tests

clean:
	rm -rf $(BUILD) bitnet-run bitnet-run.exe

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
