build-aarch64/tests/test_gguf.o: tests/test_gguf.c src/gguf.h \
 tests/gguf_build.h tests/test.h
src/gguf.h:
tests/gguf_build.h:
tests/test.h:
