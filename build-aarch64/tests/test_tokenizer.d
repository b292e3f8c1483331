build-aarch64/tests/test_tokenizer.o: tests/test_tokenizer.c \
 include/bitnet.h src/gguf.h tests/gguf_build.h tests/json_mini.h \
 src/pretokenize.h tests/test.h src/tokenizer.h src/gguf.h src/unicode.h
include/bitnet.h:
src/gguf.h:
tests/gguf_build.h:
tests/json_mini.h:
src/pretokenize.h:
tests/test.h:
src/tokenizer.h:
src/gguf.h:
src/unicode.h:
