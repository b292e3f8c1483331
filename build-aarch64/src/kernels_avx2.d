build-aarch64/src/kernels_avx2.o: src/kernels_avx2.c src/kernels.h \
 src/qk256.h
src/kernels.h:
src/qk256.h:
