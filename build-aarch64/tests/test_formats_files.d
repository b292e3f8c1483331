build-aarch64/tests/test_formats_files.o: tests/test_formats_files.c \
 include/bitnet.h tests/gguf_build.h src/gguf.h src/kernels.h src/qk256.h \
 src/model.h src/gguf.h src/kernels.h src/threadpool.h tests/quant_ref.h \
 src/quants.h tests/ref_check.h tests/test.h
include/bitnet.h:
tests/gguf_build.h:
src/gguf.h:
src/kernels.h:
src/qk256.h:
src/model.h:
src/gguf.h:
src/kernels.h:
src/threadpool.h:
tests/quant_ref.h:
src/quants.h:
tests/ref_check.h:
tests/test.h:
