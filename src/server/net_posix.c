/*
 * net_posix.c - net.h with POSIX sockets and poll.
 */
#ifndef _WIN32

#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void net_init(void) { signal(SIGPIPE, SIG_IGN); }

net_sock net_listen(const char *host, int port, int backlog, int *loopback, int *bound, char *err,
                    size_t errlen)
{
    struct addrinfo *res = net_resolve(host, port, err, errlen);
    if (!res) return NET_NONE;
    int fd = -1, e = 0;
    *loopback = 1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        const int one = 1;
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd >= 0 && (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, backlog))) {
            e = errno;
            close(fd);
            fd = -1;
        }
        if (fd >= 0) *loopback = net_is_loopback(a->ai_addr);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(e));
        return NET_NONE;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        return NET_NONE;
    }
    *bound = net_port_of(&ss);
    return fd;
}

net_sock net_accept(net_sock listener)
{
    const int fd = accept4((int)listener, NULL, NULL, SOCK_CLOEXEC);
    return fd >= 0 ? fd : NET_NONE;
}

int net_wait(net_sock s, int events, int ms)
{
    struct pollfd pfd = {
        .fd = (int)s,
        .events = (short)((events & NET_IN ? POLLIN : 0) | (events & NET_OUT ? POLLOUT : 0))};
    const int n = poll(&pfd, 1, ms);
    if (n <= 0) return n < 0 && errno != EINTR ? -1 : 0;
    return (pfd.revents & POLLIN ? NET_IN : 0) | (pfd.revents & POLLOUT ? NET_OUT : 0) |
           (pfd.revents & (POLLERR | POLLHUP) ? NET_HUP : 0);
}

long net_send(net_sock s, const void *p, size_t n)
{
    const ssize_t k = send((int)s, p, n, MSG_NOSIGNAL);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    return k > 0 ? (long)k : -1;
}

long net_recv(net_sock s, void *p, size_t n)
{
    for (;;) {
        const ssize_t k = recv((int)s, p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        return (long)k;
    }
}

int net_peer_gone(net_sock s)
{
    struct pollfd pfd = {.fd = (int)s, .events = POLLIN | POLLRDHUP};
    if (poll(&pfd, 1, 0) <= 0) return 0;
    if (pfd.revents & (POLLERR | POLLHUP | POLLRDHUP)) return 1;
    char b;
    return (pfd.revents & POLLIN) && recv((int)s, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void net_shutdown_send(net_sock s) { shutdown((int)s, SHUT_WR); }

void net_shutdown_both(net_sock s) { shutdown((int)s, SHUT_RDWR); }

void net_close(net_sock s) { close((int)s); }

#endif /* !_WIN32 */
