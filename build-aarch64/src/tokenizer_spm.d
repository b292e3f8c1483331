build-aarch64/src/tokenizer_spm.o: src/tokenizer_spm.c \
 src/tokenizer_impl.h include/bitnet.h src/pretokenize.h
src/tokenizer_impl.h:
include/bitnet.h:
src/pretokenize.h:
