/*
 * bench_server.c - load for `bitnet-run --server`: C concurrent clients
 * each send R non-streamed /v1/completions requests on loopback, one after
 * another; prints requests/s, generated tokens/s (from each answer's usage)
 * and latency percentiles. bench/bench_server.sh starts the servers.
 *
 *   build/bench/bench_server PORT CLIENTS REQUESTS MAX_TOKENS [PROMPT]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bitnet-perf.h"

#define RESPONSE_CAP (1 << 16)
#define PERCENT 100.0

typedef struct {
    int port, requests, max_tokens;
    const char *prompt;
    double *latency_ms; /* one per request */
    long tokens;
    int failed;
} client;

/* One request on its own connection; the completion tokens, or -1. */
static long one_request(const client *c)
{
    char body[1024], req[2048], *resp = malloc(RESPONSE_CAP);
    snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"max_tokens\": %d, \"temperature\": 0}",
             c->prompt, c->max_tokens);
    const int n = snprintf(
        req, sizeof req,
        "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        strlen(body), body);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long tokens = -1;
    size_t len = 0;
    if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof a) &&
        send(fd, req, (size_t)n, 0) == n) {
        ssize_t k;
        while (len + 1 < RESPONSE_CAP && (k = recv(fd, resp + len, RESPONSE_CAP - 1 - len, 0)) > 0)
            len += (size_t)k;
        resp[len] = 0;
        const char *u = strstr(resp, "\"completion_tokens\": ");
        if (!strncmp(resp, "HTTP/1.1 200", 12) && u) tokens = strtol(u + 21, NULL, 10);
    }
    if (fd >= 0) close(fd);
    free(resp);
    return tokens;
}

static void *client_main(void *arg)
{
    client *c = arg;
    for (int i = 0; i < c->requests; i++) {
        const double t0 = bn_seconds();
        const long t = one_request(c);
        c->latency_ms[i] = (bn_seconds() - t0) * 1e3;
        if (t < 0)
            c->failed++;
        else
            c->tokens += t;
    }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
    int i = (int)(p / PERCENT * (n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_server PORT CLIENTS REQUESTS MAX_TOKENS [PROMPT]\n");
        return 1;
    }
    const int port = (int)strtol(argv[1], NULL, 10), n_clients = (int)strtol(argv[2], NULL, 10);
    const int reqs = (int)strtol(argv[3], NULL, 10), max_tokens = (int)strtol(argv[4], NULL, 10);
    if (n_clients < 1 || reqs < 1) return fprintf(stderr, "bench_server: bad counts\n"), 1;
    client *c = calloc((size_t)n_clients, sizeof *c);
    double *lat = calloc((size_t)n_clients * (size_t)reqs, sizeof *lat);
    pthread_t *t = calloc((size_t)n_clients, sizeof *t);
    if (!c || !lat || !t) {
        free(c);
        free(lat);
        free(t);
        return fprintf(stderr, "bench_server: out of memory\n"), 1;
    }
    const double t0 = bn_seconds();
    for (int i = 0; i < n_clients; i++) {
        c[i] = (client){
            port, reqs, max_tokens, argc > 5 ? argv[5] : "Once upon a time", lat + (size_t)i * reqs,
            0,    0};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    long tokens = 0;
    int failed = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(t[i], NULL);
        tokens += c[i].tokens;
        failed += c[i].failed;
    }
    const double s = bn_seconds() - t0;
    const int n = n_clients * reqs;
    qsort(lat, (size_t)n, sizeof *lat, by_value);
    printf("clients %d, requests %d (%d failed) in %.2f s: %.2f requests/s, %.1f tokens/s, "
           "latency ms p50 %.0f p90 %.0f p99 %.0f\n",
           n_clients, n, failed, s, n / s, tokens / s, percentile(lat, n, 50),
           percentile(lat, n, 90), percentile(lat, n, 99));
    free(c);
    free(lat);
    free(t);
    return failed ? 1 : 0;
}
