build-aarch64/src/tokenizer_bpe.o: src/tokenizer_bpe.c \
 src/tokenizer_impl.h include/bitnet.h src/pretokenize.h src/unicode.h
src/tokenizer_impl.h:
include/bitnet.h:
src/pretokenize.h:
src/unicode.h:
