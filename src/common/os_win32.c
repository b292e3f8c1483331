/*
 * os_win32.c - os.h on Windows, with the console API: SetConsoleCtrlHandler
 * for Ctrl-C, the wide command line converted to UTF-8, console modes for
 * raw keys and ANSI sequences. It follows os_posix.c, the reference.
 */
#ifdef _WIN32

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>
#include <shellapi.h>

static void (*interrupt_fn)(void);
static int interrupt_on_stop;

/* Runs on a thread of its own. Returning TRUE for Ctrl-C keeps the process
 * alive, so the run stops where it is, as on POSIX; for a closing console
 * Windows ends the process when the handler returns, so the flag set there
 * only helps what finishes at once. */
static BOOL WINAPI on_console_event(DWORD event)
{
    const int stop = event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
                     event == CTRL_SHUTDOWN_EVENT;
    if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT && !(stop && interrupt_on_stop))
        return FALSE;
    interrupt_fn();
    return TRUE;
}

void os_on_interrupt(void (*fn)(void), int also_stop)
{
    interrupt_fn = fn;
    interrupt_on_stop = also_stop;
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

/* The wide command line as UTF-8 strings, kept for the process's life. */
static char **utf8_argv(int *argc)
{
    int n = 0;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
    char **argv = wargv ? calloc((size_t)n + 1, sizeof *argv) : NULL;
    for (int i = 0; argv && i < n; i++) {
        const int len = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        argv[i] = len > 0 ? malloc((size_t)len) : NULL;
        if (!argv[i]) return NULL; /* out of memory at startup: keep the C runtime's */
        WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], len, NULL, NULL);
    }
    if (wargv) LocalFree(wargv);
    *argc = n;
    return argv;
}

void os_utf8_console(int *argc, char ***argv)
{
    int n;
    char **utf8 = utf8_argv(&n);
    if (utf8) {
        *argc = n;
        *argv = utf8;
    }
    /* the bytes printed are Linux's: \n, not \r\n (a console shows both alike) */
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    SetConsoleCP(CP_UTF8);
    SetConsoleOutputCP(CP_UTF8);
    DWORD mode;
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    if (GetConsoleMode(out, &mode)) /* ANSI sequences of the line editor and colours */
        SetConsoleMode(out, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
}

void os_broken_pipe(void) {}

static DWORD saved_mode;
static volatile LONG raw_active;

/* Raw keys arrive as the ANSI sequences a POSIX terminal sends, which the
 * line editor reads; consoles without that input mode (before Windows 10)
 * keep their own line editing instead. */
#define RAW_INPUT_MODE(m)                                                                          \
    (((m) & ~(DWORD)(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT)) | ENABLE_PROCESSED_INPUT |            \
     ENABLE_VIRTUAL_TERMINAL_INPUT)

int os_term_usable(void)
{
    DWORD in, out;
    HANDLE hin = GetStdHandle(STD_INPUT_HANDLE);
    if (!GetConsoleMode(hin, &in) || !GetConsoleMode(GetStdHandle(STD_OUTPUT_HANDLE), &out) ||
        !(out & ENABLE_VIRTUAL_TERMINAL_PROCESSING))
        return 0;
    if (!SetConsoleMode(hin, RAW_INPUT_MODE(in))) return 0; /* a trial: put back at once */
    SetConsoleMode(hin, in);
    return 1;
}

void os_term_restore(void)
{
    if (!InterlockedExchange(&raw_active, 0)) return;
    SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), saved_mode);
    _setmode(_fileno(stdin), _O_TEXT);
}

int os_term_raw(void)
{
    static int hooked;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    errno = EIO;
    if (!GetConsoleMode(in, &saved_mode)) return -1;
    if (!hooked) {
        hooked = 1;
        atexit(os_term_restore);
    }
    InterlockedExchange(&raw_active, 1);
    if (!SetConsoleMode(in, RAW_INPUT_MODE(saved_mode))) {
        InterlockedExchange(&raw_active, 0);
        return -1;
    }
    _setmode(_fileno(stdin), _O_BINARY); /* Enter's lone \r must not wait for a \n */
    return 0;
}

int os_term_columns(void)
{
    CONSOLE_SCREEN_BUFFER_INFO info;
    if (!GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info)) return 0;
    return info.srWindow.Right - info.srWindow.Left + 1;
}

#endif /* _WIN32 */
