build-aarch64/tests/json_mini.o: tests/json_mini.c tests/json_mini.h \
 src/unicode.h
tests/json_mini.h:
src/unicode.h:
