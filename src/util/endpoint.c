/*  endpoint — ZeroMQ TCP endpoints for config hosts; see endpoint.h.  */
#include "util/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

//  A colon in a host makes it an IPv6 literal (names and IPv4 have none);
//  one already in brackets is kept as it is.
static bool
s_needs_brackets (const char *host)
{
    return strchr (host, ':') && host[0] != '[';
}

void
endpoint_format (char *endpoint, const char *host, uint16_t port)
{
    snprintf (endpoint, ENDPOINT_MAX, s_needs_brackets (host) ? "tcp://[%s]:%u" : "tcp://%s:%u",
              host, port);
}

//  The address host stands for, as text; IPv4 preferred. Returns 0 or -1.
static int
s_resolve (const char *host, char *address, size_t size, bool *ipv6, char *error, size_t error_size)
{
    struct addrinfo hints;
    memset (&hints, 0, sizeof (hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *results = NULL;
    int rc = getaddrinfo (host, NULL, &hints, &results);
    if (rc) {
        snprintf (error, error_size, "cannot resolve %s: %s", host, gai_strerror (rc));
        return -1;
    }
    const struct addrinfo *chosen = results;
    for (const struct addrinfo *result = results; result; result = result->ai_next)
        if (result->ai_family == AF_INET) {
            chosen = result;
            break;
        }
    *ipv6 = chosen->ai_family == AF_INET6;
    const void *raw = *ipv6 ? (const void *)&((struct sockaddr_in6 *)chosen->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)chosen->ai_addr)->sin_addr;
    const char *text = inet_ntop (chosen->ai_family, raw, address, (socklen_t)size);
    freeaddrinfo (results);
    if (!text) {
        snprintf (error, error_size, "cannot resolve %s: %s", host, strerror (errno));
        return -1;
    }
    return 0;
}

int
endpoint_bind (zsock_t *socket, const char *host, uint16_t port, char *error, size_t error_size)
{
    char address[INET6_ADDRSTRLEN] = "";
    bool ipv6 = false;
    //  "*" means every interface and is understood by libzmq as is
    if (streq (host, "*"))
        snprintf (address, sizeof (address), "*");
    else if (s_resolve (host, address, sizeof (address), &ipv6, error, error_size))
        return -1;
    if (ipv6)
        zsock_set_ipv6 (socket, 1);
    int rc = ipv6 ? zsock_bind (socket, "tcp://[%s]:%u", address, port)
                  : zsock_bind (socket, "tcp://%s:%u", address, port);
    if (rc == -1) {
        snprintf (error, error_size, "cannot bind tcp://%s:%u: %s", host, port,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

int
endpoint_connect_from (zsock_t *socket, const char *source_host, const char *host, uint16_t port,
                       char *error, size_t error_size)
{
    char source[INET6_ADDRSTRLEN] = "";
    bool ipv6 = false;
    if (s_resolve (source_host, source, sizeof (source), &ipv6, error, error_size))
        return -1;
    if (ipv6)
        zsock_set_ipv6 (socket, 1);
    //  libzmq's "source;destination" form; port 0 lets the kernel pick one
    char destination[ENDPOINT_MAX];
    endpoint_format (destination, host, port);
    const char *address = destination + strlen ("tcp://");
    int rc = ipv6 ? zsock_connect (socket, "tcp://[%s]:0;%s", source, address)
                  : zsock_connect (socket, "tcp://%s:0;%s", source, address);
    if (rc == -1) {
        snprintf (error, error_size, "cannot connect from %s to %s: %s", source_host, destination,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}
