build-aarch64/tests/ref_check.o: tests/ref_check.c tests/ref_check.h \
 include/bitnet.h tests/json_mini.h tests/test.h
tests/ref_check.h:
include/bitnet.h:
tests/json_mini.h:
tests/test.h:
