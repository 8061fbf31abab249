/*  fuzz_snapshot_load — snapshot_load taking arbitrary bytes as a snapshot
    file, of the current format or the previous one, then the broker's
    restore (state_snapshot_restore) into a fresh state machine, which then
    works on.

    Input: [flags u8][file index u64 LE][file bytes]
    The bytes are the file <dir>/snapshot-<file index>.snap (index 0 names
    no snapshot: load must see an empty directory).
    flags: 1 FIX_HEADER  the header is rewritten for the bytes that follow
                         it, so that mutations get past the checksums to the
                         body and the state checks behind it: a file that
                         starts "RAFTQSN1" gets a previous-format header
                         (body length, crc32c of the 20-byte header's body),
                         any other the current one (magic, sizes, both
                         checksums; index, term and membership size kept,
                         the membership size cut to what the file holds);
           2 FALLBACK    when the file index is above 1, a valid snapshot of
                         index 1 (an empty state) is there too: load must
                         fall back on it whenever the fuzzed file fails;
           4 BELOW       load with max_index = file index - 1: the fuzzed
                         file must be passed over.
    Seeds: corpus/snapshot_load/ (snapshots of both formats of a state with
    topics, queued messages, accounts, sessions, chat messages, retained
    events and remembered clients; of an empty state; torn, corrupted and
    misnamed ones; made by make_seeds; hashed files merged from fuzzing runs,
    the older ones of the previous format, the newer of the current one).

    Invariants checked beyond "no crash, no leak, no UB":
    - load returns the fuzzed file, the fallback or nothing, as eligible;
      a file passed over for a fault, or a refusal, comes with a reason; an
      empty directory gives no reason; the file size is the file's;
    - restore refuses with a reason, or yields a state at the snapshot's
      index; a second restore into the restored fsm is refused;
    - an accepted state is stable: packed again (fsm_snapshot_pack),
      written in the current format, loaded and restored into another fsm,
      it has the same state hash, term and membership, and packs to the
      same bytes;
    - the fallback, written by state_snapshot_write, always loads;
    - the two fsms then answer the same commands (queue, chat, retries,
      Replay, built from names found in the state) with the same replies
      and events, and end with the same hash and packed state.
    Per-exec work: two directories on tmpfs; each input removes the files it
    wrote (a handful of unlinks, cheaper than listing the directory).
*/
#include "harness.h"
#include "broker/state_snapshot.h"
#include "state/fsm_snapshot.h"
#include "storage/snapshot.h"
#include "storage/snapshot_legacy.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLAG_FIX_HEADER    1
#define FLAG_FALLBACK      2
#define FLAG_BELOW         4
#define INPUT_HEADER_BYTES 9
//  Where the current header keeps index, term and the membership size
#define AT_INDEX           8
#define AT_TERM            16
#define AT_MEMBERSHIP_SIZE 36
#define FALLBACK_INDEX     1
#define PATH_SIZE          256
#define ERROR_SIZE         256
#define REPORT_SIZE        1024
//  The session token made by the commands (chat tokens: 32 hex digits).
#define FUZZ_TOKEN "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
//  A well-formed password hash: apply checks the form, never the password.
#define FUZZ_PASSWORD_HASH "$argon2id$v=19$m=8,t=1,p=1$ZnV6eg$ZnV6eg"
//  A client id that no seed uses: a new entry in the exactly-once table.
#define FUZZ_CLIENT_ID 0x5eedULL

//  The input, taken apart.
typedef struct {
    uint8_t flags;      //  FLAG_*
    uint64_t index;     //  the file's name
    uint8_t *file;      //  its bytes (heap copy: FIX_HEADER edits it)
    size_t file_size;   //  how many
    bool with_fallback; //  FALLBACK, and the file index leaves room below it
    uint64_t max_index; //  what load is asked for
} input_t;

//  Names found in a restored state, for commands that reach into it. The
//  strings are copies: the state's own change with every apply.
typedef struct {
    char *topic;        //  first topic, or a new name
    char *user;         //  first account, or a new name
    char *partner;      //  second account, or the first
    char *token;        //  the first account's oldest session, or a made-up one
    char *stream;       //  first event stream, or a made-up key
    uint64_t client_id; //  newest remembered client, 0 if none
    uint64_t seq;       //  its seq
} picks_t;

//  Two fsms that must stay the same.
typedef struct {
    fsm_t *first;  //  restored from the input
    fsm_t *second; //  restored from first, packed again
} twins_t;

//  Rewrites the previous format's header for the bytes after it.
static void
s_fix_legacy_header (uint8_t *file, size_t file_size)
{
    size_t body_size = file_size - SNAPSHOT_LEGACY_HEADER_BYTES;
    little_endian_put_u64 (file + 8, body_size);
    little_endian_put_u32 (file + 16,
                           crc32c_extend (0, file + SNAPSHOT_LEGACY_HEADER_BYTES, body_size));
}

//  Rewrites the current format's header for the bytes after it.
static void
s_fix_header (uint8_t *file, size_t file_size)
{
    size_t room = file_size - SNAPSHOT_HEADER_BYTES;
    snapshot_header_t header = {
        little_endian_get_u64 (file + AT_INDEX), little_endian_get_u64 (file + AT_TERM),
        file + SNAPSHOT_HEADER_BYTES, little_endian_get_u32 (file + AT_MEMBERSHIP_SIZE)};
    if (header.membership_size > room)
        header.membership_size = room;
    const uint8_t *body = file + SNAPSHOT_HEADER_BYTES + header.membership_size;
    size_t body_size = room - header.membership_size;
    snapshot_header_encode (file, &header, body_size, crc32c_extend (0, body, body_size));
}

static int
s_input (input_t *input, const uint8_t *data, size_t size)
{
    if (size < INPUT_HEADER_BYTES)
        return -1;
    input->flags = data[0];
    input->index = little_endian_get_u64 (data + 1);
    input->file_size = size - INPUT_HEADER_BYTES;
    input->file = malloc (input->file_size ? input->file_size : 1);
    if (!input->file)
        return -1;
    if (input->file_size)
        memcpy (input->file, data + INPUT_HEADER_BYTES, input->file_size);
    bool fix = input->flags & FLAG_FIX_HEADER;
    if (fix && snapshot_legacy_is (input->file, input->file_size) &&
        input->file_size >= SNAPSHOT_LEGACY_HEADER_BYTES)
        s_fix_legacy_header (input->file, input->file_size);
    else if (fix && input->file_size >= SNAPSHOT_HEADER_BYTES)
        s_fix_header (input->file, input->file_size);
    input->with_fallback = input->flags & FLAG_FALLBACK && input->index > FALLBACK_INDEX;
    input->max_index =
        input->flags & FLAG_BELOW && input->index > 0 ? input->index - 1 : UINT64_MAX;
    return 0;
}

//  Removes the snapshot file of index from dir, leaving it as it was.
static void
s_remove_file (const char *dir, uint64_t index)
{
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    HARNESS_CHECK (unlink (path) == 0 || errno == ENOENT, "remove %s: %s", path, strerror (errno));
}

//  Writes a valid snapshot of an empty state at FALLBACK_INDEX into dir.
static void
s_write_fallback (const char *dir)
{
    fsm_t *fsm = fsm_new (&(fsm_options_t){0});
    HARNESS_CHECK (fsm && fsm_skip (fsm, FALLBACK_INDEX) == 0, "cannot make the fallback state");
    char error[ERROR_SIZE] = "";
    HARNESS_CHECK (state_snapshot_write (dir, fsm, 1, NULL, 0, error, sizeof error) == 0,
                   "write the fallback: %s", error);
    fsm_destroy (&fsm);
}

//  Writes the file of snapshot index into dir as it is, valid or not.
static void
s_write_file (const char *dir, uint64_t index, const uint8_t *file, size_t size)
{
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    const char *name = strrchr (path, '/');
    HARNESS_CHECK (name != NULL, "snapshot_path gave '%s'", path);
    HARNESS_CHECK (harness_write_file (dir, name + 1, file, size) == 0, "write %s: %s", path,
                   strerror (errno));
}

//  Checks what load returned against what the directory held.
static void
s_check_loaded (snapshot_t *snapshot, const input_t *input, const char *report)
{
    bool input_eligible = input->index != 0 && input->index <= input->max_index;
    if (!snapshot) {
        HARNESS_CHECK (!input->with_fallback, "the valid fallback was not loaded: %s", report);
        HARNESS_CHECK ((report[0] != '\0') == input_eligible,
                       "load found nothing and said '%s' (file %" PRIu64 ", max %" PRIu64 ")",
                       report, input->index, input->max_index);
        return;
    }
    uint64_t index = snapshot_index (snapshot);
    if (index == FALLBACK_INDEX && input->with_fallback) {
        HARNESS_CHECK ((report[0] != '\0') == input_eligible,
                       "fell back with report '%s' (file %" PRIu64 ", max %" PRIu64 ")", report,
                       input->index, input->max_index);
        return;
    }
    HARNESS_CHECK (input_eligible && index == input->index,
                   "loaded index %" PRIu64 " from file %" PRIu64 " with max %" PRIu64, index,
                   input->index, input->max_index);
    HARNESS_CHECK (report[0] == '\0', "loaded the newest file, yet reported '%s'", report);
    HARNESS_CHECK (snapshot_file_size (snapshot) == input->file_size,
                   "file of %zu bytes loaded as %" PRIu64, input->file_size,
                   snapshot_file_size (snapshot));
}

static snapshot_t *
s_load_stable (const char *dir, uint64_t index)
{
    char report[REPORT_SIZE] = "";
    snapshot_t *snapshot = snapshot_load (dir, UINT64_MAX, report, sizeof report);
    HARNESS_CHECK (snapshot != NULL && report[0] == '\0',
                   "a packed restored state did not load: %s", report);
    HARNESS_CHECK (snapshot_index (snapshot) == index, "wrote %" PRIu64 ", loaded %" PRIu64, index,
                   snapshot_index (snapshot));
    return snapshot;
}

static uint8_t *
s_pack (fsm_t *fsm, size_t *size)
{
    char error[ERROR_SIZE] = "";
    uint8_t *body = fsm_snapshot_pack (fsm, size, error, sizeof error);
    HARNESS_CHECK (body != NULL, "pack a restored state: %s", error);
    return body;
}

//  Writes body as the snapshot file of snapshot's header in dir, in the
//  current format. Not snapshot_write: its temporary, renames and fsyncs
//  would double the I/O of every input for nothing about the state;
//  FALLBACK inputs use it.
static void
s_write_body (const char *dir, snapshot_t *snapshot, const uint8_t *body, size_t size)
{
    const snapshot_header_t *header = snapshot_header (snapshot);
    size_t file_size = SNAPSHOT_HEADER_BYTES + header->membership_size + size;
    uint8_t *file = malloc (file_size);
    HARNESS_CHECK (file != NULL, "out of memory");
    snapshot_header_encode (file, header, size, crc32c_extend (0, body, size));
    if (header->membership_size)
        memcpy (file + SNAPSHOT_HEADER_BYTES, header->membership, header->membership_size);
    if (size)
        memcpy (file + SNAPSHOT_HEADER_BYTES + header->membership_size, body, size);
    s_write_file (dir, header->index, file, file_size);
    free (file);
}

static void
s_check_same_bytes (const uint8_t *first, size_t first_size, const uint8_t *second,
                    size_t second_size, const char *what)
{
    HARNESS_CHECK (first_size == second_size &&
                       (first_size == 0 || memcmp (first, second, first_size) == 0),
                   "%s differ (%zu and %zu bytes)", what, first_size, second_size);
}

//  Restores snapshot into a fresh fsm; NULL when refused, with a reason.
static fsm_t *
s_restore (snapshot_t *snapshot)
{
    fsm_t *fsm = fsm_new (&(fsm_options_t){0});
    HARNESS_CHECK (fsm != NULL, "fsm_new failed");
    char error[ERROR_SIZE] = "";
    int rc = state_snapshot_restore (snapshot, fsm, error, sizeof error);
    HARNESS_CHECK (rc == 0 || error[0] != '\0', "restore refused without a reason");
    //  A refused fsm must be destroyed (fsm.h): only a restored one is
    //  tried again, and it is no longer fresh
    if (rc) {
        fsm_destroy (&fsm);
        return NULL;
    }
    char again[ERROR_SIZE] = "";
    HARNESS_CHECK (state_snapshot_restore (snapshot, fsm, again, sizeof again) == -1 &&
                       again[0] != '\0',
                   "a second restore into one fsm was not refused with a reason");
    HARNESS_CHECK (fsm_applied_index (fsm) == snapshot_index (snapshot),
                   "restored at %" PRIu64 " from snapshot %" PRIu64, fsm_applied_index (fsm),
                   snapshot_index (snapshot));
    return fsm;
}

//  Packs first again, writes it into other_dir, loads and restores it:
//  returns the second fsm, the same state.
static fsm_t *
s_restore_again (fsm_t *first, snapshot_t *snapshot, const char *other_dir)
{
    size_t size = 0;
    uint8_t *body = s_pack (first, &size);
    char error[ERROR_SIZE] = "";
    uint64_t index = snapshot_index (snapshot);
    s_write_body (other_dir, snapshot, body, size);
    snapshot_t *again = s_load_stable (other_dir, index);
    s_remove_file (other_dir, index);
    HARNESS_CHECK (snapshot_term (again) == snapshot_term (snapshot), "term changed");
    size_t membership_size = 0;
    size_t again_membership_size = 0;
    const uint8_t *membership = snapshot_membership (snapshot, &membership_size);
    const uint8_t *again_membership = snapshot_membership (again, &again_membership_size);
    s_check_same_bytes (membership, membership_size, again_membership, again_membership_size,
                        "memberships");
    fsm_t *second = fsm_new (&(fsm_options_t){0});
    HARNESS_CHECK (second && state_snapshot_restore (again, second, error, sizeof error) == 0,
                   "a packed restored state does not restore: %s", error);
    HARNESS_CHECK (fsm_state_hash (second) == fsm_state_hash (first),
                   "state hash changed through pack and restore");
    size_t second_size = 0;
    uint8_t *second_body = s_pack (second, &second_size);
    s_check_same_bytes (body, size, second_body, second_size, "packed states");
    free (second_body);
    free (body);
    snapshot_destroy (&again);
    return second;
}

//  --------------------------------------------------------------------------
//  The twins answer the same commands

static char *
s_copy (const char *text, const char *otherwise)
{
    char *copy = strdup (text && *text ? text : otherwise);
    HARNESS_CHECK (copy != NULL, "out of memory");
    return copy;
}

static picks_t
s_picks (fsm_t *fsm)
{
    Raftq__State__FsmState state;
    fsm_snapshot_save (fsm, &state);
    picks_t picks = {0};
    picks.topic = s_copy (state.n_topics ? state.topics[0]->name : NULL, "fuzz");
    Raftq__State__ChatState *chat = state.chat;
    Raftq__State__AccountState *account = chat && chat->n_accounts ? chat->accounts[0] : NULL;
    picks.user = s_copy (account ? account->name : NULL, "ann");
    picks.partner =
        s_copy (chat && chat->n_accounts > 1 ? chat->accounts[1]->name : NULL, picks.user);
    picks.token = s_copy (account && account->n_session_tokens ? account->session_tokens[0] : NULL,
                          "0123456789abcdef0123456789abcdef");
    Raftq__State__EventLogState *events = state.events;
    picks.stream =
        s_copy (events && events->n_streams ? events->streams[0]->key : NULL, "topic/fuzz");
    if (state.n_clients) {
        picks.client_id = state.clients[state.n_clients - 1]->client_id;
        picks.seq = state.clients[state.n_clients - 1]->seq;
    }
    fsm_snapshot_release (&state);
    return picks;
}

static void
s_picks_clear (picks_t *picks)
{
    free (picks->topic);
    free (picks->user);
    free (picks->partner);
    free (picks->token);
    free (picks->stream);
    memset (picks, 0, sizeof *picks);
}

static uint8_t *
s_pack_reply (const Raftq__Reply *reply, size_t *size)
{
    *size = reply ? raftq__reply__get_packed_size (reply) : 0;
    uint8_t *bytes = malloc (*size ? *size : 1);
    HARNESS_CHECK (bytes != NULL, "out of memory");
    if (reply)
        raftq__reply__pack (reply, bytes);
    return bytes;
}

static void
s_check_same_reply (const Raftq__Reply *first, const Raftq__Reply *second, const char *what)
{
    HARNESS_CHECK ((first == NULL) == (second == NULL), "%s: one twin has no reply", what);
    size_t first_size = 0;
    size_t second_size = 0;
    uint8_t *first_bytes = s_pack_reply (first, &first_size);
    uint8_t *second_bytes = s_pack_reply (second, &second_size);
    s_check_same_bytes (first_bytes, first_size, second_bytes, second_size, what);
    free (first_bytes);
    free (second_bytes);
}

static void
s_check_same_events (const fsm_output_t *first, const fsm_output_t *second)
{
    HARNESS_CHECK (first->event_count == second->event_count, "%zu events and %zu",
                   first->event_count, second->event_count);
    for (size_t at = 0; at < first->event_count; at++) {
        size_t first_size = raftq__event__get_packed_size (first->events[at]);
        size_t second_size = raftq__event__get_packed_size (second->events[at]);
        uint8_t *first_bytes = malloc (first_size ? first_size : 1);
        uint8_t *second_bytes = malloc (second_size ? second_size : 1);
        HARNESS_CHECK (first_bytes && second_bytes, "out of memory");
        raftq__event__pack (first->events[at], first_bytes);
        raftq__event__pack (second->events[at], second_bytes);
        s_check_same_bytes (first_bytes, first_size, second_bytes, second_size, "events");
        free (first_bytes);
        free (second_bytes);
    }
}

//  Applies command to both twins at their next index; same reply, same events.
static void
s_apply (twins_t *twins, Raftq__State__Command *command)
{
    command->timestamp_ms = 1;
    size_t size = raftq__state__command__get_packed_size (command);
    uint8_t *payload = malloc (size ? size : 1);
    HARNESS_CHECK (payload != NULL, "out of memory");
    raftq__state__command__pack (command, payload);
    fsm_output_t first;
    fsm_output_t second;
    int first_rc =
        fsm_apply (twins->first, fsm_applied_index (twins->first) + 1, payload, size, &first);
    int second_rc =
        fsm_apply (twins->second, fsm_applied_index (twins->second) + 1, payload, size, &second);
    HARNESS_CHECK (first_rc == 0 && second_rc == 0, "apply failed: %d %d", first_rc, second_rc);
    s_check_same_reply (first.reply, second.reply, "replies");
    s_check_same_events (&first, &second);
    fsm_output_clear (&first);
    fsm_output_clear (&second);
    free (payload);
}

static void
s_queue_commands (twins_t *twins, const picks_t *picks)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    //  A retry of the newest client's last request: its remembered reply.
    command.client_id = picks->client_id;
    command.seq = picks->seq;
    Raftq__Pop pop = RAFTQ__POP__INIT;
    pop.topic = picks->topic;
    command.op_case = RAFTQ__STATE__COMMAND__OP_POP;
    command.pop = &pop;
    s_apply (twins, &command);

    //  Its next request: the client moves to the end of the eviction order.
    command.seq = picks->seq + 1;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    publish.topic = picks->topic;
    publish.payload.data = (uint8_t *)"fuzz";
    publish.payload.len = 4;
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    s_apply (twins, &command);
    s_apply (twins, &command);

    command.client_id = FUZZ_CLIENT_ID;
    command.seq = 1;
    Raftq__CreateTopic create_topic = RAFTQ__CREATE_TOPIC__INIT;
    create_topic.name = (char *)"fuzz-topic";
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command.create_topic = &create_topic;
    s_apply (twins, &command);

    command.client_id = 0;
    command.seq = 0;
    Raftq__ListTopics list_topics = RAFTQ__LIST_TOPICS__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
    command.list_topics = &list_topics;
    s_apply (twins, &command);
    command.op_case = RAFTQ__STATE__COMMAND__OP_POP;
    command.pop = &pop;
    s_apply (twins, &command);
}

static void
s_chat_session_commands (twins_t *twins, const picks_t *picks, const char *token)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    command.token = (char *)token;
    Raftq__SendMessage send_message = RAFTQ__SEND_MESSAGE__INIT;
    send_message.to = picks->partner;
    send_message.text = (char *)"hi from the fuzzer";
    command.op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
    command.send_message = &send_message;
    s_apply (twins, &command);

    Raftq__ReadMessages read_messages = RAFTQ__READ_MESSAGES__INIT;
    read_messages.partner = picks->partner;
    read_messages.page = 1;
    read_messages.page_size = 10;
    command.op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
    command.read_messages = &read_messages;
    s_apply (twins, &command);
    read_messages.partner = (char *)"";
    s_apply (twins, &command);

    uint64_t ids[] = {1, 2, 3};
    Raftq__DeleteMessages delete_messages = RAFTQ__DELETE_MESSAGES__INIT;
    delete_messages.ids = ids;
    delete_messages.n_ids = sizeof ids / sizeof ids[0];
    command.op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
    command.delete_messages = &delete_messages;
    s_apply (twins, &command);
}

static void
s_chat_commands (twins_t *twins, const picks_t *picks)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__State__NewAccount new_account = RAFTQ__STATE__NEW_ACCOUNT__INIT;
    new_account.user = (char *)"fuzz-user";
    new_account.password_hash = (char *)FUZZ_PASSWORD_HASH;
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
    command.create_account = &new_account;
    s_apply (twins, &command);

    //  A second session of the first account, with the hash it has stored.
    const char *stored = fsm_password_hash (twins->first, picks->user);
    Raftq__State__NewSession new_session = RAFTQ__STATE__NEW_SESSION__INIT;
    new_session.user = picks->user;
    new_session.token = (char *)FUZZ_TOKEN;
    new_session.password_hash = (char *)(stored ? stored : FUZZ_PASSWORD_HASH);
    command.op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
    command.login = &new_session;
    s_apply (twins, &command);

    s_chat_session_commands (twins, picks, picks->token);

    Raftq__ListAccounts list_accounts = RAFTQ__LIST_ACCOUNTS__INIT;
    list_accounts.pattern = (char *)"*";
    list_accounts.page = 1;
    list_accounts.page_size = 10;
    command.op_case = RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
    command.list_accounts = &list_accounts;
    s_apply (twins, &command);

    Raftq__CheckUser check_user = RAFTQ__CHECK_USER__INIT;
    check_user.user = picks->partner;
    command.op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
    command.check_user = &check_user;
    s_apply (twins, &command);

    //  Out of the oldest session, then the account goes with its messages.
    command.token = picks->token;
    Raftq__Logout logout = RAFTQ__LOGOUT__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
    command.logout = &logout;
    s_apply (twins, &command);
    command.token = (char *)FUZZ_TOKEN;
    Raftq__DeleteAccount delete_account = RAFTQ__DELETE_ACCOUNT__INIT;
    command.op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
    command.delete_account = &delete_account;
    s_apply (twins, &command);
}

static void
s_replay_both (twins_t *twins, const char *stream, uint64_t from_seq)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)stream;
    replay.from_seq = from_seq;
    replay.limit = 100;
    Raftq__Reply *first = fsm_replay (twins->first, &replay);
    Raftq__Reply *second = fsm_replay (twins->second, &replay);
    s_check_same_reply (first, second, "Replay replies");
    raftq__reply__free_unpacked (first, NULL);
    raftq__reply__free_unpacked (second, NULL);
}

static void
s_reads (twins_t *twins, const picks_t *picks)
{
    s_replay_both (twins, picks->stream, 0);
    s_replay_both (twins, picks->stream, 1);
    Raftq__Reply *first = fsm_cached_reply (twins->first, picks->client_id, picks->seq);
    Raftq__Reply *second = fsm_cached_reply (twins->second, picks->client_id, picks->seq);
    s_check_same_reply (first, second, "cached replies");
    raftq__reply__free_unpacked (first, NULL);
    raftq__reply__free_unpacked (second, NULL);
}

static void
s_check_twins (twins_t *twins)
{
    picks_t picks = s_picks (twins->first);
    s_reads (twins, &picks);
    s_queue_commands (twins, &picks);
    s_chat_commands (twins, &picks);
    s_reads (twins, &picks);
    HARNESS_CHECK (fsm_state_hash (twins->first) == fsm_state_hash (twins->second),
                   "the twins' hashes differ after the same commands");
    size_t first_size = 0;
    size_t second_size = 0;
    uint8_t *first_body = s_pack (twins->first, &first_size);
    uint8_t *second_body = s_pack (twins->second, &second_size);
    s_check_same_bytes (first_body, first_size, second_body, second_size,
                        "the twins' packed states");
    free (first_body);
    free (second_body);
    s_picks_clear (&picks);
}

//  --------------------------------------------------------------------------

static void
s_run (const char *dir, const char *other_dir, const input_t *input)
{
    if (input->with_fallback)
        s_write_fallback (dir);
    s_write_file (dir, input->index, input->file, input->file_size);
    char report[REPORT_SIZE] = "x";
    snapshot_t *snapshot = snapshot_load (dir, input->max_index, report, sizeof report);
    s_check_loaded (snapshot, input, report);
    //  Load read what it needs: the directories are left empty for the next input.
    s_remove_file (dir, input->index);
    if (input->with_fallback)
        s_remove_file (dir, FALLBACK_INDEX);
    if (!snapshot)
        return;
    twins_t twins = {s_restore (snapshot), NULL};
    if (twins.first) {
        twins.second = s_restore_again (twins.first, snapshot, other_dir);
        s_check_twins (&twins);
    }
    fsm_destroy (&twins.first);
    fsm_destroy (&twins.second);
    snapshot_destroy (&snapshot);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *scratch = harness_scratch ();
    input_t input;
    if (!scratch || s_input (&input, data, size))
        return 0;
    char dir[PATH_SIZE];
    char other_dir[PATH_SIZE];
    snprintf (dir, sizeof dir, "%s/snap", scratch);
    snprintf (other_dir, sizeof other_dir, "%s/again", scratch);
    //  Created on the first input; each input removes the files it wrote.
    HARNESS_CHECK ((mkdir (dir, 0755) == 0 || errno == EEXIST) &&
                       (mkdir (other_dir, 0755) == 0 || errno == EEXIST),
                   "cannot make %s and %s: %s", dir, other_dir, strerror (errno));
    s_run (dir, other_dir, &input);
    free (input.file);
    return 0;
}
