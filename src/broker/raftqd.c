/*  raftqd — one raftq broker node: reads the arguments and the config,
    runs the server until SIGINT or SIGTERM, stops cleanly.

    Exit codes: 0 after a clean shutdown, 1 when the node cannot run (port
    taken, storage unreadable or corrupt), 2 for bad arguments or a bad
    config, a config of another cluster than the data directory's included.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "storage/cluster_identity.h"
#include "storage/node_dir.h"
#include "util/diagnostic.h"
#include "util/io_threads.h"
#include "broker/server.h"

#define EXIT_USAGE 2

//  What the command line asked for.
typedef struct {
    const char *config_path; //  the config file
    bool by_index;           //  RRMQ form: node given by 0-based position
    unsigned long number;    //  node id, or position when by_index
} arguments_t;

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: raftqd --config FILE --id N\n"
                     "       raftqd CONFIG INDEX     (RRMQ form, INDEX 0-based)\n"
                     "Runs node N of the cluster described in FILE until SIGINT or SIGTERM.\n"
                     "Exit codes: 0 clean shutdown, 1 cannot run, 2 bad arguments or config.\n");
}

static int
s_bad_arguments (const char *format, const char *detail)
{
    fprintf (stderr, "raftqd: ");
    fprintf (stderr, format, detail);
    fprintf (stderr, " (try raftqd --help)\n");
    return -1;
}

static int
s_parse_number (const char *text, const char *what, unsigned long *number)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = text[0] >= '0' && text[0] <= '9' ? strtoul (text, &end, 10) : 0;
    if (!end || *end || errno || value > UINT32_MAX) {
        char detail[128];
        snprintf (detail, sizeof (detail), "%s '%.64s'", what, text);
        return s_bad_arguments ("bad %s", detail);
    }
    *number = value;
    return 0;
}

//  The value of --name VALUE or --name=VALUE at argv [*position], or NULL.
static const char *
s_option_value (int argc, char *argv[], int *position, const char *name)
{
    const char *argument = argv[*position];
    size_t length = strlen (name);
    if (strncmp (argument, name, length) != 0)
        return NULL;
    if (argument[length] == '=')
        return argument + length + 1;
    if (argument[length] == 0 && *position + 1 < argc)
        return argv[++*position];
    return NULL;
}

//  Returns 0, 1 for --help, -1 after printing the problem.
static int
s_parse_arguments (int argc, char *argv[], arguments_t *arguments)
{
    const char *id_text = NULL;
    const char *positional[2] = {NULL, NULL};
    int positional_count = 0;
    for (int position = 1; position < argc; position++) {
        const char *argument = argv[position];
        const char *value;
        if (streq (argument, "--help") || streq (argument, "-h"))
            return 1;
        else if (strncmp (argument, "--config", 8) == 0) {
            if (!(value = s_option_value (argc, argv, &position, "--config")))
                return s_bad_arguments ("%s needs a file", "--config");
            arguments->config_path = value;
        } else if (strncmp (argument, "--id", 4) == 0) {
            if (!(value = s_option_value (argc, argv, &position, "--id")))
                return s_bad_arguments ("%s needs a node id", "--id");
            id_text = value;
        } else if (argument[0] == '-' && argument[1] != 0)
            return s_bad_arguments ("unknown option %s", argument);
        else if (positional_count == 2)
            return s_bad_arguments ("unexpected argument '%s'", argument);
        else
            positional[positional_count++] = argument;
    }
    if (positional_count && (arguments->config_path || id_text))
        return s_bad_arguments ("%s", "give either --config FILE --id N or CONFIG INDEX");
    if (positional_count == 2) {
        arguments->config_path = positional[0];
        arguments->by_index = true;
        return s_parse_number (positional[1], "node index", &arguments->number);
    }
    if (positional_count == 1)
        return s_bad_arguments ("%s", "missing node index after CONFIG");
    if (!arguments->config_path)
        return s_bad_arguments ("%s", "missing --config FILE");
    if (!id_text)
        return s_bad_arguments ("%s", "missing --id N");
    return s_parse_number (id_text, "node id", &arguments->number);
}

//  The node id the arguments designate, or 0 after printing the problem.
static uint32_t
s_node_id (const config_t *config, const arguments_t *arguments)
{
    if (arguments->by_index) {
        if (arguments->number < config->node_count)
            return config->nodes[arguments->number].id;
        fprintf (stderr, "raftqd: node index %lu is out of range: %s lists %zu nodes (0..%zu)\n",
                 arguments->number, config->path, config->node_count, config->node_count - 1);
        return 0;
    }
    if (arguments->number && config_node (config, (uint32_t)arguments->number))
        return (uint32_t)arguments->number;
    fprintf (stderr, "raftqd: node id %lu is not in %s\n", arguments->number, config->path);
    return 0;
}

//  Binds the node directory to the config's cluster before anything reads
//  it. Returns 0, or the exit code after logging the one-line reason.
static int
s_bind_identity (const config_t *config, uint32_t node_id)
{
    char node_dir[PATH_MAX];
    char error[1024] = "";
    int rc = -1;
    uint64_t identity_id = config_node_identity (config, config_node (config, node_id));
    if (node_dir_path (node_dir, sizeof node_dir, config->data_dir, node_id))
        snprintf (error, sizeof error, "data directory %s/node-%u: path too long", config->data_dir,
                  node_id);
    else
        rc = cluster_identity_bind (node_dir, config->cluster, identity_id, error, sizeof error);
    if (rc == CLUSTER_IDENTITY_MATCHED)
        return 0;
    if (rc == CLUSTER_IDENTITY_WRITTEN) {
        char identity[CLUSTER_IDENTITY_TEXT_SIZE];
        cluster_identity_format (identity, config->cluster, identity_id);
        diagnostic_line (node_id, DIAGNOSTIC_INFO,
                         "data directory %s bound to cluster %s as node %u (identity %s)", node_dir,
                         config->cluster, node_id, identity);
        return 0;
    }
    diagnostic_line (node_id, DIAGNOSTIC_ERROR, "%s", error);
    return rc == CLUSTER_IDENTITY_MISMATCH ? EXIT_USAGE : 1;
}

//  What the node writes is its own: files 0600, directories 0700, whatever
//  the shell's umask. No core dumps unless the config asks: they would
//  hold session tokens, the admin secret's digest and every message.
static void
s_harden (const config_t *config, uint32_t node_id)
{
    umask (077);
    if (config->core_dumps)
        return;
    struct rlimit none = {0, 0};
    if (setrlimit (RLIMIT_CORE, &none) || prctl (PR_SET_DUMPABLE, 0, 0, 0, 0))
        diagnostic_line (node_id, DIAGNOSTIC_WARNING, "cannot turn core dumps off: %s",
                         strerror (errno));
}

//  Descriptors beside the client and PUB connections: the log, snapshots,
//  peer links, ZeroMQ's own.
#define DESCRIPTOR_HEADROOM 256

//  The client and PUB ports may hold max_connections each: the soft
//  descriptor limit is raised to the hard one, so that the caps, which
//  refuse cleanly, run out before descriptors do. When even the hard
//  limit is short, say so (the node still runs: libzmq survives a failed
//  accept, and the log keeps a spare descriptor for its next segment).
static void
s_raise_descriptor_limit (const config_t *config, uint32_t node_id)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = {limit.rlim_max, limit.rlim_max};
        if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    uint64_t wanted = 2 * config->limits.max_connections + DESCRIPTOR_HEADROOM;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted)
        diagnostic_line (node_id, DIAGNOSTIC_WARNING,
                         "%" PRIu64 " file descriptors allowed, fewer than 2 x max_connections + "
                         "%d = %" PRIu64 ": raise the limit (ulimit -n) or lower max_connections",
                         (uint64_t)limit.rlim_cur, DESCRIPTOR_HEADROOM, wanted);
}

int
main (int argc, char *argv[])
{
    arguments_t arguments = {0};
    int parsed = s_parse_arguments (argc, argv, &arguments);
    if (parsed == 1) {
        s_usage (stdout);
        return 0;
    }
    if (parsed)
        return EXIT_USAGE;
    char error[512] = "";
    config_t *config = config_load (arguments.config_path, error, sizeof (error));
    if (!config) {
        fprintf (stderr, "%s\n", error);
        return EXIT_USAGE;
    }
    uint32_t node_id = s_node_id (config, &arguments);
    if (!node_id) {
        config_destroy (&config);
        return EXIT_USAGE;
    }
    s_harden (config, node_id);
    s_raise_descriptor_limit (config, node_id);
    //  Older builds sized log segments from the environment; say so rather
    //  than let a deployment believe it still does
    if (getenv ("RAFTQ_SEGMENT_BYTES"))
        diagnostic_line (node_id, DIAGNOSTIC_WARNING,
                         "RAFTQ_SEGMENT_BYTES is not read any more: set \"segment_bytes\" in %s",
                         arguments.config_path);
    int bound = s_bind_identity (config, node_id);
    if (bound) {
        config_destroy (&config);
        return bound;
    }
    uint8_t secret_key[CURVE_KEY_SIZE];
    bool keyed = config->peer_curve || config->client_security != CONFIG_CLIENT_PLAIN;
    if (keyed && config_keys_load_secret (config, config_node (config, node_id), secret_key, error,
                                          sizeof (error))) {
        fprintf (stderr, "%s\n", error);
        config_destroy (&config);
        return EXIT_USAGE;
    }
    //  Installs czmq's SIGINT/SIGTERM handlers: they end the broker's loop,
    //  which then stops the Raft actor and closes everything
    zsys_init ();
    //  Before the first socket: the fan-out's bulk never delays Raft's peers
    io_threads_setup ();
    server_t *server = server_new (config, node_id, keyed ? secret_key : NULL);
    sodium_memzero (secret_key, sizeof (secret_key));
    if (!server) {
        diagnostic_line (node_id, DIAGNOSTIC_ERROR, "cannot start; exiting");
        config_destroy (&config);
        return 1;
    }
    //  The peers' I/O thread exists once the server's sockets do
    int got = io_threads_raise (IO_LANE_PEERS, config->urgent_threads);
    if (got < (int)config->urgent_threads)
        diagnostic_line (node_id, DIAGNOSTIC_INFO,
                         "the peers' I/O thread runs at the %s priority, not %s (%s)",
                         thread_priority_name ((thread_priority_t)got),
                         thread_priority_name (config->urgent_threads), strerror (errno));
    int rc = server_run (server);
    server_destroy (&server);
    config_destroy (&config);
    diagnostic_line (node_id, DIAGNOSTIC_INFO, "stopped");
    return rc ? 1 : 0;
}
