build-aarch64/src/cpu.o: src/cpu.c src/cpu.h
src/cpu.h:
