build-aarch64/src/forward.o: src/forward.c src/model.h include/bitnet.h \
 src/gguf.h src/kernels.h src/qk256.h src/threadpool.h
src/model.h:
include/bitnet.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/threadpool.h:
