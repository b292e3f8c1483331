build-aarch64/src/kernels_scalar.o: src/kernels_scalar.c src/kernels.h \
 src/qk256.h
src/kernels.h:
src/qk256.h:
