/*  seeds_messages — seeds of fuzz_protobuf_request (a packed Request of
    every operation) and fuzz_peer_message (every Raft message through
    peer_codec). Part of make_seeds.
*/
#include "seeds.h"

#include "raftq.pb-c.h"
#include "replica/peer_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER "raftq-local"

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
    seeds_add (seeds, "protobuf_request", label, body, size);
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

    create_topic.max_deliveries = 5;
    create_topic.dead_letter = (char *)"orders.dead";
    request.op_case = RAFTQ__REQUEST__OP_CREATE_TOPIC;
    request.create_topic = &create_topic;
    s_pack_request (seeds, "create-topic-dead-letter", &request);

    pop.wait_ms = 2000;
    request.op_case = RAFTQ__REQUEST__OP_POP;
    request.pop = &pop;
    s_pack_request (seeds, "pop-wait", &request);

    Raftq__Reserve reserve = RAFTQ__RESERVE__INIT;
    reserve.topic = (char *)"orders";
    reserve.visibility_ms = 30000;
    reserve.wait_ms = 1000;
    request.op_case = RAFTQ__REQUEST__OP_RESERVE;
    request.reserve = &reserve;
    s_pack_request (seeds, "reserve", &request);

    Raftq__Ack ack = RAFTQ__ACK__INIT;
    ack.receipt = (char *)"000000000000002a00112233445566778899aabbccddeeff";
    request.op_case = RAFTQ__REQUEST__OP_ACK;
    request.ack = &ack;
    s_pack_request (seeds, "ack", &request);

    Raftq__Nack nack = RAFTQ__NACK__INIT;
    nack.receipt = ack.receipt;
    nack.delay_ms = 500;
    request.op_case = RAFTQ__REQUEST__OP_NACK;
    request.nack = &nack;
    s_pack_request (seeds, "nack", &request);

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
    seeds_add (seeds, "peer_message", label, zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
}

//  Elections: votes, pre-votes, their replies, TimeoutNow.
static void
s_peer_election_seeds (seeds_t *seeds)
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
}

//  Replication: AppendEntries, heartbeats, InstallSnapshot, their replies.
static void
s_peer_replication_seeds (seeds_t *seeds)
{
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

static void
s_peer_seeds (seeds_t *seeds)
{
    s_peer_election_seeds (seeds);
    s_peer_replication_seeds (seeds);
}

void
seeds_messages (seeds_t *seeds)
{
    s_protobuf_queue_seeds (seeds);
    s_protobuf_chat_seeds (seeds);
    s_protobuf_admin_seeds (seeds);
    s_peer_seeds (seeds);
}
