/*
 * log.h - one-line messages on stderr ("bitnet-run: ...") for the tool, the
 * server and the generation library, and the one fatal path: running out of
 * memory; and the wording of counts and stop reasons. Everything else in
 * src/common returns its errors to the caller.
 */
#ifndef BN_COMMON_LOG_H
#define BN_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* "bitnet-run: error: ..." as one line on stderr (control bytes escaped). */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_error with a va_list. */
void log_verror(const char *fmt, va_list ap);
/* "bitnet-run: ..." as one line on stderr. */
void log_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "1 thread", "2 threads": count and noun into buf. */
const char *plural(long count, const char *noun, char *buf, size_t cap);
/* A stop reason as the stats lines say it ("stop" is "stop string"). */
const char *stop_words(const char *stop_reason);
/* The exit status of a run that could not get memory. */
enum { EXIT_OUT_OF_MEMORY = 2 };
/* Says "out of memory" and ends the process: no caller can recover from a
 * failed small allocation in the middle of a generation step. */
void log_out_of_memory(void) __attribute__((noreturn));

#endif
