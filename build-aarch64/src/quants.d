build-aarch64/src/quants.o: src/quants.c src/quants.h src/gguf.h \
 src/kernels.h src/qk256.h
src/quants.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
