/*  test_u64_table — keys live in the items, every key bit reaches the hash,
    items are freed once, by the table's destructor.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/u64_table.h"

typedef struct {
    uint64_t key; //  the table's key, inside the item
    int *freed;   //  counts destructor calls
} item_t;

static void
s_item_destroy (void **item_p)
{
    item_t *item = (item_t *)*item_p;
    (*item->freed)++;
    free (item);
    *item_p = NULL;
}

static void
test_items_found_by_their_own_key (void **state)
{
    (void)state;
    int freed = 0;
    zhashx_t *table = u64_table_new (s_item_destroy);
    assert_non_null (table);
    for (uint64_t key = 0; key < 1000; key++) {
        item_t *item = (item_t *)calloc (1, sizeof (item_t));
        item->key = key << 40; //  only high bits differ
        item->freed = &freed;
        assert_int_equal (zhashx_insert (table, &item->key, item), 0);
    }
    assert_int_equal (zhashx_size (table), 1000);
    uint64_t probe = 7ULL << 40;
    item_t *found = (item_t *)zhashx_lookup (table, &probe);
    assert_non_null (found);
    assert_int_equal (found->key, probe);
    zhashx_delete (table, &probe);
    assert_int_equal (freed, 1);
    assert_null (zhashx_lookup (table, &probe));
    zhashx_destroy (&table);
    assert_int_equal (freed, 1000);
}

static void
test_high_bits_spread_over_buckets (void **state)
{
    (void)state;
    uint64_t one = 1ULL << 40, two = 2ULL << 40;
    assert_true (u64_table_hash (&one) % 64 != u64_table_hash (&two) % 64 ||
                 u64_table_hash (&one) != u64_table_hash (&two));
    assert_true (u64_table_compare (&one, &two) < 0);
    assert_true (u64_table_compare (&two, &one) > 0);
    assert_int_equal (u64_table_compare (&one, &one), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_items_found_by_their_own_key),
        cmocka_unit_test (test_high_bits_spread_over_buckets),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
