build-aarch64/tests/test_kernels.o: tests/test_kernels.c src/kernels.h \
 src/qk256.h tests/test.h
src/kernels.h:
src/qk256.h:
tests/test.h:
