/* The latency benchmark's harness stand-in, in C so that 100 of them barely load the
 * 2 cores the daemon is measured on. Speaks Claude's stream-json: BENCH_LINES text
 * deltas at BENCH_RATE per second, each carrying its send time ("t=<ns>;"), starting at
 * a random phase once BENCH_GO_FILE exists. (See _emitter.py for the Python original.) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    long lines = atol(getenv("BENCH_LINES") ? getenv("BENCH_LINES") : "100");
    double rate = atof(getenv("BENCH_RATE") ? getenv("BENCH_RATE") : "20");
    const char *go = getenv("BENCH_GO_FILE");
    char pad[64];
    memset(pad, 'x', 50);
    pad[50] = 0;
    while (go && access(go, F_OK) != 0) usleep(10000);
    srand(getpid() ^ (unsigned)now_ns(CLOCK_MONOTONIC));
    long long interval = (long long)(1e9 / rate);
    long long next = now_ns(CLOCK_MONOTONIC) + (long long)((double)rand() / RAND_MAX * interval);
    for (long i = 0; i < lines; i++) {
        struct timespec at = {next / 1000000000LL, next % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        next += interval;
        printf("{\"type\": \"stream_event\", \"event\": {\"type\": \"content_block_delta\", "
               "\"delta\": {\"type\": \"text_delta\", \"text\": \"t=%lld;%s\"}}}\n",
               now_ns(CLOCK_REALTIME), pad);
        fflush(stdout);
    }
    return 0;
}
