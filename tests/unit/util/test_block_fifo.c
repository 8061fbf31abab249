/*  test_block_fifo — order across block boundaries, positions, drains that
    give blocks back and bursts that grow the ring of blocks, checked
    against a plain array model (valgrind sees every block freed).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/block_fifo.h"

//  An item larger than a word, so a copy of the wrong size shows
typedef struct {
    uint64_t number; //  the value pushed
    uint32_t check;  //  derived from number
} item_t;

static item_t
s_item (uint64_t number)
{
    item_t item = {.number = number, .check = (uint32_t)(number * 2654435761u)};
    return item;
}

static void
s_assert_item (const item_t *item, uint64_t number)
{
    assert_int_equal (item->number, number);
    assert_int_equal (item->check, (uint32_t)(number * 2654435761u));
}

static void
test_order_and_positions_across_blocks (void **state)
{
    (void)state;
    block_fifo_t *fifo = block_fifo_new (sizeof (item_t));
    assert_int_equal (block_fifo_size (fifo), 0);
    for (uint64_t number = 0; number < 1000; number++) {
        item_t item = s_item (number);
        block_fifo_push (fifo, &item);
    }
    assert_int_equal (block_fifo_size (fifo), 1000);
    for (size_t position = 0; position < 1000; position++)
        s_assert_item ((item_t *)block_fifo_at (fifo, position), position);
    //  Pops move the oldest position along, into the second block and past
    for (uint64_t number = 0; number < 300; number++) {
        item_t item;
        block_fifo_pop (fifo, &item);
        s_assert_item (&item, number);
    }
    assert_int_equal (block_fifo_size (fifo), 700);
    for (size_t position = 0; position < 700; position++)
        s_assert_item ((item_t *)block_fifo_at (fifo, position), 300 + position);
    block_fifo_destroy (&fifo);
    assert_null (fifo);
    block_fifo_destroy (&fifo);
}

//  A queue used as a sliding window: pushes and pops interleaved over many
//  block lengths, a drain to empty in the middle, then a burst far larger
//  than before, compared with a model after every step.
static void
test_sliding_window_drain_and_burst (void **state)
{
    (void)state;
    block_fifo_t *fifo = block_fifo_new (sizeof (item_t));
    uint64_t pushed = 0;
    uint64_t popped = 0;
    for (int round = 0; round < 3; round++) {
        size_t window = round == 2 ? 5000 : 37;
        for (int step = 0; step < 3000; step++) {
            item_t item = s_item (pushed++);
            block_fifo_push (fifo, &item);
            if (block_fifo_size (fifo) > window) {
                block_fifo_pop (fifo, &item);
                s_assert_item (&item, popped++);
            }
            assert_int_equal (block_fifo_size (fifo), pushed - popped);
            s_assert_item ((item_t *)block_fifo_at (fifo, 0), popped);
            s_assert_item ((item_t *)block_fifo_at (fifo, pushed - popped - 1), pushed - 1);
        }
        while (block_fifo_size (fifo)) {
            item_t item;
            block_fifo_pop (fifo, &item);
            s_assert_item (&item, popped++);
        }
    }
    assert_int_equal (pushed, popped);
    //  Empty, then used again: nothing of the old positions remains
    item_t item = s_item (7);
    block_fifo_push (fifo, &item);
    s_assert_item ((item_t *)block_fifo_at (fifo, 0), 7);
    block_fifo_destroy (&fifo);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_order_and_positions_across_blocks),
        cmocka_unit_test (test_sliding_window_drain_and_burst),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
