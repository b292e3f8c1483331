build-aarch64/tests/gguf_edit.o: tests/gguf_edit.c tests/gguf_edit.h \
 src/gguf.h tests/gguf_build.h
tests/gguf_edit.h:
src/gguf.h:
tests/gguf_build.h:
