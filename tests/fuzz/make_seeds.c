/*  make_seeds — writes the seed inputs of every fuzz target into
    CORPUS/<target>/seed-*: `make fuzz-seeds` runs it (once; the seeds are
    committed, so a rerun only matters after a format change).

    Binary seeds are made by the real encoders and stores (protobuf-c,
    peer_codec, log_store, meta_store, fsm and snapshot), so they cannot
    drift from the format they exercise; text seeds (JSON requests, configs)
    are written out here.
    Usage: make_seeds CORPUS_DIRECTORY
*/
#include "harness.h"
#include "state/fsm.h"
#include "util/little_endian.h"
#include "storage/log_store.h"
#include "storage/meta_store.h"
#include "replica/peer_codec.h"
#include "raftq.pb-c.h"
#include "storage/snapshot.h"
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
#define SNAP_FLAG_FIX_HEADER  1
#define SNAP_FLAG_FALLBACK    2
#define SNAP_FLAG_BELOW       4
//  fuzz_snapshot_load's input header: flags, then the file's index.
#define SNAP_INPUT_HEADER_BYTES 9

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
    status.with_hash = false;
    status.detail = true;
    s_pack_request (seeds, "status-detail", &request);

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

    Raftq__TakeSnapshot take_snapshot = RAFTQ__TAKE_SNAPSHOT__INIT;
    request.op_case = RAFTQ__REQUEST__OP_TAKE_SNAPSHOT;
    request.take_snapshot = &take_snapshot;
    s_pack_request (seeds, "take-snapshot", &request);

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

    raft_message_t install = {0};
    install.type = RAFT_MESSAGE_INSTALL_SNAPSHOT;
    install.from = 1;
    install.to = 5;
    install.term = 5;
    install.snapshot_index = 30;
    install.snapshot_term = 3;
    install.offset = 65536;
    install.data = (const uint8_t *)"\x0a\x04"
                                    "snap chunk";
    install.data_size = 12;
    install.done = true;
    s_peer_seed (seeds, "install-snapshot", &install);
    raft_message_t install_reply = {0};
    install_reply.type = RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY;
    install_reply.from = 5;
    install_reply.to = 1;
    install_reply.term = 5;
    install_reply.snapshot_index = 30;
    install_reply.offset = 65548;
    install_reply.done = true;
    s_peer_seed (seeds, "install-snapshot-reply", &install_reply);

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

//  --------------------------------------------------------------------------
//  Snapshots, written by snapshot_write from a state machine that applied
//  commands of every kind.

//  Applies command at the fsm's next index; the output is not needed.
static int
s_apply (fsm_t *fsm, Raftq__State__Command *command)
{
    command->timestamp_ms = 1700000000000 + (int64_t)fsm_applied_index (fsm);
    size_t size = raftq__state__command__get_packed_size (command);
    uint8_t *payload = malloc (size ? size : 1);
    if (!payload)
        return -1;
    raftq__state__command__pack (command, payload);
    fsm_output_t output;
    int rc = fsm_apply (fsm, fsm_applied_index (fsm) + 1, payload, size, &output);
    fsm_output_clear (&output);
    free (payload);
    return rc;
}

//  Topics "orders" (two messages left of three) and "empty", each created
//  by a client with retry protection.
static int
s_queue_state (fsm_t *fsm)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    command.client_id = 0x1122334455667788ULL;
    command.seq = 1;
    Raftq__CreateTopic create_topic = RAFTQ__CREATE_TOPIC__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command.create_topic = &create_topic;
    create_topic.name = (char *)"orders";
    int rc = s_apply (fsm, &command);
    command.client_id = 0x99;
    create_topic.name = (char *)"empty";
    rc |= s_apply (fsm, &command);

    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    publish.topic = (char *)"orders";
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    const char *payloads[] = {"first", "", "third \xc3\xa9"};
    for (size_t at = 0; at < 3; at++) {
        publish.payload.data = (uint8_t *)payloads[at];
        publish.payload.len = strlen (payloads[at]);
        command.seq = 2 + at;
        rc |= s_apply (fsm, &command);
    }
    Raftq__Pop pop = RAFTQ__POP__INIT;
    pop.topic = (char *)"orders";
    command.op_case = RAFTQ__STATE__COMMAND__OP_POP;
    command.pop = &pop;
    command.client_id = 0;
    command.seq = 0;
    rc |= s_apply (fsm, &command);
    return rc;
}

//  Accounts ann and bob with a session each, two messages, one read.
static int
s_chat_state (fsm_t *fsm)
{
    const char *users[][2] = {{"ann", "0123456789abcdef0123456789abcdef"},
                              {"bob", "fedcba9876543210fedcba9876543210"}};
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    int rc = 0;
    for (size_t at = 0; at < 2; at++) {
        Raftq__State__NewAccount account = RAFTQ__STATE__NEW_ACCOUNT__INIT;
        account.user = (char *)users[at][0];
        account.password_hash = (char *)"$argon2id$v=19$m=8,t=1,p=1$c2VlZA$c2VlZA";
        command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
        command.create_account = &account;
        rc |= s_apply (fsm, &command);
        Raftq__State__NewSession session = RAFTQ__STATE__NEW_SESSION__INIT;
        session.user = account.user;
        session.token = (char *)users[at][1];
        session.password_hash = account.password_hash;
        command.op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
        command.login = &session;
        rc |= s_apply (fsm, &command);
    }
    Raftq__SendMessage send_message = RAFTQ__SEND_MESSAGE__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
    command.send_message = &send_message;
    command.token = (char *)users[0][1];
    send_message.to = (char *)"bob";
    send_message.text = (char *)"hello bob";
    rc |= s_apply (fsm, &command);
    command.token = (char *)users[1][1];
    send_message.to = (char *)"ann";
    send_message.text = (char *)"hi ann";
    rc |= s_apply (fsm, &command);

    Raftq__ReadMessages read_messages = RAFTQ__READ_MESSAGES__INIT;
    read_messages.partner = (char *)"";
    read_messages.page = 1;
    read_messages.page_size = 10;
    command.op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
    command.read_messages = &read_messages;
    command.client_id = 0xb0b;
    command.seq = 1;
    rc |= s_apply (fsm, &command);
    return rc;
}

//  The file snapshot_write makes of fsm's state, read back.
static uint8_t *
s_snapshot_file (const char *scratch, fsm_t *fsm, const char *label, size_t *size)
{
    char dir[PATH_SIZE];
    snprintf (dir, sizeof dir, "%s/snap-%s", scratch, label);
    char error[ERROR_SIZE] = "";
    const uint8_t membership[] = "\x08\x01\x08\x02\x08\x03";
    size_t body_size = 0;
    uint8_t *body =
        snapshot_pack (fsm, 3, membership, sizeof membership - 1, &body_size, error, sizeof error);
    uint64_t index = fsm_applied_index (fsm);
    if (!body || snapshot_write (dir, index, body, body_size, error, sizeof error)) {
        fprintf (stderr, "snapshot seed %s: %s\n", label, error);
        free (body);
        return NULL;
    }
    free (body);
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    return s_read_file (path, size);
}

static void
s_snapshot_seed (seeds_t *seeds, const char *label, uint8_t flags, uint64_t index,
                 const uint8_t *file, size_t size)
{
    uint8_t *input = malloc (SNAP_INPUT_HEADER_BYTES + size);
    if (!input) {
        seeds->rc = -1;
        return;
    }
    input[0] = flags;
    little_endian_put_u64 (input + 1, index);
    memcpy (input + SNAP_INPUT_HEADER_BYTES, file, size);
    s_seed (seeds, "snapshot_load", label, input, SNAP_INPUT_HEADER_BYTES + size);
    free (input);
}

//  The seeds of one state's file: whole, then damaged in every way load checks.
static void
s_snapshot_variants (seeds_t *seeds, const char *label, uint64_t index, uint8_t *file, size_t size)
{
    char name[64];
    s_snapshot_seed (seeds, label, 0, index, file, size);
    snprintf (name, sizeof name, "%s-fallback", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK | SNAP_FLAG_FIX_HEADER, index, file, size);
    snprintf (name, sizeof name, "%s-below", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_BELOW | SNAP_FLAG_FALLBACK, index, file, size);
    snprintf (name, sizeof name, "%s-misnamed", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK, index + 1, file, size);
    snprintf (name, sizeof name, "%s-torn", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FIX_HEADER, index, file, size - size / 3);
    snprintf (name, sizeof name, "%s-unnamed", label);
    s_snapshot_seed (seeds, name, 0, 0, file, size);
    //  Shorter than a header: refused before any body is looked at.
    snprintf (name, sizeof name, "%s-short", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK, index, file, SNAPSHOT_HEADER_BYTES / 2);
    file[size - 2] ^= 0x20;
    snprintf (name, sizeof name, "%s-flipped", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK, index, file, size);
    snprintf (name, sizeof name, "%s-flipped-fix", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FIX_HEADER, index, file, size);
    file[size - 2] ^= 0x20;
}

static void
s_snapshot_seeds (seeds_t *seeds, const char *scratch)
{
    fsm_t *fsm = fsm_new (&(fsm_options_t){0});
    size_t size = 0;
    uint8_t *file = NULL;
    if (fsm && fsm_skip (fsm, 1) == 0 && fsm_skip (fsm, 2) == 0)
        file = s_snapshot_file (scratch, fsm, "empty", &size);
    if (file)
        s_snapshot_seed (seeds, "empty", 0, 2, file, size);
    free (file);
    file = NULL;
    if (fsm && s_queue_state (fsm) == 0 && s_chat_state (fsm) == 0)
        file = s_snapshot_file (scratch, fsm, "state", &size);
    if (file && size > SNAPSHOT_HEADER_BYTES)
        s_snapshot_variants (seeds, "state", fsm_applied_index (fsm), file, size);
    else
        seeds->rc = -1;
    free (file);
    fsm_destroy (&fsm);
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
    s_snapshot_seeds (&seeds, scratch);
    temp_dir_remove (scratch);
    if (seeds.rc)
        fprintf (stderr, "some seeds could not be made\n");
    return seeds.rc ? 1 : 0;
}
