/*
 * net.h - the server's sockets (server.c), the part that differs between
 * POSIX sockets (net_posix.c, the reference) and Winsock (net_win32.c):
 * listening, accepting, waiting, sending without SIGPIPE, closing.
 */
#ifndef BN_NET_H
#define BN_NET_H

#include <stddef.h>
#include <stdint.h>

typedef intptr_t net_sock; /* a descriptor, or a Winsock SOCKET */
#define NET_NONE ((net_sock)-1)

/* What net_wait waits for and reports. */
enum { NET_IN = 1, NET_OUT = 2, NET_HUP = 4 };

/* Once, before any other call: starts Winsock; on POSIX, a write to a
 * closed connection returns EPIPE instead of raising SIGPIPE. */
void net_init(void);

/* A socket listening on host:port (port 0: any free one); NET_NONE with
 * err set (one line). *loopback says whether only this machine can reach
 * it, *bound the port it got. */
net_sock net_listen(const char *host, int port, int backlog, int *loopback, int *bound, char *err,
                    size_t errlen);
/* The next connection, NET_NONE when none was waiting. */
net_sock net_accept(net_sock listener);

/* Waits up to ms for the events asked; the events that are ready (NET_HUP
 * too when the peer closed or the connection failed), 0 on a timeout or
 * an interruption, -1 on an error. */
int net_wait(net_sock s, int events, int ms);
/* Bytes sent (> 0), 0 to try again, -1 when the connection is broken. */
long net_send(net_sock s, const void *p, size_t n);
/* Bytes received (> 0), 0 when the peer closed, -1 on an error. */
long net_recv(net_sock s, void *p, size_t n);
/* Whether the peer has closed or reset the connection (never blocks). */
int net_peer_gone(net_sock s);
void net_shutdown_send(net_sock s);
/* Ends both directions, from another thread too: a net_wait on s returns
 * and net_recv sees the end (evicting an idle connection). */
void net_shutdown_both(net_sock s);
void net_close(net_sock s);

/* For net_posix.c and net_win32.c (net_addr.c): the addresses to listen
 * on for host:port (freeaddrinfo frees them; NULL with err set), whether a
 * struct sockaddr is a loopback address, and the port of a struct
 * sockaddr_storage. */
struct addrinfo;
struct addrinfo *net_resolve(const char *host, int port, char *err, size_t errlen);
int net_is_loopback(const void *sockaddr);
int net_port_of(const void *sockaddr_storage);

#endif
