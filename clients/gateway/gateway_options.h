/*  gateway_options — what raftq-gateway runs with: the cluster's config
    file, and its own settings from that file's "gateway" object, each
    overridden by a command-line flag. Read once at start, then only read.
*/
#ifndef GATEWAY_OPTIONS_H_INCLUDED
#define GATEWAY_OPTIONS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_DEFAULT_PORT            8080
#define GATEWAY_DEFAULT_MAX_CONNECTIONS 256
#define GATEWAY_DEFAULT_MAX_PER_ADDRESS 64
//  A user with more tabs open than this is one a stream thread too many:
//  each stream holds a connection thread and a subscription
#define GATEWAY_DEFAULT_MAX_STREAMS_PER_USER 8

//  The settings; every string is owned by the record.
typedef struct {
    char *config_path;        //  the cluster's config.json
    char *host;               //  IPv4 address to listen on
    uint16_t port;            //  TCP port to listen on, 0: any free one
    char *key_file;           //  the session sealing key (made if missing)
    char *tls_certificate;    //  PEM certificate: serve HTTPS, NULL: plain HTTP
    char *tls_key;            //  its PEM private key
    bool secure_cookie;       //  mark the cookie Secure (TLS here or at a proxy)
    unsigned max_connections; //  concurrent HTTP connections served
    unsigned max_per_address; //  of them from one client address (a proxy is one)
    unsigned max_streams;     //  event streams one user holds open at once
} gateway_options_t;

//  Reads the command line (see s_usage in gateway_options.c) and the
//  config's "gateway" object. Returns the options, or NULL with one line
//  in error (exit code 2); with --help, NULL and an empty error after
//  printing the usage.
gateway_options_t *gateway_options_new (int argc, char **argv, char *error, size_t error_size);

//  Frees the options; nulls *self_p.
void gateway_options_destroy (gateway_options_t **self_p);

#endif
