/*
 * net_win32.c - net.h with Winsock 2 and WSAPoll. It follows net_posix.c,
 * the reference.
 */
#ifdef _WIN32

#include "net.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <winsock2.h>
#include <ws2tcpip.h>

void net_init(void)
{
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
}

/* The last Winsock error as a one-line message. */
static const char *wsa_error(char *buf, size_t len)
{
    const int e = WSAGetLastError();
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)e, 0, buf, (DWORD)len, NULL);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.')) buf[--n] = 0;
    if (!n) snprintf(buf, len, "Winsock error %d", e);
    return buf;
}

net_sock net_listen(const char *host, int port, int backlog, int *loopback, int *bound, char *err,
                    size_t errlen)
{
    char msg[256] = "";
    struct addrinfo *res = net_resolve(host, port, err, errlen);
    if (!res) return NET_NONE;
    SOCKET s = INVALID_SOCKET;
    *loopback = 1;
    for (struct addrinfo *a = res; a && s == INVALID_SOCKET; a = a->ai_next) {
        s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        const int one = 1; /* a second server on the port is refused, as on POSIX */
        if (s != INVALID_SOCKET)
            setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof one);
        if (s != INVALID_SOCKET &&
            (bind(s, a->ai_addr, (int)a->ai_addrlen) || listen(s, backlog))) {
            wsa_error(msg, sizeof msg);
            closesocket(s);
            s = INVALID_SOCKET;
        }
        if (s != INVALID_SOCKET) *loopback = net_is_loopback(a->ai_addr);
    }
    freeaddrinfo(res);
    if (s == INVALID_SOCKET) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, msg);
        return NET_NONE;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(s, (struct sockaddr *)&ss, &sl)) {
        snprintf(err, errlen, "getsockname: %s", wsa_error(msg, sizeof msg));
        closesocket(s);
        return NET_NONE;
    }
    *bound = net_port_of(&ss);
    return (net_sock)s;
}

net_sock net_accept(net_sock listener)
{
    const SOCKET s = accept((SOCKET)listener, NULL, NULL);
    return s == INVALID_SOCKET ? NET_NONE : (net_sock)s;
}

int net_wait(net_sock s, int events, int ms)
{
    WSAPOLLFD pfd = {.fd = (SOCKET)s,
                     .events = (short)((events & NET_IN ? POLLRDNORM : 0) |
                                       (events & NET_OUT ? POLLWRNORM : 0))};
    const int n = WSAPoll(&pfd, 1, ms);
    if (n <= 0) return n < 0 ? -1 : 0;
    return (pfd.revents & POLLRDNORM ? NET_IN : 0) | (pfd.revents & POLLWRNORM ? NET_OUT : 0) |
           (pfd.revents & (POLLERR | POLLHUP | POLLNVAL) ? NET_HUP : 0);
}

long net_send(net_sock s, const void *p, size_t n)
{
    const int chunk = n > INT_MAX ? INT_MAX : (int)n;
    const int k = send((SOCKET)s, p, chunk, 0); /* Windows has no SIGPIPE */
    if (k == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) return 0;
    return k > 0 ? k : -1;
}

long net_recv(net_sock s, void *p, size_t n)
{
    const int k = recv((SOCKET)s, p, n > INT_MAX ? INT_MAX : (int)n, 0);
    return k == SOCKET_ERROR ? -1 : k;
}

int net_peer_gone(net_sock s)
{
    WSAPOLLFD pfd = {.fd = (SOCKET)s, .events = POLLRDNORM};
    if (WSAPoll(&pfd, 1, 0) <= 0) return 0;
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return 1;
    char b;
    /* readable: a peek returns at once, 0 when the peer closed */
    return (pfd.revents & POLLRDNORM) && recv((SOCKET)s, &b, 1, MSG_PEEK) == 0;
}

void net_shutdown_send(net_sock s) { shutdown((SOCKET)s, SD_SEND); }

void net_shutdown_both(net_sock s) { shutdown((SOCKET)s, SD_BOTH); }

void net_close(net_sock s) { closesocket((SOCKET)s); }

#endif /* _WIN32 */
