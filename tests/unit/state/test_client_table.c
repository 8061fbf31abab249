/*  test_client_table — the exactly-once table on its own: what it
    remembers per client, eviction of the least recently applied client
    (a new seq is a use, a lookup is not) by count and by bytes, the state hash that does not
    follow insertion or bucket order, and its part of the snapshot: saved
    in eviction order, restored alike, refused when apply could not have
    left it so.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "state/client_table.h"
#include "state/command.h"

//  Remembers an OK reply carrying seq as client's answer, applied at index.
static void
s_remember (client_table_t *table, uint64_t client, uint64_t seq, uint64_t index)
{
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = RAFTQ__CODE__OK;
    reply.index = index;
    reply.seq = seq;
    uint8_t request[COMMAND_DIGEST_SIZE] = {(uint8_t)seq};
    client_table_remember (table, client_table_lookup (table, client), client, seq, index, request,
                           &reply);
}

static uint64_t
s_digest (client_table_t *table)
{
    digest_t *digest = digest_new ("test_client_table");
    client_table_digest (table, digest);
    return digest_finish (&digest);
}

static void
test_remembers_the_latest_reply (void **state)
{
    (void)state;
    client_table_t *table = client_table_new (10, CLIENT_TABLE_MAX_BYTES);
    assert_null (client_table_lookup (table, 7));
    s_remember (table, 7, 1, 3);
    s_remember (table, 7, 2, 5);
    assert_int_equal (client_table_size (table), 1);
    client_t *client = client_table_lookup (table, 7);
    assert_non_null (client);
    assert_int_equal (client_table_seq (client), 2);
    Raftq__Reply *reply = client_table_reply (client);
    assert_int_equal (reply->seq, 2);
    assert_int_equal (reply->index, 5);
    raftq__reply__free_unpacked (reply, NULL);
    client_table_destroy (&table);
    assert_null (table);
}

static void
test_evicts_the_least_recently_applied (void **state)
{
    (void)state;
    client_table_t *table = client_table_new (3, CLIENT_TABLE_MAX_BYTES);
    s_remember (table, 300, 1, 1);
    s_remember (table, 100, 1, 2);
    s_remember (table, 200, 1, 3);
    //  A new seq is a use; looking up is not
    s_remember (table, 300, 2, 4);
    assert_non_null (client_table_lookup (table, 100));
    s_remember (table, 400, 1, 5);
    assert_int_equal (client_table_size (table), 3);
    assert_null (client_table_lookup (table, 100));
    s_remember (table, 500, 1, 6);
    assert_null (client_table_lookup (table, 200));
    assert_non_null (client_table_lookup (table, 300));
    assert_non_null (client_table_lookup (table, 400));
    assert_non_null (client_table_lookup (table, 500));
    client_table_destroy (&table);
}

//  The same clients reached through another history (a table that grew
//  with clients since evicted) hash the same: the hash sorts by id and
//  does not follow bucket order; the order of use counts.
static void
test_digest_follows_ids_not_buckets (void **state)
{
    (void)state;
    client_table_t *first = client_table_new (50, CLIENT_TABLE_MAX_BYTES);
    client_table_t *second = client_table_new (50, CLIENT_TABLE_MAX_BYTES);
    for (uint64_t client = 1; client <= 200; client++)
        s_remember (second, client * 7919, 1, client);
    //  Ids that differ only in high bits, used at the same indexes
    for (uint64_t client = 1; client <= 50; client++) {
        s_remember (first, client << 40, 1, 1000 + client);
        s_remember (second, client << 40, 1, 1000 + client);
    }
    assert_int_equal (client_table_size (second), 50);
    assert_int_equal (s_digest (first), s_digest (second));
    s_remember (second, 1ULL << 40, 2, 1051);
    assert_int_not_equal (s_digest (first), s_digest (second));
    client_table_destroy (&first);
    client_table_destroy (&second);
}

//  Saves table, packs and unpacks the state as a snapshot file would.
static Raftq__State__FsmState *
s_saved (client_table_t *table, uint64_t applied_index)
{
    Raftq__State__FsmState state = RAFTQ__STATE__FSM_STATE__INIT;
    state.applied_index = applied_index;
    client_table_snapshot_save (table, &state);
    size_t size = raftq__state__fsm_state__get_packed_size (&state);
    uint8_t *packed = (uint8_t *)malloc (size + 1);
    assert_non_null (packed);
    raftq__state__fsm_state__pack (&state, packed);
    client_table_snapshot_release (&state);
    assert_null (state.clients);
    Raftq__State__FsmState *saved = raftq__state__fsm_state__unpack (NULL, size, packed);
    free (packed);
    assert_non_null (saved);
    return saved;
}

static void
test_snapshot_round_trip (void **state)
{
    (void)state;
    client_table_t *table = client_table_new (3, CLIENT_TABLE_MAX_BYTES);
    s_remember (table, 300, 1, 1);
    s_remember (table, 100, 1, 2);
    s_remember (table, 300, 2, 3);
    Raftq__State__FsmState *saved = s_saved (table, 3);
    assert_int_equal (saved->n_clients, 2);
    assert_int_equal (saved->clients[0]->client_id, 100);
    assert_int_equal (saved->clients[1]->client_id, 300);

    client_table_t *restored = client_table_new (3, CLIENT_TABLE_MAX_BYTES);
    char error[128] = "";
    assert_int_equal (client_table_snapshot_load (restored, saved, error, sizeof error), 0);
    raftq__state__fsm_state__free_unpacked (saved, NULL);
    assert_int_equal (s_digest (restored), s_digest (table));
    //  Eviction goes on in the same order: 100 first
    client_table_t *both[2] = {table, restored};
    for (int which = 0; which < 2; which++) {
        s_remember (both[which], 200, 1, 4);
        s_remember (both[which], 400, 1, 5);
        assert_null (client_table_lookup (both[which], 100));
        assert_non_null (client_table_lookup (both[which], 300));
    }
    assert_int_equal (s_digest (restored), s_digest (table));
    client_table_destroy (&table);
    client_table_destroy (&restored);
}

static void
test_snapshot_load_refuses (void **state)
{
    (void)state;
    const char *expected[] = {"client 0", "out of order", "out of order", "duplicate",
                              "does not decode"};
    for (int which = 0; which < 5; which++) {
        client_table_t *table = client_table_new (10, CLIENT_TABLE_MAX_BYTES);
        s_remember (table, 7, 1, 1);
        s_remember (table, 8, 1, 2);
        Raftq__State__FsmState *saved = s_saved (table, 2);
        client_table_destroy (&table);
        Raftq__State__ClientState **clients = saved->clients;
        if (which == 0)
            clients[0]->client_id = 0;
        else if (which == 1) //  use order against apply order
            clients[0]->last_index = 2;
        else if (which == 2) //  applied after the state it is part of
            saved->applied_index = 1;
        else if (which == 3)
            clients[1]->client_id = 7;
        else
            memset (clients[0]->reply.data, 0xff, clients[0]->reply.len);
        client_table_t *restored = client_table_new (10, CLIENT_TABLE_MAX_BYTES);
        char error[128] = "";
        assert_int_equal (client_table_snapshot_load (restored, saved, error, sizeof error), -1);
        if (!strstr (error, expected[which]))
            fail_msg ("case %d: '%s' does not mention '%s'", which, error, expected[which]);
        raftq__state__fsm_state__free_unpacked (saved, NULL);
        client_table_destroy (&restored);
    }
}

//  Remembers a reply of about size bytes (its error text) for client.
static void
s_remember_sized (client_table_t *table, uint64_t client, uint64_t index, size_t size)
{
    static char text[16 * 1024];
    assert_true (size < sizeof text);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.error = memset (text, 'x', size);
    text[size] = 0;
    uint8_t request[COMMAND_DIGEST_SIZE] = {1};
    client_table_remember (table, client_table_lookup (table, client), client, 1, index, request,
                           &reply);
}

static void
test_bounded_in_bytes (void **state)
{
    (void)state;
    //  Room for three clients of 1000-byte replies, not four
    uint64_t limit = 3 * (1010 + CLIENT_TABLE_CLIENT_BYTES);
    client_table_t *table = client_table_new (100, limit);
    for (uint64_t client = 1; client <= 3; client++)
        s_remember_sized (table, client, client, 1000);
    assert_int_equal (client_table_size (table), 3);
    assert_true (client_table_bytes (table) <= limit);
    s_remember_sized (table, 4, 4, 1000);
    assert_int_equal (client_table_size (table), 3);
    assert_null (client_table_lookup (table, 1));
    //  One big reply evicts as many old ones as it needs, never itself
    s_remember_sized (table, 5, 5, 2500);
    assert_int_equal (client_table_size (table), 1);
    assert_non_null (client_table_lookup (table, 5));
    s_remember_sized (table, 6, 6, 10 * 1000);
    assert_int_equal (client_table_size (table), 1);
    assert_non_null (client_table_lookup (table, 6));
    //  A smaller new reply for the same client gives bytes back
    s_remember_sized (table, 6, 7, 10);
    uint64_t small = client_table_bytes (table);
    assert_true (small < 200);
    //  A restored table charges the same bytes
    Raftq__State__FsmState *saved = s_saved (table, 7);
    client_table_t *restored = client_table_new (100, limit);
    char error[128];
    assert_int_equal (client_table_snapshot_load (restored, saved, error, sizeof error), 0);
    assert_int_equal (client_table_bytes (restored), small);
    raftq__state__fsm_state__free_unpacked (saved, NULL);
    client_table_destroy (&restored);
    client_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_remembers_the_latest_reply),
        cmocka_unit_test (test_evicts_the_least_recently_applied),
        cmocka_unit_test (test_bounded_in_bytes),
        cmocka_unit_test (test_digest_follows_ids_not_buckets),
        cmocka_unit_test (test_snapshot_round_trip),
        cmocka_unit_test (test_snapshot_load_refuses),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
