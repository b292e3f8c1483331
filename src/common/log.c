/*
 * log.c - one-line messages on stderr, with control bytes escaped so a
 * message naming a file's metadata or a request's JSON key stays one
 * harmless line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Writes prefix and the formatted message as one line on stderr; control
 * bytes are shown as \xNN. */
static void message_line(const char *prefix, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    fputs(prefix, stderr);
    for (const unsigned char *p = (const unsigned char *)(msg ? msg : fmt); *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
    free(msg);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message_line("bitnet-run: error: ", fmt, ap);
    va_end(ap);
}

void log_verror(const char *fmt, va_list ap) { message_line("bitnet-run: error: ", fmt, ap); }

void log_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message_line("bitnet-run: ", fmt, ap);
    va_end(ap);
}

void log_out_of_memory(void)
{
    log_error("out of memory");
    exit(EXIT_OUT_OF_MEMORY);
}

const char *plural(long count, const char *noun, char *buf, size_t cap)
{
    snprintf(buf, cap, "%ld %s%s", count, noun, count == 1 ? "" : "s");
    return buf;
}

const char *stop_words(const char *stop_reason)
{
    return strcmp(stop_reason, "stop") ? stop_reason : "stop string";
}
