/*  seeds_snapshots — seeds of fuzz_snapshot_load: snapshot files of a
    state machine that applied commands of every kind, and of an empty one,
    in the current format (written by state_snapshot_write) and in the
    previous one ("RAFTQSN1", a packed raftq.state.Snapshot, as nodes wrote
    them before), each whole and damaged in every way load checks. Part of
    make_seeds.
*/
#include "seeds.h"

#include "broker/state_snapshot.h"
#include "state/fsm.h"
#include "state/queues.h"
#include "storage/snapshot.h"
#include "storage/snapshot_legacy.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_FLAG_FIX_HEADER 1
#define SNAP_FLAG_FALLBACK   2
#define SNAP_FLAG_BELOW      4
//  fuzz_snapshot_load's input header: flags, then the file's index.
#define SNAP_INPUT_HEADER_BYTES 9
//  The Raft membership the seeds carry: opaque to the snapshot layer
#define MEMBERSHIP      "\x08\x01\x08\x02\x08\x03"
#define MEMBERSHIP_SIZE 6
#define TERM            3

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

//  Reserves the oldest message of topic for visibility_ms; its receipt
//  into receipt (receipt_size bytes).
static int
s_reserve (fsm_t *fsm, const char *topic, uint32_t visibility_ms, char *receipt,
           size_t receipt_size)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__Reserve reserve = RAFTQ__RESERVE__INIT;
    reserve.topic = (char *)topic;
    reserve.visibility_ms = visibility_ms;
    uint8_t nonce[QUEUES_RECEIPT_NONCE_SIZE];
    memset (nonce, (int)fsm_applied_index (fsm), sizeof nonce);
    command.receipt_nonce.data = nonce;
    command.receipt_nonce.len = sizeof nonce;
    command.op_case = RAFTQ__STATE__COMMAND__OP_RESERVE;
    command.reserve = &reserve;
    //  The receipt is the entry's index and the nonce in hex
    snprintf (receipt, receipt_size, "%016" PRIx64, fsm_applied_index (fsm) + 1);
    for (size_t at = 0; at < sizeof nonce; at++)
        snprintf (receipt + 16 + 2 * at, receipt_size - 16 - 2 * at, "%02x", nonce[at]);
    return s_apply (fsm, &command);
}

//  Topic "jobs" (dead letters to "empty" after 2 deliveries) with a
//  reserved message, a delayed one, and one dead-lettered.
static int
s_held_state (fsm_t *fsm)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__CreateTopic create_topic = RAFTQ__CREATE_TOPIC__INIT;
    create_topic.name = (char *)"jobs";
    create_topic.max_deliveries = 2;
    create_topic.dead_letter = (char *)"empty";
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command.create_topic = &create_topic;
    int rc = s_apply (fsm, &command);
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    publish.topic = (char *)"jobs";
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    const char *payloads[] = {"poison", "delayed", "held"};
    for (size_t at = 0; at < 3; at++) {
        publish.payload.data = (uint8_t *)payloads[at];
        publish.payload.len = strlen (payloads[at]);
        rc |= s_apply (fsm, &command);
    }
    char receipt[64];
    Raftq__State__Expire expire = RAFTQ__STATE__EXPIRE__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_EXPIRE;
    command.expire = &expire;
    //  poison: two deliveries expire (1 ms each), then it is a dead letter
    rc |= s_reserve (fsm, "jobs", 1, receipt, sizeof receipt);
    rc |= s_apply (fsm, &command);
    rc |= s_reserve (fsm, "jobs", 1, receipt, sizeof receipt);
    rc |= s_apply (fsm, &command);
    //  delayed: nacked for an hour
    rc |= s_reserve (fsm, "jobs", 60000, receipt, sizeof receipt);
    Raftq__Nack nack = RAFTQ__NACK__INIT;
    nack.receipt = receipt;
    nack.delay_ms = 3600000;
    command.op_case = RAFTQ__STATE__COMMAND__OP_NACK;
    command.nack = &nack;
    rc |= s_apply (fsm, &command);
    //  held: reserved for a minute
    rc |= s_reserve (fsm, "jobs", 60000, receipt, sizeof receipt);
    return rc;
}

//  Topics "orders" (two messages left of three) and "empty", each created
//  by a client with retry protection; and s_held_state.
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
    return rc | s_held_state (fsm);
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

//  The file state_snapshot_write makes of fsm's state, read back.
static uint8_t *
s_snapshot_file (const char *scratch, fsm_t *fsm, const char *label, size_t *size)
{
    char dir[SEEDS_PATH_SIZE];
    snprintf (dir, sizeof dir, "%s/snap-%s", scratch, label);
    char error[SEEDS_ERROR_SIZE] = "";
    uint64_t index = fsm_applied_index (fsm);
    if (state_snapshot_write (dir, fsm, TERM, (const uint8_t *)MEMBERSHIP, MEMBERSHIP_SIZE, error,
                              sizeof error)) {
        fprintf (stderr, "snapshot seed %s: %s\n", label, error);
        return NULL;
    }
    char path[SEEDS_PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    return seeds_read_file (path, size);
}

//  The file of the previous format a node wrote of fsm's state.
static uint8_t *
s_legacy_file (fsm_t *fsm, size_t *size)
{
    Raftq__State__FsmState state;
    fsm_snapshot_save (fsm, &state);
    Raftq__State__Snapshot snapshot = RAFTQ__STATE__SNAPSHOT__INIT;
    snapshot.index = fsm_applied_index (fsm);
    snapshot.term = TERM;
    snapshot.membership.data = (uint8_t *)MEMBERSHIP;
    snapshot.membership.len = MEMBERSHIP_SIZE;
    snapshot.state = &state;
    size_t body_size = raftq__state__snapshot__get_packed_size (&snapshot);
    *size = SNAPSHOT_LEGACY_HEADER_BYTES + body_size;
    uint8_t *file = malloc (*size);
    if (file) {
        uint8_t *body = file + SNAPSHOT_LEGACY_HEADER_BYTES;
        raftq__state__snapshot__pack (&snapshot, body);
        memcpy (file, SNAPSHOT_LEGACY_MAGIC, 8);
        little_endian_put_u64 (file + 8, body_size);
        little_endian_put_u32 (file + 16, crc32c_extend (0, body, body_size));
    }
    fsm_snapshot_release (&state);
    return file;
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
    seeds_add (seeds, "snapshot_load", label, input, SNAP_INPUT_HEADER_BYTES + size);
    free (input);
}

//  The seeds of one state's file (whose header is header_size bytes):
//  whole, then damaged in every way load checks.
static void
s_snapshot_variants (seeds_t *seeds, const char *label, uint64_t index, uint8_t *file, size_t size,
                     size_t header_size)
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
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK, index, file, header_size / 2);
    file[size - 2] ^= 0x20;
    snprintf (name, sizeof name, "%s-flipped", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FALLBACK, index, file, size);
    snprintf (name, sizeof name, "%s-flipped-fix", label);
    s_snapshot_seed (seeds, name, SNAP_FLAG_FIX_HEADER, index, file, size);
    file[size - 2] ^= 0x20;
}

//  The seeds of fsm's state in both formats, label prefixed "legacy-" for
//  the previous one; all variants, or (whole false) the whole file alone.
static void
s_both_formats (seeds_t *seeds, const char *scratch, fsm_t *fsm, const char *label, bool whole)
{
    char legacy_label[64];
    snprintf (legacy_label, sizeof legacy_label, "legacy-%s", label);
    uint64_t index = fsm_applied_index (fsm);
    size_t size = 0, legacy_size = 0;
    uint8_t *file = s_snapshot_file (scratch, fsm, label, &size);
    uint8_t *legacy = s_legacy_file (fsm, &legacy_size);
    if (!file || !legacy || size <= SNAPSHOT_HEADER_BYTES)
        seeds->rc = -1;
    else if (whole) {
        s_snapshot_seed (seeds, label, 0, index, file, size);
        s_snapshot_seed (seeds, legacy_label, 0, index, legacy, legacy_size);
    } else {
        s_snapshot_variants (seeds, label, index, file, size, SNAPSHOT_HEADER_BYTES);
        s_snapshot_variants (seeds, legacy_label, index, legacy, legacy_size,
                             SNAPSHOT_LEGACY_HEADER_BYTES);
    }
    free (file);
    free (legacy);
}

void
seeds_snapshots (seeds_t *seeds, const char *scratch)
{
    fsm_t *fsm = fsm_new (&(fsm_options_t){0});
    if (fsm && fsm_skip (fsm, 1) == 0 && fsm_skip (fsm, 2) == 0)
        s_both_formats (seeds, scratch, fsm, "empty", true);
    if (fsm && s_queue_state (fsm) == 0 && s_chat_state (fsm) == 0)
        s_both_formats (seeds, scratch, fsm, "state", false);
    else
        seeds->rc = -1;
    fsm_destroy (&fsm);
}
