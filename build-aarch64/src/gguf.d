build-aarch64/src/gguf.o: src/gguf.c src/gguf.h
src/gguf.h:
