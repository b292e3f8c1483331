build-aarch64/tests/test_support.o: tests/test_support.c tests/test.h
tests/test.h:
