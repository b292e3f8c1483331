build-aarch64/tests/fuzz_drivers.o: tests/fuzz_drivers.c \
 tests/fuzz_drivers.h include/bitnet.h src/gguf.h tests/test.h \
 src/tokenizer.h src/gguf.h src/tokenizer_impl.h src/pretokenize.h \
 src/unicode.h
tests/fuzz_drivers.h:
include/bitnet.h:
src/gguf.h:
tests/test.h:
src/tokenizer.h:
src/gguf.h:
src/tokenizer_impl.h:
src/pretokenize.h:
src/unicode.h:
