build-aarch64/src/kernels_avx512.o: src/kernels_avx512.c src/kernels.h \
 src/qk256.h
src/kernels.h:
src/qk256.h:
