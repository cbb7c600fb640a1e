/* A keep-alive HTTP/1.1 load generator for Unix sockets, so the client is never the
 * bottleneck (one epoll thread, no allocation per request).
 *
 *   loadgen SOCKET CONNECTIONS SECONDS "GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n"
 *
 * Each connection sends a request, reads the response (Content-Length framing), records
 * the latency and sends the next. Prints one JSON line: requests, seconds, errors,
 * p50_us, p99_us. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 1024
#define BUF 65536
#define MAX_SAMPLES 20000000

typedef struct {
    int fd;
    char buf[BUF];
    size_t have;
    double sent_at;
} conn_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Length of a complete response at the start of buf, or 0 if incomplete. */
static size_t complete(const char *buf, size_t have) {
    const char *end = memmem(buf, have, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = end - buf + 4;
    size_t body = 0;
    const char *p = buf;
    while (p < end) {
        const char *line_end = memmem(p, end - p + 2, "\r\n", 2);
        if (!line_end) break;
        if (line_end - p > 15 && strncasecmp(p, "content-length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
        p = line_end + 2;
    }
    return have >= head + body ? head + body : 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: loadgen SOCKET CONNECTIONS SECONDS REQUEST\n");
        return 2;
    }
    const char *path = argv[1];
    int n = atoi(argv[2]);
    double seconds = atof(argv[3]);
    const char *req = argv[4];
    size_t req_len = strlen(req);
    if (n < 1 || n > MAX_CONN) return 2;
    static conn_t conns[MAX_CONN];
    float *samples = malloc(sizeof(float) * MAX_SAMPLES);
    long count = 0, errors = 0;
    int ep = epoll_create1(0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            perror("connect");
            return 1;
        }
        conns[i].fd = fd;
        conns[i].have = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    double start = now(), deadline = start + seconds;
    for (int i = 0; i < n; i++) {
        conns[i].sent_at = now();
        if (write(conns[i].fd, req, req_len) != (ssize_t)req_len) errors++;
    }
    struct epoll_event events[MAX_CONN];
    int active = n;
    while (active > 0) {
        int k = epoll_wait(ep, events, MAX_CONN, 1000);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        for (int e = 0; e < k; e++) {
            conn_t *c = &conns[events[e].data.u32];
            ssize_t r = read(c->fd, c->buf + c->have, BUF - c->have);
            if (r <= 0) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                active--;
                continue;
            }
            c->have += r;
            size_t len;
            while ((len = complete(c->buf, c->have)) > 0) {
                double t = now();
                if (count < MAX_SAMPLES) samples[count] = (float)((t - c->sent_at) * 1e6);
                count++;
                memmove(c->buf, c->buf + len, c->have - len);
                c->have -= len;
                if (t >= deadline) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    active--;
                    break;
                }
                c->sent_at = t;
                if (write(c->fd, req, req_len) != (ssize_t)req_len) errors++;
            }
        }
    }
    double elapsed = now() - start;
    long m = count < MAX_SAMPLES ? count : MAX_SAMPLES;
    qsort(samples, m, sizeof(float), cmp);
    printf("{\"requests\": %ld, \"seconds\": %.4f, \"errors\": %ld, \"p50_us\": %.1f, "
           "\"p99_us\": %.1f}\n",
           count, elapsed, errors, m ? samples[m / 2] : 0.0, m ? samples[(long)(m * 0.99)] : 0.0);
    return 0;
}
