/*  http_server — a node's metrics and health over HTTP (libmicrohttpd), on
    a thread of its own: GET or HEAD of
      /metrics  the newest exposition text (metrics.h), 200; 503 before the
                first one
      /healthz  200 {"status":"ok",...} while the broker keeps publishing;
                503 when its newest snapshot is older than
                HTTP_SERVER_STALE_MS (the broker loop is stuck)
      /readyz   200 or 503 with {"ready":bool,"reason":text} as the broker
                judged it (metrics_readiness), 503 when stale
    and 404 for any other path, 405 for any other method, 413 for a request
    with a body.

    The thread shares nothing with the broker: the broker publishes an
    immutable snapshot (the text, ready and its reason) on the actor pipe
    and never waits (a full pipe drops it). libmicrohttpd runs in that same
    thread, driven by its epoll descriptor, so a scrape reads the thread's
    own copy; one response object per snapshot serves every scrape of it.
    A slow or hostile client costs this thread only: connections are capped
    (HTTP_SERVER_MAX_CONNECTIONS, HTTP_SERVER_MAX_PER_IP), closed after
    HTTP_SERVER_TIMEOUT_S without progress, and a request's headers may
    take HTTP_SERVER_MEMORY_BYTES. The thread runs niced, so that scrapes
    yield the CPU to the broker and Raft.
*/
#ifndef HTTP_SERVER_H_INCLUDED
#define HTTP_SERVER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HTTP_SERVER_STALE_MS        5000
#define HTTP_SERVER_MAX_CONNECTIONS 64
#define HTTP_SERVER_MAX_PER_IP      32
#define HTTP_SERVER_TIMEOUT_S       5
#define HTTP_SERVER_MEMORY_BYTES    (32 * 1024)

typedef struct _http_server_t http_server_t;

//  Serves on host (an IPv4 address or "localhost") and port; node_id marks
//  its log lines. NULL after logging why (the port is taken).
http_server_t *http_server_new (uint32_t node_id, const char *host, uint16_t port);

void http_server_destroy (http_server_t **self_p);

//  Hands the server a new snapshot: the metrics text (size bytes, copied),
//  whether the node is ready and why. Never blocks; a snapshot the server
//  has no room for is dropped (the next one replaces it anyway).
void http_server_publish (http_server_t *self, const char *text, size_t size, bool ready,
                          const char *reason);

#ifdef __cplusplus
}
#endif

#endif
