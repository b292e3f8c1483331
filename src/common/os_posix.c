/*
 * os_posix.c - os.h on POSIX systems: sigaction, termios and TIOCGWINSZ.
 */
#ifndef _WIN32

#include "os.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void (*interrupt_fn)(void);

static void on_signal(int sig)
{
    (void)sig;
    interrupt_fn();
}

void os_on_interrupt(void (*fn)(void), int also_stop)
{
    interrupt_fn = fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a Ctrl-C ends a blocking read */
    sigaction(SIGINT, &sa, NULL);
    if (also_stop) sigaction(SIGTERM, &sa, NULL);
}

void os_utf8_console(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

void os_broken_pipe(void)
{
    signal(SIGPIPE, SIG_DFL);
    raise(SIGPIPE);
}

static struct termios saved_mode;
static volatile sig_atomic_t raw_active;

int os_term_usable(void)
{
    struct termios t;
    return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && tcgetattr(STDIN_FILENO, &t) == 0;
}

void os_term_restore(void)
{
    if (!raw_active) return;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_mode);
    raw_active = 0;
}

/* A signal that ends the process puts the terminal back first; the
 * handler resets itself, so the signal raised again kills as before. */
static void on_fatal_signal(int sig)
{
    os_term_restore();
    raise(sig);
}

static void restore_on_every_exit(void)
{
    static int done;
    static const int SIGNALS[] = {SIGTERM, SIGHUP, SIGQUIT};
    if (done) return;
    done = 1;
    atexit(os_term_restore);
    for (size_t i = 0; i < sizeof SIGNALS / sizeof *SIGNALS; i++) {
        struct sigaction old, sa;
        sigaction(SIGNALS[i], NULL, &old);
        if (old.sa_handler != SIG_DFL) continue; /* ignored or caught by the parent's wish */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGNALS[i], &sa, NULL);
    }
}

int os_term_raw(void)
{
    if (tcgetattr(STDIN_FILENO, &saved_mode)) return -1;
    restore_on_every_exit();
    struct termios raw = saved_mode;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN); /* ISIG stays: Ctrl-C interrupts */
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    raw_active = 1; /* before the switch, so a signal in between restores */
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw)) {
        raw_active = 0;
        return -1;
    }
    return 0;
}

int os_term_columns(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

#endif /* !_WIN32 */
