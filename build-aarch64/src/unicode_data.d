build-aarch64/src/unicode_data.o: src/unicode_data.c src/unicode.h
src/unicode.h:
