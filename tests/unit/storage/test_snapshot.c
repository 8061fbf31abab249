/*  test_snapshot — snapshots on a real directory: a rich random state
    (queues, chat, retained events, the exactly-once table) packed, written,
    loaded and restored hashes the same and then gives the same replies,
    events and Replays as the original for the same random entries; a
    corrupt, torn or misnamed newest file falls back to an older one, none
    valid gives none; temporaries are ignored and cleaned; only the newest
    two are kept; the writer actor writes and receives and reports; a file
    read in chunks and received (with resends) is byte-identical; a
    snapshot job (forked child) writes the state as of its start, the same
    bytes snapshot_write would, while the parent goes on applying, and
    reports a failure's reason, a child killed by a signal and a job
    destroyed while running, leaving no child and no temporary behind; a
    restart from a snapshot and a compacted log rebuilds the same state, and
    with no valid snapshot for a compacted log it is refused; and the time
    to pack, write, load and restore 1M queued 256-byte messages is printed
    (and how long starting a job holds the caller). Random runs print
    their seed (RAFTQ_TEST_SEED replays one). Under valgrind add
    --child-silent-after-fork=yes: a job's child leaves with _exit and never
    frees its copy of the parent's memory, which valgrind would call lost.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "state/fsm.h"
#include "storage/log_store.h"
#include "storage/snapshot.h"
#include "temp_dir.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512
//  Membership bytes as the Raft layer might encode them: opaque here
#define MEMBERSHIP "voters:1,2,3"
//  How long a test waits for the writer before failing
#define WRITER_DEADLINE_MS 60000

typedef struct {
    char root[64];   //  fresh temporary directory
    char dir[128];   //  the snapshot directory inside it
    char other[128]; //  a second one, for receiving
    uint64_t seed;   //  seed of the test's random histories
} fixture_t;

static uint64_t
s_test_seed (void)
{
    const char *text = getenv ("RAFTQ_TEST_SEED");
    if (text)
        return strtoull (text, NULL, 0);
    return (uint64_t)time (NULL) * 1000003ULL ^ (uint64_t)getpid ();
}

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    if (!fixture || temp_dir_make (fixture->root, sizeof fixture->root, "test-snapshot")) {
        free (fixture);
        return -1;
    }
    snprintf (fixture->dir, sizeof fixture->dir, "%s/snap", fixture->root);
    snprintf (fixture->other, sizeof fixture->other, "%s/other", fixture->root);
    //  Printed before the test runs, so that a failing assertion has it
    fixture->seed = s_test_seed ();
    printf ("  seed %" PRIu64 " (RAFTQ_TEST_SEED replays it)\n", fixture->seed);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    unsetenv ("RAFTQ_SEGMENT_BYTES");
    int rc = temp_dir_remove (fixture->root);
    free (fixture);
    return rc;
}

//  --------------------------------------------------------------------------
//  Random histories over every operation

static uint64_t
s_random (uint64_t *seed)
{
    //  xorshift64*: a fixed generator, so a printed seed replays the run
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 0x2545F4914F6CDD1DULL;
}

//  A command with storage for every operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__CreateTopic create_topic;
    Raftq__ListTopics list_topics;
    Raftq__Publish publish;
    Raftq__Pop pop;
    Raftq__State__NewAccount create_account;
    Raftq__CheckUser check_user;
    Raftq__State__NewSession login;
    Raftq__Logout logout;
    Raftq__ListAccounts list_accounts;
    Raftq__SendMessage send_message;
    Raftq__ReadMessages read_messages;
    Raftq__DeleteMessages delete_messages;
    Raftq__DeleteAccount delete_account;
    char hash[96];       //  a well-formed (fake) password hash
    char token[40];      //  a well-formed session token
    char text[64];       //  message text
    uint8_t payload[48]; //  publish payload
    uint64_t ids[4];     //  ids to delete
} holder_t;

//  One log entry: a packed command, or NULL data for a no-op entry.
typedef struct {
    uint8_t *data;
    size_t size;
} entry_t;

static void
s_holder_init (holder_t *holder)
{
    memset (holder, 0, sizeof *holder);
    raftq__state__command__init (&holder->command);
    raftq__create_topic__init (&holder->create_topic);
    raftq__list_topics__init (&holder->list_topics);
    raftq__publish__init (&holder->publish);
    raftq__pop__init (&holder->pop);
    raftq__state__new_account__init (&holder->create_account);
    raftq__check_user__init (&holder->check_user);
    raftq__state__new_session__init (&holder->login);
    raftq__logout__init (&holder->logout);
    raftq__list_accounts__init (&holder->list_accounts);
    raftq__send_message__init (&holder->send_message);
    raftq__read_messages__init (&holder->read_messages);
    raftq__delete_messages__init (&holder->delete_messages);
    raftq__delete_account__init (&holder->delete_account);
}

//  A 32-hex-digit token from a small number: the same numbers come back,
//  so some tokens are valid and some were never issued.
static void
s_token (char *token, uint64_t number)
{
    snprintf (token, 33, "%016" PRIx64 "%016" PRIx64, number, number * 7919);
}

//  Fills holder with a random queue operation.
static void
s_random_queue_op (holder_t *holder, uint64_t *random, uint64_t roll)
{
    const char *topics[] = {"a", "b", "c/d", "\xc3\xa9", ""};
    Raftq__State__Command *command = &holder->command;
    const char *topic = topics[s_random (random) % 5];
    if (roll < 5) {
        holder->create_topic.name = (char *)topic;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
        command->create_topic = &holder->create_topic;
    } else if (roll < 8) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
        command->list_topics = &holder->list_topics;
    } else if (roll < 30) {
        size_t size = s_random (random) % sizeof holder->payload;
        for (size_t byte = 0; byte < size; byte++)
            holder->payload[byte] = (uint8_t)s_random (random);
        holder->publish.topic = (char *)topic;
        holder->publish.payload.data = holder->payload;
        holder->publish.payload.len = size;
        command->op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
        command->publish = &holder->publish;
    } else {
        holder->pop.topic = (char *)topic;
        command->op_case = RAFTQ__STATE__COMMAND__OP_POP;
        command->pop = &holder->pop;
    }
}

//  Fills holder with a random chat operation; position bounds message ids.
static void
s_random_chat_op (holder_t *holder, uint64_t *random, uint64_t roll, size_t position)
{
    const char *users[] = {"ann", "bob", "cid", "dan"};
    Raftq__State__Command *command = &holder->command;
    const char *user = users[s_random (random) % 4];
    const char *other = users[s_random (random) % 4];
    snprintf (holder->hash, sizeof holder->hash, "$argon2id$v=19$m=8,t=1,p=1$%s",
              roll % 7 ? "pw" : "bad");
    s_token (holder->token, 1 + s_random (random) % 10);
    if (roll != 40 && roll != 41 && roll != 42)
        command->token = holder->token;
    if (roll < 44) {
        holder->create_account.user = (char *)user;
        holder->create_account.password_hash = holder->hash;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
        command->create_account = &holder->create_account;
    } else if (roll < 52) {
        holder->login.user = (char *)user;
        holder->login.password_hash = holder->hash;
        holder->login.token = holder->token;
        command->op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
        command->login = &holder->login;
    } else if (roll < 70) {
        snprintf (holder->text, sizeof holder->text, " hello %" PRIu64 " ",
                  s_random (random) % 1000);
        holder->send_message.to = (char *)other;
        holder->send_message.text = holder->text;
        command->op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
        command->send_message = &holder->send_message;
    } else if (roll < 78) {
        holder->read_messages.partner = roll % 2 ? (char *)other : NULL;
        holder->read_messages.page = (uint32_t)(s_random (random) % 3);
        holder->read_messages.page_size = (uint32_t)(s_random (random) % 4);
        command->op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
        command->read_messages = &holder->read_messages;
    } else if (roll < 84) {
        for (size_t id = 0; id < 4; id++)
            holder->ids[id] = 1 + s_random (random) % (position / 4 + 1);
        holder->delete_messages.ids = holder->ids;
        holder->delete_messages.n_ids = 1 + s_random (random) % 4;
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
        command->delete_messages = &holder->delete_messages;
    } else if (roll < 86) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
        command->delete_account = &holder->delete_account;
    } else if (roll < 89) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
        command->logout = &holder->logout;
    } else if (roll < 94) {
        holder->list_accounts.pattern = roll % 2 ? "*" : "[a-c]*";
        holder->list_accounts.page_size = 2;
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
        command->list_accounts = &holder->list_accounts;
    } else {
        holder->check_user.user = (char *)user;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
        command->check_user = &holder->check_user;
    }
}

//  A random history over every operation: queue and chat commands, errors,
//  retries and stale requests of a few clients, undecodable entries, no-ops.
static entry_t *
s_random_history (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    uint64_t client_seq[5] = {0, 0, 0, 0, 0};
    entry_t *history = calloc (count, sizeof (entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        uint64_t roll = s_random (&random) % 100;
        if (roll < 2)
            continue; //  a no-op entry
        if (roll < 4) {
            history[position].size = 1 + s_random (&random) % 8;
            history[position].data = malloc (history[position].size);
            for (size_t byte = 0; byte < history[position].size; byte++)
                history[position].data[byte] = (uint8_t)(0xf0 | s_random (&random));
            continue; //  undecodable: every byte continues a varint that never ends
        }
        holder_t holder;
        s_holder_init (&holder);
        holder.command.timestamp_ms = 1700000000000LL + (int64_t)position;
        if (roll < 40)
            s_random_queue_op (&holder, &random, roll - 4);
        else
            s_random_chat_op (&holder, &random, roll, position);
        uint64_t who = s_random (&random) % 8;
        if (who < 5) {
            holder.command.client_id = 1000 + who;
            uint64_t kind = s_random (&random) % 10;
            if (kind == 0 && client_seq[who] > 1)
                holder.command.seq = client_seq[who] - 1; //  stale
            else if (kind == 1 && client_seq[who] > 0)
                holder.command.seq = client_seq[who]; //  retry
            else
                holder.command.seq = ++client_seq[who];
        }
        history[position].size = raftq__state__command__get_packed_size (&holder.command);
        history[position].data = malloc (history[position].size + 1);
        assert_non_null (history[position].data);
        raftq__state__command__pack (&holder.command, history[position].data);
    }
    return history;
}

static void
s_history_destroy (entry_t **history_p, size_t count)
{
    for (size_t position = 0; position < count; position++)
        free ((*history_p)[position].data);
    free (*history_p);
    *history_p = NULL;
}

static void
s_apply_entry (fsm_t *fsm, const entry_t *entry, fsm_output_t *output)
{
    uint64_t index = fsm_applied_index (fsm) + 1;
    memset (output, 0, sizeof *output);
    if (entry->data)
        assert_int_equal (fsm_apply (fsm, index, entry->data, entry->size, output), 0);
    else
        assert_int_equal (fsm_skip (fsm, index), 0);
}

//  Packs a reply and every event of an output into one buffer to compare.
static uint8_t *
s_output_bytes (const fsm_output_t *output, size_t *size)
{
    *size = output->reply ? raftq__reply__get_packed_size (output->reply) : 0;
    for (size_t position = 0; position < output->event_count; position++)
        *size += raftq__event__get_packed_size (output->events[position]);
    uint8_t *bytes = malloc (*size + 1);
    assert_non_null (bytes);
    size_t used = output->reply ? raftq__reply__pack (output->reply, bytes) : 0;
    for (size_t position = 0; position < output->event_count; position++)
        used += raftq__event__pack (output->events[position], bytes + used);
    assert_int_equal (used, *size);
    return bytes;
}

static bool
s_same_output (const fsm_output_t *first, const fsm_output_t *second)
{
    size_t first_size, second_size;
    uint8_t *first_bytes = s_output_bytes (first, &first_size);
    uint8_t *second_bytes = s_output_bytes (second, &second_size);
    bool same = first_size == second_size && memcmp (first_bytes, second_bytes, first_size) == 0;
    free (first_bytes);
    free (second_bytes);
    return same;
}

//  True if both fsms answer a Replay of stream from its start alike.
static bool
s_same_replay (fsm_t *first, fsm_t *second, const char *stream)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)stream;
    fsm_output_t one = {.reply = fsm_replay (first, &replay)};
    fsm_output_t two = {.reply = fsm_replay (second, &replay)};
    bool same = s_same_output (&one, &two);
    fsm_output_clear (&one);
    fsm_output_clear (&two);
    return same;
}

//  --------------------------------------------------------------------------
//  Snapshot helpers

//  Options with small bounds, so that eviction of clients, of events by
//  count and by bytes, and the session limit all come into play.
static const fsm_options_t s_small_options = {.max_clients = 3,
                                              .max_payload_bytes = 40,
                                              .event_retention = 5,
                                              .event_retention_bytes = 3000,
                                              .chat = {.max_sessions = 2}};

//  Packs fsm (term = index * 3 + 1) and writes it as its snapshot in dir.
static void
s_save (fsm_t *fsm, const char *dir)
{
    char error[ERROR_SIZE] = "";
    size_t size;
    uint64_t index = fsm_applied_index (fsm);
    uint8_t *body = snapshot_pack (fsm, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                                   strlen (MEMBERSHIP), &size, error, sizeof error);
    if (!body)
        fail_msg ("snapshot_pack: %s", error);
    if (snapshot_write (dir, index, body, size, error, sizeof error))
        fail_msg ("snapshot_write: %s", error);
    free (body);
}

//  Loads the newest snapshot of dir up to max_index into a new fsm and
//  checks what it says about itself. Returns the fsm; report as load left it.
static fsm_t *
s_restore (const char *dir, uint64_t max_index, const fsm_options_t *options, char *report,
           size_t report_size)
{
    snapshot_t *snapshot = snapshot_load (dir, max_index, report, report_size);
    if (!snapshot)
        return NULL;
    size_t membership_size;
    const uint8_t *membership = snapshot_membership (snapshot, &membership_size);
    assert_int_equal (membership_size, strlen (MEMBERSHIP));
    assert_memory_equal (membership, MEMBERSHIP, membership_size);
    assert_int_equal (snapshot_term (snapshot), snapshot_index (snapshot) * 3 + 1);
    assert_true (snapshot_file_size (snapshot) > SNAPSHOT_HEADER_BYTES);
    fsm_t *fsm = fsm_new (options);
    char error[ERROR_SIZE] = "";
    if (snapshot_restore (snapshot, fsm, error, sizeof error))
        fail_msg ("snapshot_restore: %s", error);
    //  Its payloads moved out: a second restore is refused
    fsm_t *again = fsm_new (options);
    assert_int_equal (snapshot_restore (snapshot, again, error, sizeof error), -1);
    fsm_destroy (&again);
    assert_int_equal (fsm_applied_index (fsm), snapshot_index (snapshot));
    snapshot_destroy (&snapshot);
    assert_null (snapshot);
    return fsm;
}

static void
s_snapshot_file (const fixture_t *fixture, uint64_t index, char *path)
{
    snapshot_path (fixture->dir, index, path, PATH_SIZE);
}

static void
s_flip_byte (const char *path, uint64_t offset)
{
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t byte;
    assert_int_equal (pread (fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x21;
    assert_int_equal (pwrite (fd, &byte, 1, (off_t)offset), 1);
    close (fd);
}

static uint64_t
s_file_size (const char *path)
{
    struct stat status;
    assert_int_equal (stat (path, &status), 0);
    return (uint64_t)status.st_size;
}

//  The whole file at path; caller frees.
static uint8_t *
s_read_file (const char *path, size_t *size)
{
    *size = (size_t)s_file_size (path);
    uint8_t *data = malloc (*size + 1);
    assert_non_null (data);
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    assert_int_equal (read (fd, data, *size), (ssize_t)*size);
    close (fd);
    return data;
}

static void
s_write_whole_file (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, size), (ssize_t)size);
    close (fd);
}

//  A fsm with some of everything: applies the first count entries of a
//  seeded history.
static fsm_t *
s_rich_fsm (uint64_t seed, size_t count)
{
    entry_t *history = s_random_history (seed, count);
    fsm_t *fsm = fsm_new (&s_small_options);
    for (size_t position = 0; position < count; position++) {
        fsm_output_t output;
        s_apply_entry (fsm, &history[position], &output);
        fsm_output_clear (&output);
    }
    s_history_destroy (&history, count);
    return fsm;
}

static void
s_expect_indexes (const char *dir, const uint64_t *expected, size_t expected_count)
{
    uint64_t *indexes;
    size_t count;
    assert_int_equal (snapshot_list (dir, &indexes, &count), 0);
    assert_int_equal (count, expected_count);
    for (size_t position = 0; position < count; position++)
        assert_int_equal (indexes[position], expected[position]);
    free (indexes);
}

//  --------------------------------------------------------------------------
//  Round trips

static void
test_round_trip_then_same_future (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const size_t count = RUNNING_ON_VALGRIND ? 1500 : 4000;
    uint64_t seed = fixture->seed;
    entry_t *history = s_random_history (seed, count);
    fsm_t *original = fsm_new (&s_small_options);
    //  Snapshots taken at three points; each restored copy must then follow
    //  the original entry by entry
    size_t cuts[3] = {count / 5, count / 2, count - count / 5};
    fsm_t *restored[3] = {NULL, NULL, NULL};
    size_t successes = 0, events = 0;
    for (size_t position = 0; position < count; position++) {
        for (int cut = 0; cut < 3; cut++)
            if (position == cuts[cut]) {
                s_save (original, fixture->dir);
                char report[ERROR_SIZE];
                restored[cut] =
                    s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
                assert_non_null (restored[cut]);
                assert_string_equal (report, "");
                if (fsm_state_hash (restored[cut]) != fsm_state_hash (original))
                    fail_msg ("seed %" PRIu64
                              " (RAFTQ_TEST_SEED): hash differs after restore at %zu",
                              seed, position);
            }
        fsm_output_t output;
        s_apply_entry (original, &history[position], &output);
        successes += output.reply && output.reply->code == RAFTQ__CODE__OK;
        events += output.event_count;
        for (int cut = 0; cut < 3; cut++) {
            if (!restored[cut])
                continue;
            fsm_output_t copy_output;
            s_apply_entry (restored[cut], &history[position], &copy_output);
            if (!s_same_output (&output, &copy_output))
                fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): entry %zu differs after the "
                          "snapshot at %zu",
                          seed, position, cuts[cut]);
            fsm_output_clear (&copy_output);
        }
        fsm_output_clear (&output);
    }
    if (successes < count / 5 || events < count / 10)
        fail_msg ("seed %" PRIu64 ": a dull history (%zu successes, %zu events)", seed, successes,
                  events);
    const char *streams[] = {"topic/a",  "topic/c/d",    "user/ann",
                             "user/bob", "conv/ann/bob", "conv/cid/dan"};
    for (int cut = 0; cut < 3; cut++) {
        if (fsm_state_hash (restored[cut]) != fsm_state_hash (original))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): final hash differs", seed);
        for (size_t stream = 0; stream < 6; stream++)
            if (!s_same_replay (original, restored[cut], streams[stream]))
                fail_msg ("seed %" PRIu64 ": replay of %s differs", seed, streams[stream]);
        fsm_destroy (&restored[cut]);
    }
    //  Only the two newest of the three snapshots are kept
    uint64_t kept[2] = {cuts[2], cuts[1]};
    s_expect_indexes (fixture->dir, kept, 2);
    fsm_destroy (&original);
    s_history_destroy (&history, count);
}

//  A state with nothing but no-op entries, and one with default options.
static void
test_round_trip_plain_states (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fsm_t *fsm = fsm_new (NULL);
    for (uint64_t index = 1; index <= 3; index++)
        assert_int_equal (fsm_skip (fsm, index), 0);
    s_save (fsm, fixture->dir);
    char report[ERROR_SIZE];
    fsm_t *restored = s_restore (fixture->dir, UINT64_MAX, NULL, report, sizeof report);
    assert_non_null (restored);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);
    fsm_destroy (&fsm);

    //  Index 0 names no snapshot
    char error[ERROR_SIZE] = "";
    uint8_t body[1] = {0};
    assert_int_equal (snapshot_write (fixture->dir, 0, body, 0, error, sizeof error), -1);
    assert_true (strlen (error) > 0);
}

//  --------------------------------------------------------------------------
//  Damaged files

static void
test_corrupt_newest_falls_back (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    uint64_t seed = fixture->seed;
    fsm_t *older = s_rich_fsm (seed, 300);
    fsm_t *newer = s_rich_fsm (seed, 600);
    s_save (older, fixture->dir);
    s_save (newer, fixture->dir);
    char path[PATH_SIZE];
    s_snapshot_file (fixture, 600, path);
    uint64_t size = s_file_size (path);

    //  One flipped bit anywhere (magic, length, checksum, body) is caught,
    //  and the older snapshot is used
    uint64_t offsets[] = {0, 9, 17, SNAPSHOT_HEADER_BYTES, size / 2, size - 1};
    const char *reasons[] = {"magic", "torn", "checksum", "checksum", "checksum", "checksum"};
    for (size_t which = 0; which < 6; which++) {
        s_flip_byte (path, offsets[which]);
        char report[ERROR_SIZE];
        fsm_t *restored =
            s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
        assert_non_null (restored);
        assert_int_equal (fsm_applied_index (restored), 300);
        assert_int_equal (fsm_state_hash (restored), fsm_state_hash (older));
        assert_non_null (strstr (report, "snapshot-00000000000000000600.snap"));
        if (!strstr (report, reasons[which]))
            fail_msg ("offset %" PRIu64 ": report '%s' lacks '%s'", offsets[which], report,
                      reasons[which]);
        fsm_destroy (&restored);
        s_flip_byte (path, offsets[which]);
    }
    //  Intact again: the newest is used
    char report[ERROR_SIZE];
    fsm_t *restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_applied_index (restored), 600);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (newer));
    fsm_destroy (&restored);

    //  Torn: the end of the file is missing
    assert_int_equal (truncate (path, (off_t)(size - 10)), 0);
    restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_applied_index (restored), 300);
    assert_non_null (strstr (report, "torn"));
    fsm_destroy (&restored);

    //  A valid file under another index's name is not that snapshot
    char older_path[PATH_SIZE];
    s_snapshot_file (fixture, 300, older_path);
    size_t older_size;
    uint8_t *older_bytes = s_read_file (older_path, &older_size);
    s_write_whole_file (path, older_bytes, older_size);
    free (older_bytes);
    restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_applied_index (restored), 300);
    assert_non_null (strstr (report, "holds index 300, not 600"));
    fsm_destroy (&restored);

    //  A file too short for a header
    s_write_whole_file (path, "RAFTQ", 5);
    restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_applied_index (restored), 300);
    assert_non_null (strstr (report, "shorter than a header"));
    fsm_destroy (&restored);
    fsm_destroy (&older);
    fsm_destroy (&newer);
}

//  A valid checksum over a body that is no snapshot, and states that
//  decode but that no fsm could have saved: refused, never restored.
static void
test_undecodable_and_inconsistent_bodies (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char error[ERROR_SIZE] = "";
    uint8_t garbage[16];
    memset (garbage, 0xff, sizeof garbage);
    assert_int_equal (
        snapshot_write (fixture->dir, 5, garbage, sizeof garbage, error, sizeof error), 0);
    char report[ERROR_SIZE];
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_non_null (strstr (report, "does not decode"));

    //  Two topics of the same name: decodes, but restore refuses it
    Raftq__State__TopicState topics[2] = {RAFTQ__STATE__TOPIC_STATE__INIT,
                                          RAFTQ__STATE__TOPIC_STATE__INIT};
    Raftq__State__TopicState *topic_list[2] = {&topics[0], &topics[1]};
    topics[0].name = topics[1].name = "twice";
    Raftq__State__FsmState fsm_state = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_state.applied_index = 6;
    fsm_state.topics = topic_list;
    fsm_state.n_topics = 2;
    Raftq__State__Snapshot snapshot = RAFTQ__STATE__SNAPSHOT__INIT;
    snapshot.index = 6;
    snapshot.state = &fsm_state;
    size_t size = raftq__state__snapshot__get_packed_size (&snapshot);
    uint8_t *body = malloc (size);
    raftq__state__snapshot__pack (&snapshot, body);
    assert_int_equal (snapshot_write (fixture->dir, 6, body, size, error, sizeof error), 0);
    free (body);
    snapshot_t *loaded = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_non_null (loaded);
    assert_int_equal (snapshot_index (loaded), 6);
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (snapshot_restore (loaded, fsm, error, sizeof error), -1);
    assert_non_null (strstr (error, "topic"));
    fsm_destroy (&fsm);
    snapshot_destroy (&loaded);

    //  The caller can then ask for an older one: there is none valid
    assert_null (snapshot_load (fixture->dir, 5, report, sizeof report));
    assert_non_null (strstr (report, "does not decode"));
}

static void
test_none_valid (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char report[ERROR_SIZE];
    //  No directory, then an empty one: no snapshot, nothing to report
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_string_equal (report, "");
    uint64_t *indexes;
    size_t count;
    assert_int_equal (snapshot_list (fixture->dir, &indexes, &count), 0);
    assert_int_equal (count, 0);
    free (indexes);
    assert_int_equal (mkdir (fixture->dir, 0755), 0);
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_string_equal (report, "");

    //  Every file corrupt: none, and the report names each
    fsm_t *fsm = s_rich_fsm (fixture->seed, 100);
    s_save (fsm, fixture->dir);
    assert_int_equal (fsm_skip (fsm, 101), 0);
    s_save (fsm, fixture->dir);
    char path[PATH_SIZE];
    s_snapshot_file (fixture, 100, path);
    s_flip_byte (path, s_file_size (path) - 3);
    s_snapshot_file (fixture, 101, path);
    s_flip_byte (path, 2);
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_non_null (strstr (report, "snapshot-00000000000000000100.snap: bad checksum"));
    assert_non_null (strstr (report, "snapshot-00000000000000000101.snap: not a snapshot"));

    //  max_index below every snapshot: none, and nothing was tried
    s_flip_byte (path, 2);
    assert_null (snapshot_load (fixture->dir, 99, report, sizeof report));
    assert_string_equal (report, "");
    fsm_t *restored = s_restore (fixture->dir, 100, &s_small_options, report, sizeof report);
    assert_null (restored);
    restored = s_restore (fixture->dir, 101, &s_small_options, report, sizeof report);
    assert_non_null (restored);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);
    fsm_destroy (&fsm);
}

//  A crash while writing leaves a temporary: load never reads it, the
//  writer removes it when it starts, other files stay.
static void
test_temporaries_ignored_and_cleaned (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fsm_t *fsm = s_rich_fsm (fixture->seed, 50);
    s_save (fsm, fixture->dir);
    char path[PATH_SIZE];
    const char *leftovers[] = {"snapshot-00000000000000000090.snap.tmp",
                               "snapshot-00000000000000000091.snap.recv.tmp"};
    for (int which = 0; which < 2; which++) {
        snprintf (path, sizeof path, "%s/%s", fixture->dir, leftovers[which]);
        s_write_whole_file (path, "RAFTQSN1 torn", 13);
    }
    snprintf (path, sizeof path, "%s/notes.txt", fixture->dir);
    s_write_whole_file (path, "keep", 4);
    char report[ERROR_SIZE];
    fsm_t *restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_applied_index (restored), 50);
    assert_string_equal (report, "");
    fsm_destroy (&restored);

    snapshot_writer_t *writer = snapshot_writer_new (fixture->dir);
    assert_non_null (writer);
    snapshot_writer_destroy (&writer);
    assert_null (writer);
    for (int which = 0; which < 2; which++) {
        snprintf (path, sizeof path, "%s/%s", fixture->dir, leftovers[which]);
        assert_int_equal (access (path, F_OK), -1);
    }
    snprintf (path, sizeof path, "%s/notes.txt", fixture->dir);
    assert_int_equal (access (path, F_OK), 0);
    uint64_t kept[1] = {50};
    s_expect_indexes (fixture->dir, kept, 1);
    fsm_destroy (&fsm);
}

static void
test_keep_newest_two (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    uint64_t written[] = {7, 3, 12, 20, 15};
    //  Written out of order on purpose: pruning goes by index
    for (size_t which = 0; which < 5; which++) {
        fsm_t *at = fsm_new (NULL);
        for (uint64_t index = 1; index <= written[which]; index++)
            assert_int_equal (fsm_skip (at, index), 0);
        s_save (at, fixture->dir);
        fsm_destroy (&at);
    }
    uint64_t kept[2] = {20, 15};
    s_expect_indexes (fixture->dir, kept, 2);
}

//  --------------------------------------------------------------------------
//  The writer actor, streaming and receiving

//  Waits (with a deadline) for the writer's next report.
static void
s_next_report (snapshot_writer_t *writer, snapshot_report_t *report)
{
    zpoller_t *poller = zpoller_new (snapshot_writer_sock (writer), NULL);
    void *ready = zpoller_wait (poller, WRITER_DEADLINE_MS);
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("no report from the writer within %d ms", WRITER_DEADLINE_MS);
    assert_int_equal (snapshot_writer_recv (writer, report), 0);
}

//  --------------------------------------------------------------------------
//  Snapshot jobs

//  Polls the job's descriptor and collects until the child has ended, as
//  a loop would; fails past the deadline.
static void
s_job_finish (snapshot_job_t *job)
{
    int64_t deadline = zclock_mono () + WRITER_DEADLINE_MS;
    while (!snapshot_job_collect (job)) {
        int left = (int)(deadline - zclock_mono ());
        if (left <= 0)
            fail_msg ("snapshot job still running after %d ms", WRITER_DEADLINE_MS);
        struct pollfd item = {snapshot_job_fd (job), POLLIN, 0};
        assert_true (poll (&item, 1, left) >= 0 || errno == EINTR);
    }
    //  Reaped: the descriptor is closed and no child is left
    assert_int_equal (snapshot_job_fd (job), -1);
    assert_int_equal (snapshot_job_pid (job), 0);
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
}

//  No file of dir ends in ".tmp".
static void
s_expect_no_temporary (const char *dir)
{
    zdir_t *directory = zdir_new (dir, "-");
    zfile_t **files = directory ? zdir_flatten (directory) : NULL;
    for (size_t position = 0; files && files[position]; position++) {
        const char *name = zfile_filename (files[position], NULL);
        size_t length = strlen (name);
        if (length >= 4 && streq (name + length - 4, ".tmp"))
            fail_msg ("temporary %s left behind", name);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&directory);
}

static void
test_job_writes_state_as_of_start (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const size_t count = 600, first = 400;
    entry_t *history = s_random_history (fixture->seed, count);
    fsm_t *fsm = fsm_new (&s_small_options);
    fsm_output_t output;
    for (size_t position = 0; position < first; position++) {
        s_apply_entry (fsm, &history[position], &output);
        fsm_output_clear (&output);
    }
    uint64_t index = fsm_applied_index (fsm);
    uint64_t hash = fsm_state_hash (fsm);
    char error[ERROR_SIZE] = "";
    snapshot_job_t *job =
        snapshot_job_start (fixture->dir, fsm, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                            strlen (MEMBERSHIP), error, sizeof error);
    if (!job)
        fail_msg ("snapshot_job_start: %s", error);
    assert_int_equal (snapshot_job_index (job), index);
    assert_int_equal (snapshot_job_term (job), index * 3 + 1);
    assert_true (snapshot_job_pid (job) > 0);
    assert_true (snapshot_job_fd (job) >= 0);
    //  The parent goes on applying: the child writes the state of the fork
    for (size_t position = first; position < count; position++) {
        s_apply_entry (fsm, &history[position], &output);
        fsm_output_clear (&output);
    }
    s_job_finish (job);
    assert_true (snapshot_job_written (job));
    assert_string_equal (snapshot_job_reason (job), "");
    snapshot_job_destroy (&job);
    assert_null (job);
    s_expect_no_temporary (fixture->dir);

    char report[ERROR_SIZE];
    fsm_t *restored = s_restore (fixture->dir, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_non_null (restored);
    assert_int_equal (fsm_applied_index (restored), index);
    assert_int_equal (fsm_state_hash (restored), hash);
    //  Byte for byte what packing and snapshot_write make of the same state
    char path[PATH_SIZE], other_path[PATH_SIZE];
    s_snapshot_file (fixture, index, path);
    s_save (restored, fixture->other);
    snapshot_path (fixture->other, index, other_path, sizeof other_path);
    size_t size, other_size;
    uint8_t *bytes = s_read_file (path, &size);
    uint8_t *other_bytes = s_read_file (other_path, &other_size);
    assert_int_equal (size, other_size);
    assert_memory_equal (bytes, other_bytes, size);
    free (bytes);
    free (other_bytes);
    fsm_destroy (&restored);
    fsm_destroy (&fsm);
    s_history_destroy (&history, count);
}

static void
test_job_failure_reason (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char error[ERROR_SIZE] = "";
    //  Nothing applied: nothing to snapshot, no child
    fsm_t *fsm = fsm_new (NULL);
    assert_null (snapshot_job_start (fixture->dir, fsm, 1, NULL, 0, error, sizeof error));
    assert_non_null (strstr (error, "nothing applied"));
    //  A directory that cannot be created: the child's reason comes back
    fsm_destroy (&fsm);
    fsm = s_rich_fsm (fixture->seed, 50);
    char blocked[PATH_SIZE];
    snprintf (blocked, sizeof blocked, "%s/file", fixture->root);
    s_write_whole_file (blocked, "x", 1);
    snprintf (blocked, sizeof blocked, "%s/file/snap", fixture->root);
    snapshot_job_t *job = snapshot_job_start (blocked, fsm, 1, NULL, 0, error, sizeof error);
    assert_non_null (job);
    s_job_finish (job);
    assert_false (snapshot_job_written (job));
    assert_non_null (strstr (snapshot_job_reason (job), "Not a directory"));
    snapshot_job_destroy (&job);
    fsm_destroy (&fsm);
}

//  A FIFO in the place of the job's temporary: the child's open for
//  writing blocks until a reader comes, and none does, so the job is
//  certainly still running when the test acts on it.
static void
s_block_job (const fixture_t *fixture, uint64_t index, char *fifo)
{
    assert_int_equal (mkdir (fixture->dir, 0755), 0);
    snapshot_path (fixture->dir, index, fifo, PATH_SIZE - 4);
    strcat (fifo, ".tmp");
    assert_int_equal (mkfifo (fifo, 0644), 0);
}

static void
test_job_child_killed (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fsm_t *fsm = s_rich_fsm (fixture->seed, 50);
    char fifo[PATH_SIZE], error[ERROR_SIZE] = "";
    s_block_job (fixture, fsm_applied_index (fsm), fifo);
    snapshot_job_t *job = snapshot_job_start (fixture->dir, fsm, 1, NULL, 0, error, sizeof error);
    assert_non_null (job);
    assert_int_equal (snapshot_job_collect (job), 0);
    assert_int_equal (kill (snapshot_job_pid (job), SIGKILL), 0);
    s_job_finish (job);
    assert_false (snapshot_job_written (job));
    assert_non_null (strstr (snapshot_job_reason (job), "signal 9"));
    //  What the dead child left in the temporary's place is gone
    assert_int_equal (access (fifo, F_OK), -1);
    snapshot_job_destroy (&job);
    fsm_destroy (&fsm);
}

static void
test_job_destroyed_while_running (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fsm_t *fsm = s_rich_fsm (fixture->seed, 50);
    char fifo[PATH_SIZE], error[ERROR_SIZE] = "";
    s_block_job (fixture, fsm_applied_index (fsm), fifo);
    snapshot_job_t *job = snapshot_job_start (fixture->dir, fsm, 1, NULL, 0, error, sizeof error);
    assert_non_null (job);
    pid_t pid = snapshot_job_pid (job);
    snapshot_job_destroy (&job);
    assert_null (job);
    //  Killed and reaped, its temporary removed
    assert_int_equal (kill (pid, 0), -1);
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
    assert_int_equal (access (fifo, F_OK), -1);
    s_expect_indexes (fixture->dir, NULL, 0);
    fsm_destroy (&fsm);
}

//  Streams the snapshot of index from dir in random chunks, each sent
//  once, some twice and some overlapping, through send (to a receiver or
//  the writer). Returns the file's size.
typedef int (s_send_chunk_fn) (void *target, uint64_t offset, const uint8_t *data, size_t size,
                               bool last);

static uint64_t
s_stream (const char *dir, uint64_t index, uint64_t seed, s_send_chunk_fn *send, void *target)
{
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    uint64_t random = seed ? seed : 1;
    uint8_t buffer[4096];
    uint64_t offset = 0, file_size = 0;
    while (true) {
        size_t want = 1 + s_random (&random) % sizeof buffer;
        ssize_t got = snapshot_read_chunk (path, offset, buffer, want, &file_size);
        assert_true (got >= 0);
        bool last = offset + (uint64_t)got == file_size;
        assert_int_equal (send (target, offset, buffer, (size_t)got, last), 0);
        if (last)
            break;
        //  Sometimes the chunk is resent, or a little of it
        uint64_t roll = s_random (&random) % 10;
        if (roll == 0)
            assert_int_equal (send (target, offset, buffer, (size_t)got, false), 0);
        uint64_t next = offset + (uint64_t)got;
        if (roll == 1 && got > 2)
            next -= (uint64_t)got / 2;
        offset = next;
    }
    //  Past the end there is nothing
    assert_int_equal (snapshot_read_chunk (path, file_size + 5, buffer, 10, &file_size), 0);
    return file_size;
}

static int
s_send_to_receiver (void *target, uint64_t offset, const uint8_t *data, size_t size, bool last)
{
    (void)last;
    char error[ERROR_SIZE] = "";
    int rc = snapshot_receiver_append ((snapshot_receiver_t *)target, offset, data, size, error,
                                       sizeof error);
    if (rc)
        fprintf (stderr, "append: %s\n", error);
    return rc;
}

typedef struct {
    snapshot_writer_t *writer;
    uint64_t index;
    uint64_t term;
} chunk_target_t;

static int
s_send_to_writer (void *target, uint64_t offset, const uint8_t *data, size_t size, bool last)
{
    chunk_target_t *chunk_target = (chunk_target_t *)target;
    return snapshot_writer_chunk (chunk_target->writer, chunk_target->index, chunk_target->term,
                                  offset, data, size, last);
}

static void
s_expect_same_file (const fixture_t *fixture, uint64_t index)
{
    char source[PATH_SIZE], copy[PATH_SIZE];
    snapshot_path (fixture->dir, index, source, sizeof source);
    snapshot_path (fixture->other, index, copy, sizeof copy);
    size_t source_size, copy_size;
    uint8_t *source_bytes = s_read_file (source, &source_size);
    uint8_t *copy_bytes = s_read_file (copy, &copy_size);
    assert_int_equal (source_size, copy_size);
    assert_memory_equal (source_bytes, copy_bytes, source_size);
    free (source_bytes);
    free (copy_bytes);
}

static void
test_chunked_transfer (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    uint64_t seed = fixture->seed;
    fsm_t *fsm = s_rich_fsm (seed, 700);
    s_save (fsm, fixture->dir);

    //  Straight into a receiver
    char error[ERROR_SIZE] = "";
    snapshot_receiver_t *receiver =
        snapshot_receiver_new (fixture->other, 700, error, sizeof error);
    assert_non_null (receiver);
    uint64_t size = s_stream (fixture->dir, 700, seed, s_send_to_receiver, receiver);
    assert_int_equal (snapshot_receiver_received (receiver), size);
    //  A gap is refused; the receiver keeps what it has
    uint8_t byte = 0;
    assert_int_equal (snapshot_receiver_append (receiver, size + 1, &byte, 1, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "gap"));
    assert_int_equal (snapshot_receiver_finish (receiver, error, sizeof error), 0);
    snapshot_receiver_destroy (&receiver);
    assert_null (receiver);
    s_expect_same_file (fixture, 700);
    char report[ERROR_SIZE];
    fsm_t *restored =
        s_restore (fixture->other, UINT64_MAX, &s_small_options, report, sizeof report);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);

    //  Through the writer actor, a newer snapshot
    assert_int_equal (fsm_skip (fsm, 701), 0);
    s_save (fsm, fixture->dir);
    snapshot_writer_t *writer = snapshot_writer_new (fixture->other);
    chunk_target_t target = {writer, 701, 701 * 3 + 1};
    s_stream (fixture->dir, 701, seed + 1, s_send_to_writer, &target);
    snapshot_report_t writer_report;
    s_next_report (writer, &writer_report);
    assert_int_equal (writer_report.outcome, SNAPSHOT_RECEIVED);
    assert_int_equal (writer_report.index, 701);
    assert_int_equal (writer_report.term, 701 * 3 + 1);
    s_expect_same_file (fixture, 701);

    //  A chunk out of sequence fails the receiving, which then starts over
    uint8_t bytes[8] = {0};
    assert_int_equal (snapshot_writer_chunk (writer, 800, 5, 100, bytes, 8, false), 0);
    s_next_report (writer, &writer_report);
    assert_int_equal (writer_report.outcome, SNAPSHOT_FAILED);
    assert_int_equal (writer_report.index, 800);
    assert_non_null (strstr (writer_report.reason, "gap"));

    //  A file damaged on the way is refused at the end and not installed
    char path[PATH_SIZE];
    s_snapshot_file (fixture, 701, path);
    size_t file_size;
    uint8_t *file = s_read_file (path, &file_size);
    file[file_size / 2] ^= 1;
    assert_int_equal (snapshot_writer_chunk (writer, 702, 5, 0, file, file_size, true), 0);
    s_next_report (writer, &writer_report);
    assert_int_equal (writer_report.outcome, SNAPSHOT_FAILED);
    assert_int_equal (writer_report.index, 702);
    assert_non_null (strstr (writer_report.reason, "checksum"));
    free (file);
    snapshot_writer_destroy (&writer);
    uint64_t kept[2] = {701, 700};
    s_expect_indexes (fixture->other, kept, 2);

    //  A receiver given up on leaves nothing behind
    receiver = snapshot_receiver_new (fixture->other, 900, error, sizeof error);
    assert_int_equal (snapshot_receiver_append (receiver, 0, "RAFTQ", 5, error, sizeof error), 0);
    snapshot_receiver_destroy (&receiver);
    snprintf (path, sizeof path, "%s/snapshot-00000000000000000900.snap.recv.tmp", fixture->other);
    assert_int_equal (access (path, F_OK), -1);
    s_expect_indexes (fixture->other, kept, 2);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Restart: snapshot, compaction, reopen, load and replay

typedef struct {
    fsm_t *fsm;     //  the state machine being rebuilt
    uint64_t after; //  entries up to this index are in the snapshot: skipped
} replay_t;

static int
s_replay_entry (const raft_entry_t *entry, void *argument)
{
    replay_t *replay = (replay_t *)argument;
    if (entry->index <= replay->after)
        return 0;
    fsm_output_t output;
    int rc = entry->type == RAFT_ENTRY_COMMAND
                 ? fsm_apply (replay->fsm, entry->index, entry->data, entry->size, &output)
                 : fsm_skip (replay->fsm, entry->index);
    if (entry->type == RAFT_ENTRY_COMMAND)
        fsm_output_clear (&output);
    return rc;
}

//  What a node does at start: the newest valid snapshot, then the log
//  after it. Returns the rebuilt fsm, or NULL with error when the log
//  starts after what any valid snapshot covers (the state in between is
//  gone: refusing beats serving a wrong state).
static fsm_t *
s_restart (const char *snapshot_dir, log_store_t *log, char *error, size_t error_size)
{
    char report[ERROR_SIZE];
    snapshot_t *snapshot = snapshot_load (snapshot_dir, UINT64_MAX, report, sizeof report);
    uint64_t covered = snapshot ? snapshot_index (snapshot) : 0;
    uint64_t first = log_store_first_index (log);
    if (first > covered + 1) {
        //  One line: the start of the report is enough to tell why
        int length = snprintf (error, error_size,
                               "log starts at %" PRIu64 ", snapshots cover up to %" PRIu64 ": ",
                               first, covered);
        if (length > 0 && (size_t)length < error_size)
            snprintf (error + length, error_size - (size_t)length, "%.200s", report);
        snapshot_destroy (&snapshot);
        return NULL;
    }
    fsm_t *fsm = fsm_new (&s_small_options);
    if (snapshot && snapshot_restore (snapshot, fsm, error, error_size))
        fsm_destroy (&fsm);
    snapshot_destroy (&snapshot);
    replay_t replay = {fsm, covered};
    if (fsm && log_store_replay (log, s_replay_entry, &replay)) {
        snprintf (error, error_size, "replay failed");
        fsm_destroy (&fsm);
    }
    return fsm;
}

static void
test_restart_from_snapshot_and_log (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const size_t count = RUNNING_ON_VALGRIND ? 600 : 1500;
    const uint64_t snapshot_at = count / 2, trailing_window = 100;
    entry_t *history = s_random_history (fixture->seed, count);
    char log_dir[PATH_SIZE], error[ERROR_SIZE] = "";
    snprintf (log_dir, sizeof log_dir, "%s/log", fixture->root);
    //  Small segments, so that compaction has whole segments to drop
    setenv ("RAFTQ_SEGMENT_BYTES", "4096", 1);
    log_store_t *log = log_store_open (log_dir, error, sizeof error);
    assert_non_null (log);
    fsm_t *live = fsm_new (&s_small_options);
    for (size_t position = 0; position < count; position++) {
        uint64_t index = position + 1;
        raft_entry_t entry = {1 + index / 100, index,
                              history[position].data ? RAFT_ENTRY_COMMAND : RAFT_ENTRY_NOOP,
                              history[position].data, history[position].size};
        assert_int_equal (log_store_append (log, &entry, 1), 0);
        if (index % 10 == 0)
            assert_int_equal (log_store_sync (log), 0);
        fsm_output_t output;
        s_apply_entry (live, &history[position], &output);
        fsm_output_clear (&output);
        if (index == snapshot_at) {
            s_save (live, fixture->dir);
            assert_int_equal (log_store_truncate_prefix (log, snapshot_at - trailing_window), 0);
            assert_true (log_store_first_index (log) > 1);
            assert_true (log_store_first_index (log) <= snapshot_at - trailing_window + 1);
        }
    }
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    //  Restart: snapshot plus the log after it give the same state
    log = log_store_open (log_dir, error, sizeof error);
    assert_non_null (log);
    fsm_t *rebuilt = s_restart (fixture->dir, log, error, sizeof error);
    if (!rebuilt)
        fail_msg ("seed %" PRIu64 ": restart failed: %s", fixture->seed, error);
    assert_int_equal (fsm_applied_index (rebuilt), count);
    if (fsm_state_hash (rebuilt) != fsm_state_hash (live))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): the rebuilt state differs", fixture->seed);
    fsm_destroy (&rebuilt);

    //  The only snapshot corrupt, the log compacted: refused, not guessed
    char path[PATH_SIZE];
    s_snapshot_file (fixture, snapshot_at, path);
    s_flip_byte (path, s_file_size (path) / 2);
    assert_null (s_restart (fixture->dir, log, error, sizeof error));
    assert_non_null (strstr (error, "bad checksum"));
    log_store_destroy (&log);
    fsm_destroy (&live);
    s_history_destroy (&history, count);
}

//  --------------------------------------------------------------------------
//  Cost of a big state

static double
s_milliseconds_since (const struct timespec *start)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

//  1M queued 256-byte messages (fewer under valgrind): prints the time of
//  each step; only the outcome is asserted.
static void
test_million_messages_cost (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const uint64_t count = RUNNING_ON_VALGRIND ? 20000 : 1000000;
    fsm_t *fsm = fsm_new (NULL);
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__CreateTopic create = RAFTQ__CREATE_TOPIC__INIT;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    create.name = publish.topic = "bulk";
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command.create_topic = &create;
    uint8_t packed[512];
    fsm_output_t output;
    size_t size = raftq__state__command__pack (&command, packed);
    assert_int_equal (fsm_apply (fsm, 1, packed, size, &output), 0);
    fsm_output_clear (&output);
    uint8_t payload[256];
    memset (payload, 0x5a, sizeof payload);
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    publish.payload.data = payload;
    publish.payload.len = sizeof payload;
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        memcpy (payload, &sequence, sizeof sequence);
        size = raftq__state__command__pack (&command, packed);
        assert_int_equal (fsm_apply (fsm, sequence + 1, packed, size, &output), 0);
        fsm_output_clear (&output);
    }

    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    char error[ERROR_SIZE] = "";
    uint8_t *body = snapshot_pack (fsm, 7, NULL, 0, &size, error, sizeof error);
    assert_non_null (body);
    double pack_ms = s_milliseconds_since (&start);
    clock_gettime (CLOCK_MONOTONIC, &start);
    uint64_t index = fsm_applied_index (fsm);
    assert_int_equal (snapshot_write (fixture->dir, index, body, size, error, sizeof error), 0);
    double write_ms = s_milliseconds_since (&start);
    free (body);

    clock_gettime (CLOCK_MONOTONIC, &start);
    char report[ERROR_SIZE];
    snapshot_t *snapshot = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_non_null (snapshot);
    double load_ms = s_milliseconds_since (&start);
    clock_gettime (CLOCK_MONOTONIC, &start);
    fsm_t *restored = fsm_new (NULL);
    assert_int_equal (snapshot_restore (snapshot, restored, error, sizeof error), 0);
    double restore_ms = s_milliseconds_since (&start);
    snapshot_destroy (&snapshot);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);

    //  The same state by a job: the caller is held only for the fork
    clock_gettime (CLOCK_MONOTONIC, &start);
    assert_int_equal (fsm_skip (fsm, index + 1), 0);
    snapshot_job_t *job = snapshot_job_start (fixture->dir, fsm, 7, NULL, 0, error, sizeof error);
    assert_non_null (job);
    double fork_ms = s_milliseconds_since (&start);
    s_job_finish (job);
    assert_true (snapshot_job_written (job));
    double job_ms = s_milliseconds_since (&start);
    snapshot_job_destroy (&job);
    printf ("snapshot of %" PRIu64 " queued 256-byte messages, %.1f MB: pack %.0f ms, "
            "write+fsync %.0f ms, load+verify %.0f ms, restore %.0f ms; as a job: the caller "
            "waits %.1f ms (fork), the child %.0f ms\n",
            count, (double)size / 1e6, pack_ms, write_ms, load_ms, restore_ms, fork_ms, job_ms);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip_then_same_future, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_round_trip_plain_states, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_newest_falls_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_undecodable_and_inconsistent_bodies, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_none_valid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_temporaries_ignored_and_cleaned, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_keep_newest_two, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_writes_state_as_of_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_failure_reason, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_child_killed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_destroyed_while_running, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_chunked_transfer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_restart_from_snapshot_and_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_million_messages_cost, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
