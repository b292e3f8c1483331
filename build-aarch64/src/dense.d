build-aarch64/src/dense.o: src/dense.c src/model.h include/bitnet.h \
 src/gguf.h src/kernels.h src/qk256.h src/threadpool.h src/quants.h
src/model.h:
include/bitnet.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/threadpool.h:
src/quants.h:
