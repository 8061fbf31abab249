/*  make_seeds — writes the seed inputs of every fuzz target into
    CORPUS/<target>/seed-*: `make fuzz-seeds` runs it (once; the seeds are
    committed, so a rerun only matters after a format change).

    Binary seeds are made by the real encoders and stores (protobuf-c,
    peer_codec, log_store, meta_store, fsm and snapshot), so they cannot
    drift from the format they exercise: seeds_messages.c, seeds_stores.c,
    seeds_snapshots.c. Text seeds (JSON requests, configs) are written out
    here.
    Usage: make_seeds CORPUS_DIRECTORY
*/
#include "harness.h"
#include "seeds.h"
#include "temp_dir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Room for the scratch directory's path: short, so paths below it fit in
//  SEEDS_PATH_SIZE.
#define SCRATCH_SIZE 128

void
seeds_add (seeds_t *seeds, const char *target, const char *label, const void *data, size_t size)
{
    char directory[SEEDS_PATH_SIZE];
    snprintf (directory, sizeof directory, "%s/%s", seeds->root, target);
    mkdir (directory, 0755);
    char name[SEEDS_PATH_SIZE];
    snprintf (name, sizeof name, "seed-%s", label);
    if (harness_write_file (directory, name, data, size)) {
        fprintf (stderr, "cannot write %s/%s: %s\n", directory, name, strerror (errno));
        seeds->rc = -1;
    }
}

void
seeds_add_text (seeds_t *seeds, const char *target, const char *label, const char *text)
{
    seeds_add (seeds, target, label, text, strlen (text));
}

//  Reads a whole file into a heap buffer. NULL on failure.
uint8_t *
seeds_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = NULL;
    if (fseek (file, 0, SEEK_END) == 0) {
        long length = ftell (file);
        data = length >= 0 ? malloc ((size_t)length + 1) : NULL;
        if (data) {
            rewind (file);
            *size = fread (data, 1, (size_t)length, file);
        }
    }
    fclose (file);
    return data;
}

//  --------------------------------------------------------------------------
//  JSON requests: every operation of DESIGN 5.2, then typical mistakes.

static void
s_json_seeds (seeds_t *seeds)
{
    const char *requests[][2] = {
        {"status", "{\"type\":\"status\",\"method\":\"GET\"}"},
        {"status-hash", "{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}"},
        {"status-detail", "{\"type\":\"status\",\"method\":\"GET\",\"detail\":true}"},
        {"snapshot-post", "{\"type\":\"snapshot\",\"method\":\"POST\"}"},
        {"user-get", "{\"type\":\"user\",\"method\":\"GET\",\"user\":\"bob\"}"},
        {"topic-put", "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"orders\"}"},
        {"topic-get", "{\"type\":\"topic\",\"method\":\"GET\"}"},
        {"message-put", "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"orders\",\"message\":"
                        "\"hi \\u00e9\"}"},
        {"message-get", "{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"orders\"}"},
        {"account-put",
         "{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"pw\"}"},
        {"account-get", "{\"type\":\"account\",\"method\":\"GET\",\"pattern\":\"a*\",\"page\":1,"
                        "\"page_size\":20}"},
        {"account-delete", "{\"type\":\"account\",\"method\":\"DELETE\",\"token\":\"t0k\"}"},
        {"login-put",
         "{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"pw\"}"},
        {"login-delete", "{\"type\":\"login\",\"method\":\"DELETE\",\"token\":\"t0k\"}"},
        {"chat-put",
         "{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t0k\",\"to\":\"bob\",\"text\":\"yo\"}"},
        {"chat-get",
         "{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t0k\",\"with\":\"bob\",\"page\":1,"
         "\"page_size\":20}"},
        {"chat-get-unread", "{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t0k\"}"},
        {"chat-delete",
         "{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t0k\",\"ids\":[1,2,3]}"},
        {"replay", "{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/orders\",\"from\":1,"
                   "\"limit\":100}"},
        {"node-put", "{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
                     "\"client_port\":5506,"
                     "\"peer_port\":5606,\"pub_port\":5706}"},
        {"node-delete", "{\"type\":\"node\",\"method\":\"DELETE\",\"id\":3}"},
        {"leader-put", "{\"type\":\"leader\",\"method\":\"PUT\",\"id\":2}"},
        {"retry-keys", "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"q\",\"message\":\"m\","
                       "\"client_id\":9007199254740993,\"seq\":7}"},
        {"nul-payload",
         "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"q\",\"message\":\"a\\u0000b\"}"},
        {"reserve", "{\"type\":\"message\",\"method\":\"RESERVE\",\"topic\":\"orders\","
                    "\"visibility_ms\":30000,\"wait_ms\":1000}"},
        {"ack", "{\"type\":\"message\",\"method\":\"ACK\",\"receipt\":\"00000000000000070123\"}"},
        {"nack", "{\"type\":\"message\",\"method\":\"NACK\",\"receipt\":\"r\",\"delay_ms\":500}"},
        {"topic-put-dead-letter", "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"jobs\","
                                  "\"max_deliveries\":5,\"dead_letter\":\"jobs.dead\"}"},
        {"message-get-wait",
         "{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"orders\",\"wait_ms\":2000}"},
        {"bad-type", "{\"type\":7,\"method\":\"GET\"}"},
        {"unknown-op", "{\"type\":\"topic\",\"method\":\"PATCH\",\"topic\":\"q\"}"},
        {"missing-key", "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"q\"}"},
        {"duplicate-key", "{\"type\":\"topic\",\"type\":\"topic\",\"method\":\"GET\"}"},
        {"negative-id", "{\"type\":\"node\",\"method\":\"DELETE\",\"id\":-1}"},
        {"real-port",
         "{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":5506.0,"
         "\"peer_port\":1}"},
        {"truncated", "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"or"},
        {"array", "{\"type\":[\"topic\"],\"method\":{\"GET\":null}}"},
    };
    for (size_t index = 0; index < sizeof requests / sizeof requests[0]; index++)
        seeds_add_text (seeds, "json_request", requests[index][0], requests[index][1]);
}

//  --------------------------------------------------------------------------
//  Configs: the default, the RRMQ form, every optional key, mistakes.

static void
s_config_seeds (seeds_t *seeds)
{
    const char *configs[][2] = {
        {"default",
         "{\n  \"cluster\": \"raftq-local\",\n  \"data_dir\": \"data\",\n  \"heartbeat_ms\": 50,\n"
         "  \"election_timeout_ms\": [300, 600],\n  \"request_timeout_ms\": 1000,\n"
         "  \"nodes\": [\n"
         "    {\"id\": 1, \"host\": \"127.0.0.1\", \"client_port\": 5501, \"peer_port\": 5601, "
         "\"pub_port\": 5701},\n"
         "    {\"id\": 2, \"host\": \"127.0.0.1\", \"client_port\": 5502, \"peer_port\": 5602, "
         "\"pub_port\": 5702},\n"
         "    {\"id\": 3, \"host\": \"127.0.0.1\", \"client_port\": 5503, \"peer_port\": 5603, "
         "\"pub_port\": 5703}\n  ]\n}\n"},
        {"joining",
         "{\"cluster\":\"c\",\"max_payload_bytes\":65536,\"event_retention\":100,"
         "\"snapshot_log_bytes\":4096,\"snapshot_trailing_entries\":0,\"nodes\":["
         "{\"id\":1,\"host\":\"localhost\",\"client_port\":6001,\"peer_port\":6002},"
         "{\"id\":9,\"host\":\"10.0.0.2\",\"client_port\":6001,\"peer_port\":6002,\"pub_port\":0,"
         "\"join\":true}]}"},
        {"rrmq",
         "{\"addresses\":[{\"ip\":\"http://127.0.0.1\",\"port\":9001,\"internal_port\":9101},"
         "{\"ip\":\"tcp://127.0.0.1\",\"port\":9002,\"internal_port\":9102,\"extra\":1},"
         "{\"ip\":\"127.0.0.1\",\"port\":9003,\"internal_port\":9103,\"pub_port\":9203}],"
         "\"heartbeat_ms\":20,\"election_timeout_ms\":[100,200]}"},
        {"unknown-key",
         "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"pubport\":3}]}"},
        {"duplicate-endpoint",
         "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
         "{\"id\":2,\"host\":\"localhost\",\"client_port\":2,\"peer_port\":3}]}"},
        {"duplicate-id",
         "{\"nodes\":[{\"id\":4,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
         "{\"id\":4,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}"},
        {"bad-timeouts",
         "{\"heartbeat_ms\":400,\"election_timeout_ms\":[300,300],\"nodes\":[{\"id\":1,"
         "\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}"},
        {"syntax-error", "{\n  \"nodes\": [\n    {\"id\": 1,,}\n  ]\n}\n"},
        {"both-forms", "{\"nodes\":[],\"addresses\":[]}"},
    };
    for (size_t index = 0; index < sizeof configs / sizeof configs[0]; index++)
        seeds_add_text (seeds, "config", configs[index][0], configs[index][1]);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s CORPUS_DIRECTORY\n", argv[0]);
        return 2;
    }
    seeds_t seeds = {argv[1], 0};
    mkdir (seeds.root, 0755);
    char scratch[SCRATCH_SIZE];
    if (temp_dir_make (scratch, sizeof scratch, "seeds")) {
        fprintf (stderr, "cannot make a scratch directory: %s\n", strerror (errno));
        return 1;
    }
    s_json_seeds (&seeds);
    s_config_seeds (&seeds);
    seeds_messages (&seeds);
    seeds_stores (&seeds, scratch);
    seeds_snapshots (&seeds, scratch);
    temp_dir_remove (scratch);
    if (seeds.rc)
        fprintf (stderr, "some seeds could not be made\n");
    return seeds.rc ? 1 : 0;
}
