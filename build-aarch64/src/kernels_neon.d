build-aarch64/src/kernels_neon.o: src/kernels_neon.c src/kernels.h \
 src/qk256.h
src/kernels.h:
src/qk256.h:
