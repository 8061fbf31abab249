/*  test_raft_pipe — every message of the pipe between the broker and the
    Raft actor, encoded by one side and decoded by the other over a real
    inproc pipe: the fields come back as sent, and a message of the wrong
    shape (sizes, counts, an unknown command) is refused, leaving what the
    handle keeps (the latest PROGRESS) as it was.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "replica/raft_pipe.h"
#include "util/little_endian.h"

//  Both ends of an inproc pipe.
typedef struct {
    zsock_t *sender;   //  what raft_pipe_send_* writes to
    zsock_t *receiver; //  what the test reads from
} ends_t;

static int
s_setup (void **state)
{
    ends_t *ends = calloc (1, sizeof (ends_t));
    if (!ends)
        return -1;
    //  A pipe of its own for each test, as zactor makes them
    ends->sender = zsys_create_pipe (&ends->receiver);
    *state = ends;
    return ends->receiver && ends->sender ? 0 : -1;
}

static int
s_teardown (void **state)
{
    ends_t *ends = (ends_t *)*state;
    zsock_destroy (&ends->sender);
    zsock_destroy (&ends->receiver);
    free (ends);
    return 0;
}

//  Receives one message and decodes it as an event; returns decode's rc.
static int
s_decode (ends_t *ends, raft_actor_event_t *event, raft_actor_progress_t *progress)
{
    memset (event, 0, sizeof *event);
    zmsg_t *message = zmsg_recv (ends->receiver);
    assert_non_null (message);
    char *command = zmsg_popstr (message);
    event->message = message;
    int rc = raft_pipe_decode_event (command, message, event, progress);
    free (command);
    return rc;
}

static raft_member_t
s_member (uint32_t id)
{
    raft_member_t member = {.id = id,
                            .voter = id % 2 == 1,
                            .client_port = 5000 + id,
                            .peer_port = 6000 + id,
                            .pub_port = 7000 + id};
    snprintf (member.host, sizeof member.host, "10.0.0.%u", id);
    return member;
}

//  Fails unless both members say the same, field by field.
static void
s_expect_member (const raft_member_t *member, const raft_member_t *expected)
{
    assert_int_equal (member->id, expected->id);
    assert_int_equal (member->voter, expected->voter);
    assert_string_equal (member->host, expected->host);
    assert_int_equal (member->client_port, expected->client_port);
    assert_int_equal (member->peer_port, expected->peer_port);
    assert_int_equal (member->pub_port, expected->pub_port);
}

//  STATE, COMMITTED and REJECTED cross the pipe intact.
static void
test_actor_reports_state_and_entries (void **state)
{
    ends_t *ends = (ends_t *)*state;
    raft_actor_progress_t progress = {0};
    raft_actor_event_t event;

    raft_pipe_send_state (ends->sender, RAFT_ROLE_LEADER, 7, 3, 40, 42);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_STATE);
    assert_int_equal (event.role, RAFT_ROLE_LEADER);
    assert_int_equal (event.term, 7);
    assert_int_equal (event.leader_id, 3);
    assert_int_equal (event.commit_index, 40);
    assert_int_equal (event.last_index, 42);
    raft_actor_event_clear (&event);

    raft_entry_t entries[2] = {{7, 41, RAFT_ENTRY_COMMAND, (uint8_t *)"abc", 3},
                               {7, 42, RAFT_ENTRY_NOOP, NULL, 0}};
    raft_pipe_batch_t *committed = raft_pipe_batch_new ();
    //  Nothing committed: nothing sent (the STATE below comes first)
    raft_pipe_send_committed (ends->sender, committed, 41, 43);
    raft_pipe_add_committed (committed, entries, 1);
    raft_pipe_add_committed (committed, entries + 1, 1);
    assert_int_equal (raft_pipe_batch_count (committed), 2);
    raft_pipe_send_committed (ends->sender, committed, 42, 43);
    assert_int_equal (raft_pipe_batch_count (committed), 0);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_COMMITTED);
    assert_int_equal (event.commit_index, 42);
    assert_int_equal (event.entry_count, 2);
    assert_int_equal (event.entries[0].index, 41);
    assert_int_equal (event.entries[0].size, 3);
    assert_memory_equal (event.entries[0].data, "abc", 3);
    assert_int_equal (event.entries[1].type, RAFT_ENTRY_NOOP);
    assert_int_equal (event.entries[1].index, 42);
    assert_int_equal (event.entries[1].size, 0);
    raft_actor_event_clear (&event);
    //  The batch is reused: the next message holds only what came since
    raft_pipe_add_committed (committed, entries, 1);
    raft_pipe_send_committed (ends->sender, committed, 43, 43);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.entry_count, 1);
    assert_int_equal (event.commit_index, 43);
    raft_actor_event_clear (&event);
    raft_pipe_batch_destroy (&committed);
    assert_null (committed);

    zmsg_t *tickets = zmsg_new ();
    uint8_t ticket[8];
    little_endian_put_u64 (ticket, 99);
    zmsg_addmem (tickets, ticket, 8);
    raft_pipe_send_rejected (ends->sender, &tickets, 2);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_REJECTED);
    assert_int_equal (event.leader_id, 2);
    assert_int_equal (event.ticket_count, 1);
    assert_int_equal (event.tickets[0], 99);
    raft_actor_event_clear (&event);
}

//  ADMINED, MEMBERS and INSTALLED cross the pipe intact.
static void
test_actor_reports_admin_and_members (void **state)
{
    ends_t *ends = (ends_t *)*state;
    raft_actor_progress_t progress = {0};
    raft_actor_event_t event;

    raft_pipe_send_admined (ends->sender, 12, true, 4);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_ADMINED);
    assert_int_equal (event.ticket, 12);
    assert_true (event.accepted);
    assert_int_equal (event.leader_id, 4);
    raft_actor_event_clear (&event);

    raft_member_t members[2] = {s_member (1), s_member (2)};
    raft_pipe_send_members (ends->sender, 17, members, 2);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_MEMBERS);
    assert_int_equal (event.config_index, 17);
    assert_int_equal (event.member_count, 2);
    s_expect_member (&event.members[1], &members[1]);
    raft_actor_event_clear (&event);

    raft_pipe_send_installed (ends->sender, 300);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_INSTALLED);
    assert_int_equal (event.snapshot_index, 300);
    raft_actor_event_clear (&event);
}

//  PROGRESS lands in the handle's copy; the start handshake.
static void
test_actor_reports_progress_and_start (void **state)
{
    ends_t *ends = (ends_t *)*state;
    raft_actor_progress_t progress = {0};
    raft_actor_event_t event;

    raft_actor_match_t matches[2] = {{2, 40}, {3, 38}};
    raft_actor_progress_t sent = {300, 6, 250, 4096, matches, 2};
    zframe_t *body = raft_pipe_progress_frame (&sent);
    raft_pipe_send_progress (ends->sender, &body);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_PROGRESS);
    assert_ptr_equal (event.progress, &progress);
    assert_int_equal (progress.snapshot_index, 300);
    assert_int_equal (progress.first_index, 250);
    assert_int_equal (progress.log_bytes, 4096);
    assert_int_equal (progress.match_count, 2);
    assert_int_equal (progress.matches[1].id, 3);
    assert_int_equal (progress.matches[1].match_index, 38);
    raft_actor_event_clear (&event);

    //  The start handshake; a READY with frames after it is not one
    raft_pipe_send_ready (ends->sender);
    assert_int_equal (raft_pipe_recv_ready (ends->receiver), 0);
    zstr_send (ends->sender, "FAILED");
    assert_int_equal (raft_pipe_recv_ready (ends->receiver), -1);
    zstr_sendx (ends->sender, "READY", "300", NULL);
    assert_int_equal (raft_pipe_recv_ready (ends->receiver), -1);
    free (progress.matches);
}

//  METRICS carries the counters and a histogram that unpacks on the
//  broker's side into one of the same bounds.
static void
test_actor_reports_metrics (void **state)
{
    ends_t *ends = (ends_t *)*state;
    raft_actor_progress_t progress = {0};
    raft_actor_event_t event;
    size_t bound_count;
    const double *bounds = raft_actor_fsync_bounds (&bound_count);
    metric_histogram_t *sent = metric_histogram_new (bounds, bound_count);
    metric_histogram_t *received = metric_histogram_new (bounds, bound_count);
    assert_non_null (sent);
    metric_histogram_observe (sent, 0.002);
    metric_histogram_observe (sent, 0.3);
    raft_pipe_send_metrics (ends->sender, 1234, 7, sent);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_METRICS);
    assert_int_equal (event.metrics.entries_written, 1234);
    assert_int_equal (event.metrics.dropped_sends, 7);
    assert_int_equal (metric_histogram_unpack (received, event.metrics.fsync_histogram,
                                               event.metrics.fsync_histogram_size),
                      0);
    assert_int_equal (metric_histogram_count (received), 2);
    assert_true (metric_histogram_sum (received) == metric_histogram_sum (sent));
    raft_actor_event_clear (&event);
    metric_histogram_destroy (&sent);
    metric_histogram_destroy (&received);
}

static void
test_broker_to_actor (void **state)
{
    ends_t *ends = (ends_t *)*state;
    assert_int_equal (raft_pipe_send_compact (ends->sender, 500, 9), 0);
    zmsg_t *message = zmsg_recv (ends->receiver);
    char *command = zmsg_popstr (message);
    assert_string_equal (command, "COMPACT");
    uint64_t index = 0, term = 0;
    assert_int_equal (raft_pipe_decode_compact (message, &index, &term), 0);
    assert_int_equal (index, 500);
    assert_int_equal (term, 9);
    free (command);
    zmsg_destroy (&message);

    raft_member_t member = s_member (6);
    assert_int_equal (raft_pipe_send_admin (ends->sender, 77, RAFT_ACTOR_ADD_NODE, &member), 0);
    message = zmsg_recv (ends->receiver);
    command = zmsg_popstr (message);
    assert_string_equal (command, "ADMIN");
    uint64_t ticket = 0;
    uint8_t kind = 0;
    raft_member_t decoded;
    assert_int_equal (raft_pipe_decode_admin (message, &ticket, &kind, &decoded), 0);
    assert_int_equal (ticket, 77);
    assert_int_equal (kind, RAFT_ACTOR_ADD_NODE);
    s_expect_member (&decoded, &member);
    free (command);
    zmsg_destroy (&message);

    //  PROPOSE: the commands of a flush in one records frame
    raft_pipe_batch_t *batch = raft_pipe_batch_new ();
    assert_int_equal (raft_pipe_send_proposals (ends->sender, batch), 0); //  none: nothing sent
    zframe_t *payload = zframe_new ("cmd", 3);
    raft_pipe_add_proposal (batch, 5, &payload);
    assert_null (payload);
    payload = zframe_new (NULL, 0);
    raft_pipe_add_proposal (batch, 6, &payload);
    assert_int_equal (raft_pipe_batch_count (batch), 2);
    assert_int_equal (raft_pipe_send_proposals (ends->sender, batch), 0);
    assert_int_equal (raft_pipe_batch_count (batch), 0);
    raft_pipe_batch_destroy (&batch);
    message = zmsg_recv (ends->receiver);
    command = zmsg_popstr (message);
    assert_string_equal (command, "PROPOSE");
    assert_int_equal (zmsg_size (message), 1);
    zframe_t *records = zmsg_first (message);
    size_t offset = 0;
    const uint8_t *data;
    size_t size;
    assert_int_equal (raft_pipe_next_proposal (records, &offset, &ticket, &data, &size), 1);
    assert_int_equal (ticket, 5);
    assert_int_equal (size, 3);
    assert_memory_equal (data, "cmd", 3);
    assert_int_equal (raft_pipe_next_proposal (records, &offset, &ticket, &data, &size), 1);
    assert_int_equal (ticket, 6);
    assert_int_equal (size, 0);
    assert_int_equal (raft_pipe_next_proposal (records, &offset, &ticket, &data, &size), 0);
    //  A record cut short, or a size past the frame's end, is malformed
    zframe_t *cut = zframe_new (zframe_data (records), zframe_size (records) - 1);
    offset = 0;
    assert_int_equal (raft_pipe_next_proposal (cut, &offset, &ticket, &data, &size), 1);
    assert_int_equal (raft_pipe_next_proposal (cut, &offset, &ticket, &data, &size), -1);
    zframe_destroy (&cut);
    uint8_t oversize[12];
    little_endian_put_u64 (oversize, 7);
    little_endian_put_u32 (oversize + 8, 1);
    cut = zframe_new (oversize, sizeof oversize);
    offset = 0;
    assert_int_equal (raft_pipe_next_proposal (cut, &offset, &ticket, &data, &size), -1);
    zframe_destroy (&cut);
    free (command);
    zmsg_destroy (&message);
}

//  READ batches tickets, read back one by one; READS carries each
//  settled read intact.
static void
test_reads_cross_the_pipe (void **state)
{
    ends_t *ends = (ends_t *)*state;
    zmsg_t *batch = NULL;
    raft_pipe_add_read (&batch, 11);
    raft_pipe_add_read (&batch, 12);
    assert_int_equal (zmsg_size (batch), 3);
    char *command = zmsg_popstr (batch);
    assert_string_equal (command, "READ");
    free (command);
    //  The Raft thread's side: each ticket, then the end; a frame that is
    //  not a ticket is refused
    uint64_t ticket = 0;
    zmsg_pushstr (batch, "READ");
    zmsg_first (batch);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), 1);
    assert_int_equal (ticket, 11);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), 1);
    assert_int_equal (ticket, 12);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), 0);
    zmsg_addmem (batch, "short", 5);
    zmsg_first (batch);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), 1);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), 1);
    assert_int_equal (raft_pipe_next_read (batch, &ticket), -1);
    zmsg_destroy (&batch);

    raft_actor_progress_t progress = {0};
    raft_actor_event_t event;
    zmsg_t *reads = NULL;
    raft_pipe_send_reads (ends->sender, &reads); //  nothing: nothing sent
    raft_read_t ready = {.id = 11, .index = 40, .outcome = RAFT_READ_READY};
    raft_read_t refused = {.id = 12, .outcome = RAFT_READ_NOT_LEADER};
    raft_pipe_add_read_settled (&reads, &ready);
    raft_pipe_add_read_settled (&reads, &refused);
    raft_pipe_send_reads (ends->sender, &reads);
    assert_null (reads);
    assert_int_equal (s_decode (ends, &event, &progress), 0);
    assert_int_equal (event.kind, RAFT_ACTOR_READS);
    assert_int_equal (event.read_count, 2);
    assert_int_equal (event.reads[0].id, 11);
    assert_int_equal (event.reads[0].index, 40);
    assert_int_equal (event.reads[0].outcome, RAFT_READ_READY);
    assert_int_equal (event.reads[1].id, 12);
    assert_int_equal (event.reads[1].outcome, RAFT_READ_NOT_LEADER);
    raft_actor_event_clear (&event);
}

//  Sends command with one frame of size bytes.
static void
s_send_raw (ends_t *ends, const char *command, size_t size)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, command);
    uint8_t bytes[64] = {0};
    zmsg_addmem (message, bytes, size);
    zmsg_send (&message, ends->sender);
}

static void
test_malformed_refused (void **state)
{
    ends_t *ends = (ends_t *)*state;
    raft_actor_match_t match = {2, 40};
    raft_actor_progress_t kept = {1, 1, 1, 1, calloc (1, sizeof match), 1};
    assert_non_null (kept.matches);
    kept.matches[0] = match;
    raft_actor_event_t event;
    const char *commands[] = {"STATE",     "COMMITTED", "REJECTED", "ADMINED", "MEMBERS",
                              "INSTALLED", "PROGRESS",  "METRICS",  "READS",   "NONSENSE"};
    size_t sizes[] = {28, 15, 3, 12, 7, 9, 33, 8, 16, 8};
    for (size_t which = 0; which < 10; which++) {
        s_send_raw (ends, commands[which], sizes[which]);
        assert_int_equal (s_decode (ends, &event, &kept), -1);
        raft_actor_event_clear (&event);
    }
    //  A refused PROGRESS leaves the last good one
    assert_int_equal (kept.match_count, 1);
    assert_int_equal (kept.matches[0].match_index, 40);
    free (kept.matches);

    //  COMMITTED whose record claims more payload than its frame holds
    uint8_t header[16] = {0}, record[21] = {0};
    little_endian_put_u32 (record + 17, 1);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "COMMITTED");
    zmsg_addmem (message, header, sizeof header);
    zmsg_addmem (message, record, sizeof record);
    zmsg_send (&message, ends->sender);
    assert_int_equal (s_decode (ends, &event, &kept), -1);
    raft_actor_event_clear (&event);

    message = zmsg_new ();
    zmsg_addmem (message, "1234567", 7);
    uint64_t index, term;
    assert_int_equal (raft_pipe_decode_compact (message, &index, &term), -1);
    uint64_t ticket;
    uint8_t kind;
    raft_member_t member;
    assert_int_equal (raft_pipe_decode_admin (message, &ticket, &kind, &member), -1);
    zmsg_destroy (&message);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_actor_reports_state_and_entries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_actor_reports_admin_and_members, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_actor_reports_progress_and_start, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_actor_reports_metrics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_to_actor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reads_cross_the_pipe, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
