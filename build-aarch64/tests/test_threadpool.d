build-aarch64/tests/test_threadpool.o: tests/test_threadpool.c \
 tests/test.h src/threadpool.h
tests/test.h:
src/threadpool.h:
