/*
 * Benchmark peer driven by the REAL Aeron 1.53 C client (the pyaeron wheel's exported
 * symbols), compiled by benchmarks/run.py with gcc at benchmark time.  The same four roles and
 * output lines as the aeronpy roles in run.py:
 *
 *   c_client pub  DIR CHANNEL STREAM COUNT SIZE     offer COUNT messages (sched_yield when refused)
 *   c_client sub  DIR CHANNEL STREAM COUNT          prints READY, then "received bytes seconds"
 *   c_client pong DIR PING PONG                     echoes every ping until a STOP message
 *   c_client ping DIR PING PONG COUNT WARMUP        prints "p50 p90 p99 p99.9 max" in microseconds
 *
 * Only the public C API is used, declared here (opaque handles).  The wheel's library also
 * references CPython symbols it never calls from these functions; linking libpython provides them.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct aeron_context_stct aeron_context_t;
typedef struct aeron_stct aeron_t;
typedef struct aeron_publication_stct aeron_publication_t;
typedef struct aeron_subscription_stct aeron_subscription_t;
typedef struct aeron_image_stct aeron_image_t;
typedef struct aeron_header_stct aeron_header_t;
typedef struct aeron_client_registering_resource_stct aeron_async_add_publication_t;
typedef struct aeron_client_registering_resource_stct aeron_async_add_subscription_t;
typedef void (*aeron_fragment_handler_t)(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header);
typedef void (*aeron_image_handler_t)(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image);

int aeron_context_init(aeron_context_t **context);
int aeron_context_set_dir(aeron_context_t *context, const char *value);
int aeron_init(aeron_t **client, aeron_context_t *context);
int aeron_start(aeron_t *client);
int aeron_close(aeron_t *client);
int aeron_context_close(aeron_context_t *context);
int aeron_async_add_publication(aeron_async_add_publication_t **async, aeron_t *client, const char *uri, int32_t stream_id);
int aeron_async_add_publication_poll(aeron_publication_t **publication, aeron_async_add_publication_t *async);
int aeron_async_add_subscription(aeron_async_add_subscription_t **async, aeron_t *client, const char *uri,
                                 int32_t stream_id, aeron_image_handler_t on_available, void *available_clientd,
                                 aeron_image_handler_t on_unavailable, void *unavailable_clientd);
int aeron_async_add_subscription_poll(aeron_subscription_t **subscription, aeron_async_add_subscription_t *async);
int64_t aeron_publication_offer(aeron_publication_t *publication, const uint8_t *buffer, size_t length,
                                void *reserved_value_supplier, void *clientd);
bool aeron_publication_is_connected(aeron_publication_t *publication);
int aeron_subscription_poll(aeron_subscription_t *subscription, aeron_fragment_handler_t handler, void *clientd,
                            size_t fragment_limit);
int aeron_subscription_image_count(aeron_subscription_t *subscription);
const char *aeron_errmsg(void);

static aeron_context_t *context;
static aeron_t *client;

static void die(const char *what)
{
    fprintf(stderr, "ERROR: %s: %s\n", what, aeron_errmsg());
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void connect_client(const char *dir)
{
    if (aeron_context_init(&context) < 0)
        die("aeron_context_init");
    if (aeron_context_set_dir(context, dir) < 0)
        die("aeron_context_set_dir");
    if (aeron_init(&client, context) < 0)
        die("aeron_init");
    if (aeron_start(client) < 0)
        die("aeron_start");
}

static aeron_publication_t *add_publication(const char *channel, int32_t stream)
{
    aeron_async_add_publication_t *async;
    aeron_publication_t *pub = NULL;
    int rc;
    if (aeron_async_add_publication(&async, client, channel, stream) < 0)
        die("aeron_async_add_publication");
    while ((rc = aeron_async_add_publication_poll(&pub, async)) == 0)
        sched_yield();
    if (rc < 0)
        die("aeron_async_add_publication_poll");
    return pub;
}

static aeron_subscription_t *add_subscription(const char *channel, int32_t stream)
{
    aeron_async_add_subscription_t *async;
    aeron_subscription_t *sub = NULL;
    int rc;
    if (aeron_async_add_subscription(&async, client, channel, stream, NULL, NULL, NULL, NULL) < 0)
        die("aeron_async_add_subscription");
    while ((rc = aeron_async_add_subscription_poll(&sub, async)) == 0)
        sched_yield();
    if (rc < 0)
        die("aeron_async_add_subscription_poll");
    return sub;
}

static void offer_all(aeron_publication_t *pub, const uint8_t *msg, size_t length)
{
    int64_t r;
    while ((r = aeron_publication_offer(pub, msg, length, NULL, NULL)) < 0) {
        if (r == -4 || r == -5 || r == -6)
            die("aeron_publication_offer");
        sched_yield();
    }
}

/* ---------------------------------------------------------------- throughput */

static int64_t received, nbytes;

static void on_count(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    received++;
    nbytes += (int64_t)length;
}

/* Receives `warmup` messages untimed (at least one: it waits for the connection), then times `count`. */
static int role_sub(const char *channel, int32_t stream, int64_t count, int64_t warmup)
{
    aeron_subscription_t *sub = add_subscription(channel, stream);
    int64_t start, at_start, bytes_at_start;
    printf("READY\n");
    fflush(stdout);
    if (warmup < 1)
        warmup = 1;
    while (received < warmup)
        if (aeron_subscription_poll(sub, on_count, NULL, (size_t)(warmup - received < 1000 ? warmup - received : 1000)) == 0)
            sched_yield();
    start = now_ns();
    at_start = received;
    bytes_at_start = nbytes;
    while (received < warmup + count)
        if (aeron_subscription_poll(sub, on_count, NULL, 1000) == 0)
            sched_yield();
    printf("%lld %lld %.9f\n", (long long)(received - at_start), (long long)(nbytes - bytes_at_start),
           (now_ns() - start) / 1e9);
    fflush(stdout);
    return 0;
}

static int role_pub(const char *channel, int32_t stream, int64_t count, size_t size)
{
    aeron_publication_t *pub = add_publication(channel, stream);
    uint8_t *msg = calloc(1, size);
    int64_t sent;
    while (!aeron_publication_is_connected(pub))
        sched_yield();
    for (sent = 0; sent < count;) {
        if (aeron_publication_offer(pub, msg, size, NULL, NULL) > 0)
            sent++;
        else
            sched_yield();
    }
    free(msg);
    return 0;
}

/* ------------------------------------------------------------------- latency */

static uint8_t last[64];
static size_t last_length;
static int got;

static void on_copy(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    last_length = length < sizeof(last) ? length : sizeof(last);
    memcpy(last, buffer, last_length);
    got = 1;
}

#define SPINS_BEFORE_YIELD 64 /* as run.py's round-trip roles */

static int role_pong(const char *ping_channel, const char *pong_channel)
{
    aeron_subscription_t *sub = add_subscription(ping_channel, 2002);
    aeron_publication_t *pub = add_publication(pong_channel, 2003);
    int idle = 0;
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        got = 0;
        if (aeron_subscription_poll(sub, on_copy, NULL, 1) == 0) {
            if (++idle > SPINS_BEFORE_YIELD)
                sched_yield();
            continue;
        }
        idle = 0;
        if (got) {
            int stop = last_length >= 4 && memcmp(last, "STOP", 4) == 0;
            offer_all(pub, last, last_length);
            if (stop)
                return 0;
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int role_ping(const char *ping_channel, const char *pong_channel, int64_t count, int64_t warmup)
{
    aeron_publication_t *pub = add_publication(ping_channel, 2002);
    aeron_subscription_t *sub = add_subscription(pong_channel, 2003);
    int64_t *rtts = malloc(sizeof(int64_t) * (size_t)count), i;
    uint8_t msg[32] = {0};
    while (!aeron_publication_is_connected(pub) || aeron_subscription_image_count(sub) == 0)
        sched_yield();
    for (i = 0; i < warmup + count; i++) {
        int64_t t0;
        memcpy(msg, &i, 8);
        t0 = now_ns();
        offer_all(pub, msg, sizeof(msg));
        int idle = 0;
        got = 0;
        while (!got)
            if (aeron_subscription_poll(sub, on_copy, NULL, 1) == 0 && ++idle > SPINS_BEFORE_YIELD)
                sched_yield();
        if (i >= warmup)
            rtts[i - warmup] = now_ns() - t0;
    }
    memcpy(msg, "STOP", 4);
    offer_all(pub, msg, sizeof(msg));
    qsort(rtts, (size_t)count, sizeof(int64_t), cmp_i64);
#define PCT(p) (rtts[(int64_t)(count * (p)) < count ? (int64_t)(count * (p)) : count - 1] / 1000.0)
    printf("%.1f %.1f %.1f %.1f %.1f\n", PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), rtts[count - 1] / 1000.0);
    fflush(stdout);
    free(rtts);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc < 3) {
        fprintf(stderr, "usage: c_client pub|sub|ping|pong DIR ...\n");
        return 2;
    }
    connect_client(argv[2]);
    if (strcmp(argv[1], "pub") == 0 && argc == 7)
        rc = role_pub(argv[3], atoi(argv[4]), atoll(argv[5]), (size_t)atoll(argv[6]));
    else if (strcmp(argv[1], "sub") == 0 && argc == 7)
        rc = role_sub(argv[3], atoi(argv[4]), atoll(argv[5]), atoll(argv[6]));
    else if (strcmp(argv[1], "pong") == 0 && argc == 5)
        rc = role_pong(argv[3], argv[4]);
    else if (strcmp(argv[1], "ping") == 0 && argc == 7)
        rc = role_ping(argv[3], argv[4], atoll(argv[5]), atoll(argv[6]));
    else
        fprintf(stderr, "bad arguments for %s\n", argv[1]);
    aeron_close(client);
    aeron_context_close(context);
    return rc;
}
