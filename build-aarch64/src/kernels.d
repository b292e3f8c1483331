build-aarch64/src/kernels.o: src/kernels.c src/cpu.h src/kernels.h \
 src/qk256.h
src/cpu.h:
src/kernels.h:
src/qk256.h:
