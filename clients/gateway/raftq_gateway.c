/*  raftq-gateway — the web face of a raftq cluster: serves the chat page
    and the cluster page, and bridges them to the cluster of a config.json
    through libraftq (clients/gateway/gateway_http.h has the threads).
    Stateless: sessions live in sealed cookies, so several gateways sharing
    the key file can stand behind one load balancer.

    Exit codes: 0 after SIGINT or SIGTERM, 2 for bad arguments or
    configuration, 1 when it cannot serve.
*/
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>

#include <czmq.h>

#include "gateway_http.h"
#include "gateway_options.h"
#include "gateway_seal.h"

//  The sockets every browser's client and subscription open, together.
#define S_MAX_SOCKETS 65536

int
main (int argc, char **argv)
{
    char error[1024] = "";
    gateway_options_t *options = gateway_options_new (argc, argv, error, sizeof error);
    if (!options) {
        if (*error)
            fprintf (stderr, "raftq-gateway: %s\n", error);
        return *error ? 2 : 0;
    }
    //  czmq's context is made here, before any connection thread can race
    //  to make it. SIGINT and SIGTERM are blocked before the first thread
    //  starts (threads inherit the mask) and taken by sigwait below.
    //  Each connection holds a socket per node (its client, a stream's
    //  subscription): as many descriptors as the system lets it have.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    zsys_handler_set (NULL);
    zsys_set_max_sockets (S_MAX_SOCKETS);
    zsys_init ();
    signal (SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    gateway_seal_t *seal = gateway_seal_new (options->key_file, error, sizeof error);
    gateway_http_t *http = seal ? gateway_http_new (options, seal, error, sizeof error) : NULL;
    if (!http) {
        fprintf (stderr, "raftq-gateway: %s\n", error);
        gateway_seal_destroy (&seal);
        gateway_options_destroy (&options);
        return seal ? 1 : 2;
    }
    printf ("raftq-gateway: serving %s://%s:%u/ (cluster page: /cluster) for %s\n",
            options->tls_certificate ? "https" : "http", options->host,
            (unsigned)gateway_http_port (http), options->config_path);
    fflush (stdout);
    int signum = 0;
    sigwait (&stop_signals, &signum);
    printf ("raftq-gateway: stopping\n");
    gateway_http_destroy (&http);
    gateway_seal_destroy (&seal);
    gateway_options_destroy (&options);
    return 0;
}
