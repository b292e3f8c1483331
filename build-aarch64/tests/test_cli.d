build-aarch64/tests/test_cli.o: tests/test_cli.c tests/json_mini.h \
 tests/test.h
tests/json_mini.h:
tests/test.h:
