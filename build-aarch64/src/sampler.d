build-aarch64/src/sampler.o: src/sampler.c include/bitnet.h
include/bitnet.h:
