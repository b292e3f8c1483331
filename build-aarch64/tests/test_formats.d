build-aarch64/tests/test_formats.o: tests/test_formats.c include/bitnet.h \
 src/gguf.h src/kernels.h src/qk256.h src/qk256.h tests/quant_ref.h \
 src/quants.h src/ternary.h src/gguf.h src/threadpool.h tests/test.h \
 src/threadpool.h
include/bitnet.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/qk256.h:
tests/quant_ref.h:
src/quants.h:
src/ternary.h:
src/gguf.h:
src/threadpool.h:
tests/test.h:
src/threadpool.h:
