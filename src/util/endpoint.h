/*  endpoint — ZeroMQ TCP endpoints for the hosts of the config.

    libzmq connects to host names but binds only to interfaces and address
    literals, so a node configured as "localhost" could not listen. Binding
    therefore resolves the host to an address first; connecting and the
    endpoints shown to clients keep the name as configured.
*/
#ifndef ENDPOINT_H_INCLUDED
#define ENDPOINT_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Room for "tcp://[<any address or config host>]:<port>".
#define ENDPOINT_MAX 128

//  Writes "tcp://host:port" into endpoint (ENDPOINT_MAX bytes); an IPv6
//  literal host gets its brackets ("tcp://[::1]:5555"), as libzmq and
//  libraftq's config reader write it.
void endpoint_format (char *endpoint, const char *host, uint16_t port);

//  Binds socket on host:port, host resolved to an address. Returns 0, or -1
//  with a one-line reason in error.
int endpoint_bind (zsock_t *socket, const char *host, uint16_t port, char *error,
                   size_t error_size);

//  Connects socket to host:port with the connection leaving from
//  source_host's address, so traffic between two nodes is identified by their
//  own addresses (127.0.0.2 to 127.0.0.3, say) and can be cut between just
//  those two. Returns 0, or -1 with a one-line reason in error.
int endpoint_connect_from (zsock_t *socket, const char *source_host, const char *host,
                           uint16_t port, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
