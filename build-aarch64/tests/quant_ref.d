build-aarch64/tests/quant_ref.o: tests/quant_ref.c tests/quant_ref.h \
 src/kernels.h src/qk256.h
tests/quant_ref.h:
src/kernels.h:
src/qk256.h:
