/*  test_delivery — acknowledged consumption in the fsm, driven with packed
    commands as the server does: reservations and their receipts, expiry by
    the Expire entry's leader time only, redelivery counts, Nack with and
    without a delay, the oldest ready message first, dead letters with
    their history and events, quotas counting held messages (a dead-letter
    move never refused), exactly-once of the new operations, and a seeded
    random history applied to two state machines and through a snapshot
    that must agree byte for byte.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_fixture.h"
#include "queue_fixture.h"
#include "state/queues.h"

#define T0 1700000000000LL

//  One delivery command with storage for what it points to.
typedef struct {
    Raftq__State__Command command;
    Raftq__CreateTopic create_topic;
    Raftq__Reserve reserve;
    Raftq__Ack ack;
    Raftq__Nack nack;
    Raftq__State__Expire expire;
    Raftq__State__Limits limits;
    uint8_t nonce[QUEUES_RECEIPT_NONCE_SIZE];
} delivery_t;

//  What a Reserve answered.
typedef struct {
    Raftq__Code code;
    char payload[64];
    char receipt[128];
    uint32_t deliveries;
    int64_t visible_at_ms;
    char original_topic[64];
    uint32_t original_deliveries;
} reserved_t;

static Raftq__State__Command *
s_command (delivery_t *holder, int64_t now_ms)
{
    memset (holder, 0, sizeof *holder);
    raftq__state__command__init (&holder->command);
    holder->command.timestamp_ms = now_ms;
    return &holder->command;
}

static Raftq__State__Command *
s_create (delivery_t *holder, const char *name, uint32_t max_deliveries, const char *dead_letter)
{
    Raftq__State__Command *command = s_command (holder, T0);
    raftq__create_topic__init (&holder->create_topic);
    holder->create_topic.name = (char *)name;
    holder->create_topic.max_deliveries = max_deliveries;
    holder->create_topic.dead_letter = (char *)(dead_letter ? dead_letter : "");
    command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command->create_topic = &holder->create_topic;
    return command;
}

//  A Reserve whose nonce is filled from nonce_seed.
static Raftq__State__Command *
s_reserve_command (delivery_t *holder, const char *topic, uint32_t visibility_ms, int64_t now_ms,
                   uint8_t nonce_seed)
{
    Raftq__State__Command *command = s_command (holder, now_ms);
    raftq__reserve__init (&holder->reserve);
    holder->reserve.topic = (char *)topic;
    holder->reserve.visibility_ms = visibility_ms;
    for (size_t position = 0; position < sizeof holder->nonce; position++)
        holder->nonce[position] = (uint8_t)(nonce_seed + position);
    command->receipt_nonce.data = holder->nonce;
    command->receipt_nonce.len = sizeof holder->nonce;
    command->op_case = RAFTQ__STATE__COMMAND__OP_RESERVE;
    command->reserve = &holder->reserve;
    return command;
}

static Raftq__State__Command *
s_ack_command (delivery_t *holder, const char *receipt, int64_t now_ms)
{
    Raftq__State__Command *command = s_command (holder, now_ms);
    raftq__ack__init (&holder->ack);
    holder->ack.receipt = (char *)receipt;
    command->op_case = RAFTQ__STATE__COMMAND__OP_ACK;
    command->ack = &holder->ack;
    return command;
}

static Raftq__State__Command *
s_nack_command (delivery_t *holder, const char *receipt, uint32_t delay_ms, int64_t now_ms)
{
    Raftq__State__Command *command = s_command (holder, now_ms);
    raftq__nack__init (&holder->nack);
    holder->nack.receipt = (char *)receipt;
    holder->nack.delay_ms = delay_ms;
    command->op_case = RAFTQ__STATE__COMMAND__OP_NACK;
    command->nack = &holder->nack;
    return command;
}

static Raftq__State__Command *
s_expire_command (delivery_t *holder, int64_t now_ms)
{
    Raftq__State__Command *command = s_command (holder, now_ms);
    raftq__state__expire__init (&holder->expire);
    command->op_case = RAFTQ__STATE__COMMAND__OP_EXPIRE;
    command->expire = &holder->expire;
    return command;
}

static Raftq__Code
s_run (fsm_t *fsm, Raftq__State__Command *command)
{
    return fsm_fixture_run (fsm, command);
}

static reserved_t
s_reserve (fsm_t *fsm, const char *topic, uint32_t visibility_ms, int64_t now_ms)
{
    delivery_t holder;
    fsm_output_t output;
    reserved_t seen;
    memset (&seen, 0, sizeof seen);
    fsm_fixture_apply (
        fsm,
        s_reserve_command (&holder, topic, visibility_ms, now_ms, (uint8_t)fsm_applied_index (fsm)),
        &output);
    seen.code = output.reply->code;
    if (seen.code == RAFTQ__CODE__OK) {
        assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_RESERVED);
        Raftq__Reserved *reserved = output.reply->reserved;
        assert_string_equal (reserved->topic, topic);
        snprintf (seen.payload, sizeof seen.payload, "%.*s", (int)reserved->payload.len,
                  (const char *)reserved->payload.data);
        snprintf (seen.receipt, sizeof seen.receipt, "%s", reserved->receipt);
        seen.deliveries = reserved->deliveries;
        seen.visible_at_ms = reserved->visible_at_ms;
        snprintf (seen.original_topic, sizeof seen.original_topic, "%s",
                  reserved->original_topic ? reserved->original_topic : "");
        seen.original_deliveries = reserved->original_deliveries;
    }
    fsm_output_clear (&output);
    return seen;
}

static Raftq__Code
s_ack (fsm_t *fsm, const char *receipt, int64_t now_ms)
{
    delivery_t holder;
    return s_run (fsm, s_ack_command (&holder, receipt, now_ms));
}

static Raftq__Code
s_nack (fsm_t *fsm, const char *receipt, uint32_t delay_ms, int64_t now_ms)
{
    delivery_t holder;
    return s_run (fsm, s_nack_command (&holder, receipt, delay_ms, now_ms));
}

//  Applies an Expire at now_ms; returns how many events it emitted.
static size_t
s_expire (fsm_t *fsm, int64_t now_ms)
{
    delivery_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, s_expire_command (&holder, now_ms), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    size_t events = output.event_count;
    fsm_output_clear (&output);
    return events;
}

//  The status of the topic at position.
static Raftq__TopicStatus
s_status (fsm_t *fsm, size_t position)
{
    Raftq__TopicStatus status;
    fsm_topic_status (fsm, position, &status);
    return status;
}

static uint64_t
s_ready (fsm_t *fsm, const char *topic)
{
    uint64_t ready = 0;
    assert_int_equal (fsm_topic_ready (fsm, topic, &ready), 0);
    return ready;
}

static fsm_t *
s_world (void)
{
    fsm_t *fsm = fsm_new (NULL);
    assert_non_null (fsm);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "jobs", NULL), RAFTQ__CODE__OK);
    return fsm;
}

static void
test_reserve_and_ack (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    assert_int_equal (s_reserve (fsm, "jobs", 1000, T0).code, RAFTQ__CODE__EMPTY);
    assert_int_equal (s_reserve (fsm, "none", 1000, T0).code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "a"), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "b"), RAFTQ__CODE__OK);

    reserved_t first = s_reserve (fsm, "jobs", 1000, T0);
    assert_int_equal (first.code, RAFTQ__CODE__OK);
    assert_string_equal (first.payload, "a");
    assert_int_equal (first.deliveries, 1);
    assert_int_equal (first.visible_at_ms, T0 + 1000);
    assert_int_equal (strlen (first.receipt), 48);
    //  0: the default visibility
    reserved_t second = s_reserve (fsm, "jobs", 0, T0);
    assert_string_equal (second.payload, "b");
    assert_int_equal (second.visible_at_ms, T0 + QUEUES_DEFAULT_VISIBILITY_MS);
    assert_string_not_equal (first.receipt, second.receipt);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "jobs", NULL), RAFTQ__CODE__EMPTY);
    Raftq__TopicStatus status = s_status (fsm, 0);
    assert_int_equal (status.ready, 0);
    assert_int_equal (status.reserved, 2);
    assert_int_equal (fsm_next_deadline (fsm), T0 + 1000);

    uint64_t bytes = fsm_state_bytes (fsm);
    assert_int_equal (s_ack (fsm, first.receipt, T0 + 10), RAFTQ__CODE__OK);
    assert_true (fsm_state_bytes (fsm) < bytes);
    //  Once acked, the receipt names nothing: refused, nothing changes
    uint64_t hash = fsm_state_hash (fsm);
    delivery_t holder;
    fsm_fixture_expect_error (fsm, s_ack_command (&holder, first.receipt, T0),
                              RAFTQ__CODE__NOT_FOUND, "receipt unknown");
    fsm_fixture_expect_error (fsm, s_nack_command (&holder, first.receipt, 0, T0),
                              RAFTQ__CODE__NOT_FOUND, "receipt unknown");
    assert_int_not_equal (fsm_state_hash (fsm), hash); //  the applied index moved
    assert_int_equal (s_status (fsm, 0).reserved, 1);
    //  A guessed receipt: the right index, another random part
    char guessed[128];
    snprintf (guessed, sizeof guessed, "%.16s%032x", second.receipt, 0);
    assert_int_equal (s_ack (fsm, guessed, T0), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_ack (fsm, second.receipt, T0), RAFTQ__CODE__OK);
    assert_int_equal (fsm_next_deadline (fsm), INT64_MAX);
    fsm_destroy (&fsm);
}

static void
test_refusals (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    delivery_t holder;
    Raftq__Code code;
    char error[256];
    //  Without the leader's nonce, or beyond the longest visibility
    Raftq__State__Command *command = s_reserve_command (&holder, "jobs", 1000, T0, 1);
    command->receipt_nonce.len = 0;
    assert_int_equal (fsm_validate (fsm, command, &code, error, sizeof error), -1);
    assert_int_equal (code, RAFTQ__CODE__INVALID_ARGUMENT);
    fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT, "nonce");
    fsm_fixture_expect_error (
        fsm, s_reserve_command (&holder, "jobs", (uint32_t)QUEUES_MAX_HOLD_MS + 1, T0, 1),
        RAFTQ__CODE__INVALID_ARGUMENT, "visibility_ms");
    fsm_fixture_expect_error (fsm, s_ack_command (&holder, "", T0), RAFTQ__CODE__INVALID_ARGUMENT,
                              "receipt");
    fsm_fixture_expect_error (fsm,
                              s_nack_command (&holder, "x", (uint32_t)QUEUES_MAX_HOLD_MS + 1, T0),
                              RAFTQ__CODE__INVALID_ARGUMENT, "delay_ms");
    //  Dead-letter arguments: both or neither, an existing other topic
    fsm_fixture_expect_error (fsm, s_create (&holder, "t", 3, NULL), RAFTQ__CODE__INVALID_ARGUMENT,
                              "dead_letter");
    fsm_fixture_expect_error (fsm, s_create (&holder, "t", 0, "jobs"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "max_deliveries");
    fsm_fixture_expect_error (fsm, s_create (&holder, "t", 3, "t"), RAFTQ__CODE__INVALID_ARGUMENT,
                              "own");
    fsm_fixture_expect_error (fsm, s_create (&holder, "t", 3, "nowhere"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "does not exist");
    assert_int_equal (fsm_topic_count (fsm), 1);
    fsm_destroy (&fsm);
}

static void
test_expiry_redelivers (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "a"), RAFTQ__CODE__OK);
    reserved_t first = s_reserve (fsm, "jobs", 1000, T0);
    //  Only an Expire stamped at or after the deadline ends it
    assert_int_equal (s_expire (fsm, T0 + 999), 0);
    assert_int_equal (s_status (fsm, 0).reserved, 1);
    assert_int_equal (s_reserve (fsm, "jobs", 1000, T0 + 5000).code, RAFTQ__CODE__EMPTY);
    //  Past its deadline, until the Expire, the receipt still holds
    assert_int_equal (s_expire (fsm, T0 + 1000), 0);
    assert_int_equal (s_ready (fsm, "jobs"), 1);
    assert_int_equal (s_ack (fsm, first.receipt, T0 + 1000), RAFTQ__CODE__NOT_FOUND);

    reserved_t second = s_reserve (fsm, "jobs", 1000, T0 + 2000);
    assert_string_equal (second.payload, "a");
    assert_int_equal (second.deliveries, 2);
    assert_string_not_equal (second.receipt, first.receipt);
    assert_int_equal (s_expire (fsm, T0 + 3000), 0);
    reserved_t third = s_reserve (fsm, "jobs", 1000, T0 + 3000);
    assert_int_equal (third.deliveries, 3);
    assert_int_equal (s_ack (fsm, second.receipt, T0 + 3000), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_ack (fsm, third.receipt, T0 + 3000), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "jobs", NULL), RAFTQ__CODE__EMPTY);
    fsm_destroy (&fsm);
}

static void
test_nack_and_oldest_first (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    const char *payloads[] = {"a", "b", "c"};
    for (size_t position = 0; position < 3; position++)
        assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", payloads[position]),
                          RAFTQ__CODE__OK);
    reserved_t a = s_reserve (fsm, "jobs", 1000, T0);
    reserved_t b = s_reserve (fsm, "jobs", 1000, T0);
    //  Nacked in the other order: still the oldest first
    assert_int_equal (s_nack (fsm, b.receipt, 0, T0 + 1), RAFTQ__CODE__OK);
    assert_int_equal (s_nack (fsm, a.receipt, 0, T0 + 1), RAFTQ__CODE__OK);
    assert_int_equal (s_nack (fsm, a.receipt, 0, T0 + 1), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_ready (fsm, "jobs"), 3);
    a = s_reserve (fsm, "jobs", 1000, T0 + 2);
    assert_string_equal (a.payload, "a");
    assert_int_equal (a.deliveries, 2);
    queue_fixture_expect_pop (fsm, "jobs", "b", 2);

    //  With a delay: delayed, not ready, until an Expire at its end
    assert_int_equal (s_nack (fsm, a.receipt, 500, T0 + 10), RAFTQ__CODE__OK);
    Raftq__TopicStatus status = s_status (fsm, 0);
    assert_int_equal (status.delayed, 1);
    assert_int_equal (status.ready, 1);
    assert_int_equal (fsm_next_deadline (fsm), T0 + 510);
    reserved_t c = s_reserve (fsm, "jobs", 1000, T0 + 20);
    assert_string_equal (c.payload, "c");
    assert_int_equal (s_reserve (fsm, "jobs", 1000, T0 + 600).code, RAFTQ__CODE__EMPTY);
    assert_int_equal (s_expire (fsm, T0 + 510), 0);
    assert_int_equal (s_status (fsm, 0).delayed, 0);
    a = s_reserve (fsm, "jobs", 1000, T0 + 600);
    assert_string_equal (a.payload, "a");
    assert_int_equal (a.deliveries, 3);
    fsm_destroy (&fsm);
}

//  A Pop of a dead letter: the payload and its history.
static void
s_expect_dead_pop (fsm_t *fsm, const char *topic, const char *payload, const char *origin,
                   uint32_t deliveries)
{
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, topic, NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    Raftq__Popped *popped = output.reply->popped;
    assert_memory_equal (popped->payload.data, payload, strlen (payload));
    assert_string_equal (popped->original_topic, origin);
    assert_int_equal (popped->deliveries, deliveries);
    fsm_output_clear (&output);
}

static void
test_dead_letters (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    delivery_t holder;
    assert_int_equal (s_run (fsm, s_create (&holder, "poison", 2, "jobs")), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "poison", "p"), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "poison", "q"), RAFTQ__CODE__OK);
    uint64_t bytes = fsm_state_bytes (fsm);

    //  p: two deliveries end without an ack, then it moves, with an event
    reserved_t first = s_reserve (fsm, "poison", 100, T0);
    assert_int_equal (s_expire (fsm, T0 + 100), 0);
    reserved_t second = s_reserve (fsm, "poison", 100, T0 + 200);
    assert_string_equal (second.payload, "p");
    assert_int_equal (second.deliveries, 2);
    assert_int_equal (s_expire (fsm, T0 + 300), 1);
    assert_int_equal (s_ack (fsm, second.receipt, T0 + 300), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_ack (fsm, first.receipt, T0 + 300), RAFTQ__CODE__NOT_FOUND);
    Raftq__TopicStatus status = s_status (fsm, 1);
    assert_string_equal (status.name, "poison");
    assert_int_equal (status.dead_lettered, 1);
    assert_int_equal (status.max_deliveries, 2);
    assert_string_equal (status.dead_letter, "jobs");
    assert_int_equal (status.ready, 1);
    assert_int_equal (s_ready (fsm, "jobs"), 1);
    //  Moved, not copied: only the origin's name is new
    assert_int_equal (fsm_state_bytes (fsm), bytes + strlen ("poison"));

    //  q: a Nack at its last delivery moves it at once
    reserved_t q = s_reserve (fsm, "poison", 100, T0 + 400);
    assert_int_equal (s_nack (fsm, q.receipt, 0, T0 + 410), RAFTQ__CODE__OK);
    q = s_reserve (fsm, "poison", 100, T0 + 420);
    assert_int_equal (q.deliveries, 2);
    assert_int_equal (s_nack (fsm, q.receipt, 1000, T0 + 430), RAFTQ__CODE__OK);
    assert_int_equal (s_status (fsm, 1).dead_lettered, 2);
    assert_int_equal (s_status (fsm, 1).delayed, 0);

    //  In the dead-letter topic, with their history, reserved or popped
    reserved_t letter = s_reserve (fsm, "jobs", 100, T0 + 500);
    assert_string_equal (letter.payload, "p");
    assert_int_equal (letter.deliveries, 1);
    assert_string_equal (letter.original_topic, "poison");
    assert_int_equal (letter.original_deliveries, 2);
    s_expect_dead_pop (fsm, "jobs", "q", "poison", 2);
    assert_int_equal (s_ack (fsm, letter.receipt, T0 + 500), RAFTQ__CODE__OK);
    assert_int_equal (fsm_state_bytes (fsm), bytes - 2 * (32 + 1));
    fsm_destroy (&fsm);
}

//  Applies command with the quotas in limits.
static Raftq__Code
s_run_limited (fsm_t *fsm, Raftq__State__Command *command, uint64_t max_topic_messages)
{
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_topic_messages = max_topic_messages;
    command->limits = &limits;
    return s_run (fsm, command);
}

static void
test_quotas_count_held_messages (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    delivery_t holder;
    assert_int_equal (s_run (fsm, s_create (&holder, "poison", 1, "jobs")), RAFTQ__CODE__OK);
    queue_fixture_t queued;
    for (int count = 0; count < 2; count++)
        assert_int_equal (
            s_run_limited (fsm,
                           queue_fixture_command (&queued, QUEUE_PUBLISH, "jobs", "j", 1, 0, 0), 2),
            RAFTQ__CODE__OK);
    //  A reserved message still counts toward max_topic_messages
    reserved_t held = s_reserve (fsm, "jobs", 100, T0);
    assert_int_equal (held.code, RAFTQ__CODE__OK);
    assert_int_equal (
        s_run_limited (fsm, queue_fixture_command (&queued, QUEUE_PUBLISH, "jobs", "j", 1, 0, 0),
                       2),
        RAFTQ__CODE__RESOURCE_EXHAUSTED);
    //  A dead-letter move into the full topic is never refused
    assert_int_equal (
        s_run_limited (fsm, queue_fixture_command (&queued, QUEUE_PUBLISH, "poison", "x", 1, 0, 0),
                       2),
        RAFTQ__CODE__OK);
    s_reserve (fsm, "poison", 100, T0);
    assert_int_equal (s_expire (fsm, T0 + 100), 1);
    assert_int_equal (s_status (fsm, 0).ready + s_status (fsm, 0).reserved, 3);
    assert_int_equal (s_status (fsm, 1).dead_lettered, 1);
    fsm_destroy (&fsm);
}

static void
test_exactly_once (void **state)
{
    (void)state;
    fsm_t *fsm = s_world ();
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "a"), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "b"), RAFTQ__CODE__OK);
    delivery_t holder;
    Raftq__State__Command *command = s_reserve_command (&holder, "jobs", 1000, T0, 9);
    command->client_id = 77;
    command->seq = 1;
    fsm_output_t first;
    fsm_fixture_apply (fsm, command, &first);
    //  The retry (another nonce: the leader draws again) gets the same delivery
    command = s_reserve_command (&holder, "jobs", 1000, T0 + 1, 10);
    command->client_id = 77;
    command->seq = 1;
    fsm_output_t retry;
    fsm_fixture_apply (fsm, command, &retry);
    assert_string_equal (first.reply->reserved->receipt, retry.reply->reserved->receipt);
    assert_int_equal (s_status (fsm, 0).reserved, 1);
    //  The seq reused for an Ack is another request
    Raftq__State__Command *ack = s_ack_command (&holder, first.reply->reserved->receipt, T0);
    ack->client_id = 77;
    ack->seq = 1;
    fsm_fixture_expect_error (fsm, ack, RAFTQ__CODE__INVALID_ARGUMENT, "client id reused");
    fsm_output_clear (&first);
    fsm_output_clear (&retry);
    fsm_destroy (&fsm);
}

//  One random delivery command at time now_ms, among the receipts known;
//  NULL for a publish of payload (written there) to *topic_p.
static Raftq__State__Command *
s_random_command (delivery_t *holder, uint64_t *random, int64_t now_ms, char receipts[][128],
                  size_t receipt_count, char *payload, const char **topic_p)
{
    const char *topics[] = {"jobs", "poison"};
    const char *topic = topics[fsm_fixture_random (random) % 2];
    *topic_p = topic;
    switch (fsm_fixture_random (random) % 6) {
    case 0:
    case 1:
        snprintf (payload, 32, "m%" PRIu64, fsm_fixture_random (random) % 1000);
        return NULL;
    case 2:
        return s_reserve_command (holder, topic, 50 + fsm_fixture_random (random) % 300, now_ms,
                                  (uint8_t)fsm_fixture_random (random));
    case 3:
        return receipt_count
                   ? s_ack_command (holder, receipts[fsm_fixture_random (random) % receipt_count],
                                    now_ms)
                   : s_expire_command (holder, now_ms);
    case 4:
        return receipt_count
                   ? s_nack_command (holder, receipts[fsm_fixture_random (random) % receipt_count],
                                     (uint32_t)(fsm_fixture_random (random) % 3) * 100, now_ms)
                   : s_expire_command (holder, now_ms);
    default:
        return s_expire_command (holder, now_ms);
    }
}

//  Applies command (or a publish of payload to topic when NULL) to both
//  fsms: the same outputs.
static void
s_apply_both (fsm_t *one, fsm_t *other, Raftq__State__Command *command, const char *topic,
              const char *payload, char receipts[][128], size_t *receipt_count)
{
    queue_fixture_t queued;
    if (!command)
        command =
            queue_fixture_command (&queued, QUEUE_PUBLISH, topic, payload, strlen (payload), 0, 0);
    fsm_output_t first, second;
    fsm_fixture_apply (one, command, &first);
    fsm_fixture_apply (other, command, &second);
    assert_true (fsm_fixture_same_output (&first, &second));
    if (first.reply->result_case == RAFTQ__REPLY__RESULT_RESERVED && *receipt_count < 64)
        snprintf (receipts[(*receipt_count)++], 128, "%s", first.reply->reserved->receipt);
    fsm_output_clear (&first);
    fsm_output_clear (&second);
}

static void
test_random_history_deterministic (void **state)
{
    (void)state;
    uint64_t seed = fsm_fixture_seed ();
    printf ("test_random_history_deterministic: seed %" PRIu64 " (RAFTQ_TEST_SEED)\n", seed);
    uint64_t random = seed | 1;
    fsm_t *one = s_world ();
    fsm_t *other = s_world ();
    delivery_t holder;
    assert_int_equal (s_run (one, s_create (&holder, "poison", 3, "jobs")), RAFTQ__CODE__OK);
    assert_int_equal (s_run (other, s_create (&holder, "poison", 3, "jobs")), RAFTQ__CODE__OK);
    char receipts[64][128];
    size_t receipt_count = 0;
    int64_t now_ms = T0;
    for (int step = 0; step < 2000; step++) {
        now_ms += (int64_t)(fsm_fixture_random (&random) % 40);
        char payload[32];
        const char *topic;
        Raftq__State__Command *command =
            s_random_command (&holder, &random, now_ms, receipts, receipt_count, payload, &topic);
        s_apply_both (one, other, command, topic, payload, receipts, &receipt_count);
        if (receipt_count == 64)
            receipt_count = 0; //  old receipts are mostly dead: start over
        assert_int_equal (fsm_state_hash (one), fsm_state_hash (other));
        if (step % 500 == 250) {
            //  Through a snapshot: the same hash, and the same answers after
            fsm_t *restored = fsm_fixture_snapshot_copy (one, NULL);
            assert_int_equal (fsm_state_hash (restored), fsm_state_hash (one));
            assert_int_equal (fsm_next_deadline (restored), fsm_next_deadline (one));
            fsm_destroy (&other);
            other = restored;
        }
    }
    //  Everything ends: expire far ahead, drain, nothing lost or doubled
    s_apply_both (one, other, s_expire_command (&holder, now_ms + 100000), NULL, NULL, receipts,
                  &receipt_count);
    assert_int_equal (fsm_next_deadline (one), INT64_MAX);
    assert_int_equal (s_status (one, 0).reserved + s_status (one, 1).reserved, 0);
    //  The history reached the interesting cases
    assert_true (s_status (one, 1).dead_lettered > 0);
    assert_int_equal (fsm_state_hash (one), fsm_state_hash (other));
    fsm_destroy (&one);
    fsm_destroy (&other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_reserve_and_ack),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_expiry_redelivers),
        cmocka_unit_test (test_nack_and_oldest_first),
        cmocka_unit_test (test_dead_letters),
        cmocka_unit_test (test_quotas_count_held_messages),
        cmocka_unit_test (test_exactly_once),
        cmocka_unit_test (test_random_history_deterministic),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
