build-aarch64/src/tokenizer_load.o: src/tokenizer_load.c src/tokenizer.h \
 include/bitnet.h src/gguf.h src/tokenizer_impl.h src/pretokenize.h
src/tokenizer.h:
include/bitnet.h:
src/gguf.h:
src/tokenizer_impl.h:
src/pretokenize.h:
