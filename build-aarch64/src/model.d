build-aarch64/src/model.o: src/model.c src/model.h include/bitnet.h \
 src/gguf.h src/kernels.h src/qk256.h src/threadpool.h src/quants.h \
 src/tokenizer.h src/ternary.h
src/model.h:
include/bitnet.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/threadpool.h:
src/quants.h:
src/tokenizer.h:
src/ternary.h:
