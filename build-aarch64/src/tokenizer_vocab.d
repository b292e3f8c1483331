build-aarch64/src/tokenizer_vocab.o: src/tokenizer_vocab.c \
 src/tokenizer_impl.h include/bitnet.h src/pretokenize.h
src/tokenizer_impl.h:
include/bitnet.h:
src/pretokenize.h:
