build-aarch64/tests/gguf_build.o: tests/gguf_build.c tests/gguf_build.h \
 src/gguf.h
tests/gguf_build.h:
src/gguf.h:
