build-aarch64/src/threadpool.o: src/threadpool.c src/threadpool.h
src/threadpool.h:
