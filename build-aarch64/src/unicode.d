build-aarch64/src/unicode.o: src/unicode.c src/unicode.h
src/unicode.h:
