build-aarch64/src/ternary.o: src/ternary.c include/bitnet.h src/quants.h \
 src/ternary.h src/gguf.h src/qk256.h src/threadpool.h
include/bitnet.h:
src/quants.h:
src/ternary.h:
src/gguf.h:
src/qk256.h:
src/threadpool.h:
