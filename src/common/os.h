/*
 * os.h - what the command-line tool and the server need from the operating
 * system and that differs on Windows: Ctrl-C and stop requests, UTF-8
 * command lines and console output, the terminal's raw mode and width for
 * the line editor, and a write to a closed pipe. os_posix.c is the
 * reference; os_win32.c does the same with the console API. (The engine's
 * own platform layer is src/runtime/platform.h.)
 */
#ifndef BN_OS_H
#define BN_OS_H

/* Calls fn on every Ctrl-C: from a signal handler on POSIX, installed
 * without SA_RESTART so that a blocking read ends; from a thread the
 * system starts on Windows (SetConsoleCtrlHandler). fn may only set flags
 * and exit. With also_stop, SIGTERM (Windows: closing the console, logging
 * off, shutting down) calls it too. */
void os_on_interrupt(void (*fn)(void), int also_stop);

/* On Windows, replaces argv by the command line in UTF-8, writes stdout
 * and stderr in binary mode (\n line ends) and sets the console's code
 * pages to UTF-8 (and lets it read ANSI sequences), so text reads and
 * prints as on Linux; does nothing elsewhere. */
void os_utf8_console(int *argc, char ***argv);

/* A write found the reader gone: ends the process as a POSIX tool does,
 * by SIGPIPE. Returns on Windows, which has no such signal; the caller
 * reports the error then. */
void os_broken_pipe(void);

/* Whether stdin and stdout are a terminal the line editor can drive. */
int os_term_usable(void);
/* Puts the terminal in raw mode (keys one by one, no echo, Ctrl-C still
 * interrupts); 0, or -1 with errno set. os_term_restore puts it back, and
 * does so on every way out of the process once raw mode was entered;
 * async-signal-safe. */
int os_term_raw(void);
void os_term_restore(void);
/* The terminal's width in columns, 0 when unknown. */
int os_term_columns(void);

#endif
