build-aarch64/src/pretokenize.o: src/pretokenize.c src/pretokenize.h \
 src/unicode.h
src/pretokenize.h:
src/unicode.h:
