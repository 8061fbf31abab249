/*  make_seeds — writes the seed inputs of every fuzz target into
    CORPUS/<target>/seed-*: `make fuzz-seeds` runs it (once; the seeds are
    committed, so a rerun only matters after a format change).

    Binary seeds are made by the real encoders and stores (protobuf-c,
    peer_codec, log_store, meta_store), so they cannot drift from the format
    they exercise; text seeds (JSON requests, configs) are written out here.
    Usage: make_seeds CORPUS_DIRECTORY
*/
#include "harness.h"
#include "log_store.h"
#include "meta_store.h"
#include "peer_codec.h"
#include "raftq.pb-c.h"
#include "temp_dir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_SIZE  512
#define ERROR_SIZE 256
//  Room for the scratch directory's path: short, so paths below it fit in PATH_SIZE.
#define SCRATCH_SIZE 128
#define CLUSTER      "raftq-local"
//  Meta file layout (meta_store.c): slots at 0 and at 4096, 24 bytes each.
#define SLOT_BYTES  24
#define SLOT_STRIDE 4096
//  Flags of the file-based targets (see their header comments).
#define LOG_FLAG_SPLIT     1
#define LOG_FLAG_SMALL     2
#define LOG_FLAG_FIX_CRC   4
#define LOG_FLAG_TRUNCATE  8
#define LOG_FLAG_COMPACTED 16
#define LOG_FLAG_PREFIX    32
//  First index of a COMPACTED log in fuzz_log_recovery.
#define COMPACTED_FIRST_INDEX 1000
#define META_FLAG_FIX_CRC     1
#define META_FLAG_SPREAD      2

//  Where seeds go, and whether writing them went well.
typedef struct {
    const char *root; //  the corpus directory
    int rc;           //  0 until a write fails
} seeds_t;

static void
s_seed (seeds_t *seeds, const char *target, const char *label, const void *data, size_t size)
{
    char directory[PATH_SIZE];
    snprintf (directory, sizeof directory, "%s/%s", seeds->root, target);
    mkdir (directory, 0755);
    char name[PATH_SIZE];
    snprintf (name, sizeof name, "seed-%s", label);
    if (harness_write_file (directory, name, data, size)) {
        fprintf (stderr, "cannot write %s/%s: %s\n", directory, name, strerror (errno));
        seeds->rc = -1;
    }
}

static void
s_seed_text (seeds_t *seeds, const char *target, const char *label, const char *text)
{
    s_seed (seeds, target, label, text, strlen (text));
}

//  --------------------------------------------------------------------------
//  JSON requests: every operation of DESIGN 5.2, then typical mistakes.

static void
s_json_seeds (seeds_t *seeds)
{
    const char *requests[][2] = {
        {"status", "{\"type\":\"status\",\"method\":\"GET\"}"},
        {"status-hash", "{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}"},
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
        s_seed_text (seeds, "json_request", requests[index][0], requests[index][1]);
}

//  --------------------------------------------------------------------------
//  Protobuf requests: one packed Request of every operation.

static void
s_pack_request (seeds_t *seeds, const char *label, Raftq__Request *request)
{
    request->client_id = 0x1122334455667788ULL;
    request->seq = 3;
    size_t size = raftq__request__get_packed_size (request);
    uint8_t *body = malloc (size ? size : 1);
    if (!body) {
        seeds->rc = -1;
        return;
    }
    raftq__request__pack (request, body);
    s_seed (seeds, "protobuf_request", label, body, size);
    free (body);
}

static void
s_protobuf_queue_seeds (seeds_t *seeds)
{
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__CreateTopic create_topic = RAFTQ__CREATE_TOPIC__INIT;
    create_topic.name = (char *)"orders";
    request.op_case = RAFTQ__REQUEST__OP_CREATE_TOPIC;
    request.create_topic = &create_topic;
    s_pack_request (seeds, "create-topic", &request);

    Raftq__ListTopics list_topics = RAFTQ__LIST_TOPICS__INIT;
    request.op_case = RAFTQ__REQUEST__OP_LIST_TOPICS;
    request.list_topics = &list_topics;
    s_pack_request (seeds, "list-topics", &request);

    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    publish.topic = (char *)"orders";
    publish.payload.data = (uint8_t *)"\x00\xff payload \xc3\xa9";
    publish.payload.len = 13;
    request.op_case = RAFTQ__REQUEST__OP_PUBLISH;
    request.publish = &publish;
    s_pack_request (seeds, "publish", &request);

    Raftq__Pop pop = RAFTQ__POP__INIT;
    pop.topic = (char *)"orders";
    request.op_case = RAFTQ__REQUEST__OP_POP;
    request.pop = &pop;
    s_pack_request (seeds, "pop", &request);

    Raftq__Status status = RAFTQ__STATUS__INIT;
    status.with_hash = true;
    request.op_case = RAFTQ__REQUEST__OP_STATUS;
    request.status = &status;
    s_pack_request (seeds, "status", &request);

    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)"conv/ann/bob";
    replay.from_seq = 5;
    replay.limit = 50;
    request.op_case = RAFTQ__REQUEST__OP_REPLAY;
    request.replay = &replay;
    s_pack_request (seeds, "replay", &request);
}

static void
s_protobuf_chat_seeds (seeds_t *seeds)
{
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    request.token = (char *)"session-token";
    Raftq__CreateAccount create_account = RAFTQ__CREATE_ACCOUNT__INIT;
    create_account.user = (char *)"ann";
    create_account.password = (char *)"secret";
    request.op_case = RAFTQ__REQUEST__OP_CREATE_ACCOUNT;
    request.create_account = &create_account;
    s_pack_request (seeds, "create-account", &request);

    Raftq__CheckUser check_user = RAFTQ__CHECK_USER__INIT;
    check_user.user = (char *)"bob";
    request.op_case = RAFTQ__REQUEST__OP_CHECK_USER;
    request.check_user = &check_user;
    s_pack_request (seeds, "check-user", &request);

    Raftq__Login login = RAFTQ__LOGIN__INIT;
    login.user = (char *)"ann";
    login.password = (char *)"secret";
    request.op_case = RAFTQ__REQUEST__OP_LOGIN;
    request.login = &login;
    s_pack_request (seeds, "login", &request);

    Raftq__Logout logout = RAFTQ__LOGOUT__INIT;
    request.op_case = RAFTQ__REQUEST__OP_LOGOUT;
    request.logout = &logout;
    s_pack_request (seeds, "logout", &request);

    Raftq__ListAccounts list_accounts = RAFTQ__LIST_ACCOUNTS__INIT;
    list_accounts.pattern = (char *)"a*[bc]?";
    list_accounts.page = 2;
    list_accounts.page_size = 10;
    request.op_case = RAFTQ__REQUEST__OP_LIST_ACCOUNTS;
    request.list_accounts = &list_accounts;
    s_pack_request (seeds, "list-accounts", &request);

    Raftq__SendMessage send_message = RAFTQ__SEND_MESSAGE__INIT;
    send_message.to = (char *)"bob";
    send_message.text = (char *)"hello bob";
    request.op_case = RAFTQ__REQUEST__OP_SEND_MESSAGE;
    request.send_message = &send_message;
    s_pack_request (seeds, "send-message", &request);

    Raftq__ReadMessages read_messages = RAFTQ__READ_MESSAGES__INIT;
    read_messages.partner = (char *)"bob";
    read_messages.page = 1;
    read_messages.page_size = 20;
    request.op_case = RAFTQ__REQUEST__OP_READ_MESSAGES;
    request.read_messages = &read_messages;
    s_pack_request (seeds, "read-messages", &request);

    uint64_t ids[] = {1, 2, 300000};
    Raftq__DeleteMessages delete_messages = RAFTQ__DELETE_MESSAGES__INIT;
    delete_messages.ids = ids;
    delete_messages.n_ids = 3;
    request.op_case = RAFTQ__REQUEST__OP_DELETE_MESSAGES;
    request.delete_messages = &delete_messages;
    s_pack_request (seeds, "delete-messages", &request);

    Raftq__DeleteAccount delete_account = RAFTQ__DELETE_ACCOUNT__INIT;
    request.op_case = RAFTQ__REQUEST__OP_DELETE_ACCOUNT;
    request.delete_account = &delete_account;
    s_pack_request (seeds, "delete-account", &request);
}

static void
s_protobuf_admin_seeds (seeds_t *seeds)
{
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__AddNode add_node = RAFTQ__ADD_NODE__INIT;
    add_node.id = 6;
    add_node.host = (char *)"127.0.0.1";
    add_node.client_port = 5506;
    add_node.peer_port = 5606;
    add_node.pub_port = 5706;
    request.op_case = RAFTQ__REQUEST__OP_ADD_NODE;
    request.add_node = &add_node;
    s_pack_request (seeds, "add-node", &request);

    Raftq__RemoveNode remove_node = RAFTQ__REMOVE_NODE__INIT;
    remove_node.id = 3;
    request.op_case = RAFTQ__REQUEST__OP_REMOVE_NODE;
    request.remove_node = &remove_node;
    s_pack_request (seeds, "remove-node", &request);

    Raftq__TransferLeadership transfer = RAFTQ__TRANSFER_LEADERSHIP__INIT;
    transfer.id = 2;
    request.op_case = RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP;
    request.transfer_leadership = &transfer;
    s_pack_request (seeds, "transfer-leadership", &request);

    //  A request without an operation, as a newer client's op looks to us.
    Raftq__Request empty = RAFTQ__REQUEST__INIT;
    s_pack_request (seeds, "no-operation", &empty);
}

//  --------------------------------------------------------------------------
//  Peer messages: every kind, AppendEntries with entries of every type.

static void
s_peer_seed (seeds_t *seeds, const char *label, const raft_message_t *message)
{
    zframe_t *frame = peer_codec_encode (message, CLUSTER);
    if (!frame) {
        seeds->rc = -1;
        return;
    }
    s_seed (seeds, "peer_message", label, zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
}

static void
s_peer_seeds (seeds_t *seeds)
{
    raft_message_t vote = {0};
    vote.type = RAFT_MESSAGE_REQUEST_VOTE;
    vote.from = 1;
    vote.to = 2;
    vote.term = 5;
    vote.last_log_index = 40;
    vote.last_log_term = 4;
    s_peer_seed (seeds, "request-vote", &vote);

    vote.transfer = true;
    s_peer_seed (seeds, "request-vote-transfer", &vote);
    vote.transfer = false;
    vote.type = RAFT_MESSAGE_PRE_VOTE;
    vote.term = 6;
    s_peer_seed (seeds, "pre-vote", &vote);

    raft_message_t timeout_now = {0};
    timeout_now.type = RAFT_MESSAGE_TIMEOUT_NOW;
    timeout_now.from = 1;
    timeout_now.to = 4;
    timeout_now.term = 5;
    s_peer_seed (seeds, "timeout-now", &timeout_now);

    raft_message_t vote_reply = {0};
    vote_reply.type = RAFT_MESSAGE_REQUEST_VOTE_REPLY;
    vote_reply.from = 2;
    vote_reply.to = 1;
    vote_reply.term = 5;
    vote_reply.granted = true;
    s_peer_seed (seeds, "request-vote-reply", &vote_reply);
    vote_reply.type = RAFT_MESSAGE_PRE_VOTE_REPLY;
    vote_reply.granted = false;
    vote_reply.term = 9;
    s_peer_seed (seeds, "pre-vote-reply", &vote_reply);

    raft_entry_t entries[3] = {
        {5, 41, RAFT_ENTRY_COMMAND,
         (uint8_t *)"\x0a\x03"
                    "abc",
         5},
        {5, 42, RAFT_ENTRY_NOOP, NULL, 0},
        {5, 43, RAFT_ENTRY_CONFIG, (uint8_t *)"\x01\x02\x03", 3},
    };
    raft_message_t append = {0};
    append.type = RAFT_MESSAGE_APPEND_ENTRIES;
    append.from = 1;
    append.to = 3;
    append.term = 5;
    append.prev_log_index = 40;
    append.prev_log_term = 4;
    append.leader_commit = 39;
    append.entries = entries;
    append.entry_count = 3;
    s_peer_seed (seeds, "append-entries", &append);
    append.entries = NULL;
    append.entry_count = 0;
    s_peer_seed (seeds, "heartbeat", &append);

    raft_message_t append_reply = {0};
    append_reply.type = RAFT_MESSAGE_APPEND_ENTRIES_REPLY;
    append_reply.from = 3;
    append_reply.to = 1;
    append_reply.term = 5;
    append_reply.success = true;
    append_reply.match_index = 43;
    s_peer_seed (seeds, "append-entries-reply", &append_reply);
    append_reply.success = false;
    append_reply.match_index = 0;
    append_reply.reject_index = 40;
    append_reply.conflict_index = 30;
    append_reply.conflict_term = 3;
    s_peer_seed (seeds, "append-entries-reject", &append_reply);
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
         "{\"cluster\":\"c\",\"max_payload_bytes\":65536,\"event_retention\":100,\"nodes\":["
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
        s_seed_text (seeds, "config", configs[index][0], configs[index][1]);
}

//  --------------------------------------------------------------------------
//  Log segments and meta files, written by the stores themselves.

//  Reads a whole file into a heap buffer. NULL on failure.
static uint8_t *
s_read_file (const char *path, size_t *size)
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

//  Seeds one log_recovery input: header, then bytes.
static void
s_log_seed (seeds_t *seeds, const char *label, uint8_t flags, uint16_t split, uint8_t delta,
            const uint8_t *bytes, size_t size)
{
    uint8_t *input = malloc (5 + size);
    if (!input) {
        seeds->rc = -1;
        return;
    }
    input[0] = flags;
    input[1] = (uint8_t)split;
    input[2] = (uint8_t)(split >> 8);
    input[3] = delta;
    input[4] = 1;
    memcpy (input + 5, bytes, size);
    s_seed (seeds, "log_recovery", label, input, 5 + size);
    free (input);
}

//  The segment a fresh log store writes for four entries from first_index.
static uint8_t *
s_log_segment (const char *scratch, uint64_t first_index, size_t *size)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/log-%" PRIu64, scratch, first_index);
    char error[ERROR_SIZE];
    unsetenv ("RAFTQ_SEGMENT_BYTES");
    log_store_t *store = log_store_open (path, error, sizeof error);
    if (!store) {
        fprintf (stderr, "%s\n", error);
        return NULL;
    }
    raft_entry_t entries[4] = {
        {1, first_index, RAFT_ENTRY_NOOP, NULL, 0},
        {1, first_index + 1, RAFT_ENTRY_COMMAND, (uint8_t *)"\x0a\x06orders", 8},
        {2, first_index + 2, RAFT_ENTRY_COMMAND, (uint8_t *)"publish me", 10},
        {2, first_index + 3, RAFT_ENTRY_CONFIG, (uint8_t *)"\x01\x02", 2},
    };
    int rc = log_store_append (store, entries, 4) || log_store_sync (store);
    log_store_destroy (&store);
    snprintf (path, sizeof path, "%s/log-%" PRIu64 "/%020" PRIu64 ".seg", scratch, first_index,
              first_index);
    return rc ? NULL : s_read_file (path, size);
}

static void
s_log_seeds (seeds_t *seeds, const char *scratch)
{
    size_t size = 0;
    uint8_t *bytes = s_log_segment (scratch, 1, &size);
    if (!bytes) {
        seeds->rc = -1;
        return;
    }
    //  Record sizes: 25 + payload; records 1 and 2 end at 25 and 58.
    s_log_seed (seeds, "whole", 0, 0, 0, bytes, size);
    s_log_seed (seeds, "whole-truncate", LOG_FLAG_TRUNCATE | LOG_FLAG_SMALL, 0, 0, bytes, size);
    s_log_seed (seeds, "split-compact", LOG_FLAG_SPLIT | LOG_FLAG_PREFIX | LOG_FLAG_SMALL, 58, 1,
                bytes, size);
    s_log_seed (seeds, "split-chained", LOG_FLAG_SPLIT, 58, 1, bytes, size);
    s_log_seed (seeds, "split-gap", LOG_FLAG_SPLIT | LOG_FLAG_TRUNCATE, 58, 7, bytes, size);
    s_log_seed (seeds, "torn-tail", 0, 0, 0, bytes, size - 3);
    s_log_seed (seeds, "torn-fix-crc", LOG_FLAG_FIX_CRC, 0, 0, bytes, size - 3);
    bytes[40] ^= 0x40;
    s_log_seed (seeds, "flipped", LOG_FLAG_SMALL, 0, 0, bytes, size);
    s_log_seed (seeds, "flipped-fix-crc", LOG_FLAG_FIX_CRC | LOG_FLAG_SPLIT, 25, 0, bytes, size);
    s_log_seed (seeds, "empty", 0, 0, 0, bytes, 0);
    free (bytes);

    bytes = s_log_segment (scratch, COMPACTED_FIRST_INDEX, &size);
    if (!bytes) {
        seeds->rc = -1;
        return;
    }
    s_log_seed (seeds, "compacted", LOG_FLAG_COMPACTED | LOG_FLAG_TRUNCATE | LOG_FLAG_PREFIX, 0, 0,
                bytes, size);
    s_log_seed (seeds, "compacted-split", LOG_FLAG_COMPACTED | LOG_FLAG_SPLIT | LOG_FLAG_SMALL, 58,
                1, bytes, size);
    free (bytes);
}

static void
s_meta_seed (seeds_t *seeds, const char *label, uint8_t flags, const uint8_t *file, size_t size)
{
    uint8_t *input = malloc (1 + size);
    if (!input) {
        seeds->rc = -1;
        return;
    }
    input[0] = flags;
    memcpy (input + 1, file, size);
    s_seed (seeds, "meta_recovery", label, input, 1 + size);
    free (input);
}

//  The meta file after saves saves, read back.
static uint8_t *
s_meta_file (const char *scratch, int saves, size_t *size)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/node-%d", scratch, saves);
    char error[ERROR_SIZE];
    meta_store_t *store = meta_store_open (path, error, sizeof error);
    if (!store)
        return NULL;
    int rc = 0;
    for (int save = 1; save <= saves && rc == 0; save++)
        rc = meta_store_save (store, (uint64_t)save * 3, (uint32_t)save);
    meta_store_destroy (&store);
    snprintf (path, sizeof path, "%s/node-%d/meta", scratch, saves);
    return rc ? NULL : s_read_file (path, size);
}

static void
s_meta_seeds (seeds_t *seeds, const char *scratch)
{
    for (int saves = 0; saves <= 2; saves++) {
        size_t size = 0;
        uint8_t *file = s_meta_file (scratch, saves, &size);
        if (!file) {
            seeds->rc = -1;
            return;
        }
        char label[32];
        snprintf (label, sizeof label, "saved-%d", saves);
        s_meta_seed (seeds, label, 0, file, size);
        if (size >= SLOT_STRIDE + SLOT_BYTES) {
            //  The compact form: both slots, without the padding between them.
            uint8_t compact[2 * SLOT_BYTES];
            memcpy (compact, file, SLOT_BYTES);
            memcpy (compact + SLOT_BYTES, file + SLOT_STRIDE, SLOT_BYTES);
            snprintf (label, sizeof label, "saved-%d-spread", saves);
            s_meta_seed (seeds, label, META_FLAG_SPREAD | META_FLAG_FIX_CRC, compact,
                         sizeof compact);
            snprintf (label, sizeof label, "saved-%d-torn", saves);
            s_meta_seed (seeds, label, 0, file, SLOT_STRIDE + SLOT_BYTES / 2);
            file[SLOT_STRIDE + 9] ^= 1;
            snprintf (label, sizeof label, "saved-%d-flipped", saves);
            s_meta_seed (seeds, label, 0, file, size);
        }
        free (file);
    }
    s_meta_seed (seeds, "empty", 0, (const uint8_t *)"", 0);
    s_meta_seed (seeds, "garbage", 0, (const uint8_t *)"not a meta file at all.", 24);
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
    s_protobuf_queue_seeds (&seeds);
    s_protobuf_chat_seeds (&seeds);
    s_protobuf_admin_seeds (&seeds);
    s_peer_seeds (&seeds);
    s_config_seeds (&seeds);
    s_log_seeds (&seeds, scratch);
    s_meta_seeds (&seeds, scratch);
    temp_dir_remove (scratch);
    if (seeds.rc)
        fprintf (stderr, "some seeds could not be made\n");
    return seeds.rc ? 1 : 0;
}
