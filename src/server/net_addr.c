/*
 * net_addr.c - what net_posix.c and net_win32.c share: resolving the
 * address to listen on and reading socket addresses, the same structures
 * and calls on both, declared by different headers.
 */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif
#include <stdio.h>

#include "net.h"

#define IPV4_LOOPBACK_NET 127

struct addrinfo *net_resolve(const char *host, int port, char *err, size_t errlen)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    const int gai = getaddrinfo(host, service, &hints, &res);
    if (!gai) return res;
    snprintf(err, errlen, "--host %s: %s", host, gai_strerror(gai));
    return NULL;
}

int net_is_loopback(const void *sockaddr)
{
    const struct sockaddr *sa = sockaddr;
    if (sa->sa_family == AF_INET)
        return ((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr)[0] ==
               IPV4_LOOPBACK_NET;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

int net_port_of(const void *sockaddr_storage)
{
    const struct sockaddr_storage *ss = sockaddr_storage;
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}
