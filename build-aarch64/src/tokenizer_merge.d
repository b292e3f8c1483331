build-aarch64/src/tokenizer_merge.o: src/tokenizer_merge.c \
 src/tokenizer_impl.h include/bitnet.h src/pretokenize.h src/unicode.h
src/tokenizer_impl.h:
include/bitnet.h:
src/pretokenize.h:
src/unicode.h:
