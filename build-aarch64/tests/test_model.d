build-aarch64/tests/test_model.o: tests/test_model.c include/bitnet.h \
 src/model.h src/gguf.h src/kernels.h src/qk256.h src/threadpool.h \
 tests/ref_check.h tests/test.h
include/bitnet.h:
src/model.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/threadpool.h:
tests/ref_check.h:
tests/test.h:
