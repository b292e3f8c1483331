build-aarch64/src/tokenizer.o: src/tokenizer.c src/gguf.h src/tokenizer.h \
 include/bitnet.h src/tokenizer_impl.h src/pretokenize.h src/unicode.h
src/gguf.h:
src/tokenizer.h:
include/bitnet.h:
src/tokenizer_impl.h:
src/pretokenize.h:
src/unicode.h:
