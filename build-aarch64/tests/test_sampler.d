build-aarch64/tests/test_sampler.o: tests/test_sampler.c include/bitnet.h \
 tests/test.h
include/bitnet.h:
tests/test.h:
