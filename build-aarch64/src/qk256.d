build-aarch64/src/qk256.o: src/qk256.c src/qk256.h src/kernels.h
src/qk256.h:
src/kernels.h:
