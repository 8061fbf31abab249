/*  block_fifo — a FIFO of fixed-size items in fixed-size blocks; see
    block_fifo.h. The blocks hang off a ring of block pointers, which still
    doubles, but holds one pointer per BLOCK_FIFO_ITEMS items. One emptied
    block is kept as a spare, so a queue that hovers at a block boundary
    does not allocate and free a block per message.
*/
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/block_fifo.h"
#include "util/must.h"

//  Items per block: a power of two, so positions split with shifts
#define BLOCK_FIFO_ITEMS 128
//  Block pointers of the smallest ring
#define BLOCK_FIFO_RING_MIN 4

struct _block_fifo_t {
    size_t item_size;     //  bytes per item
    uint8_t **ring;       //  block pointers, the oldest block at ring [first]
    size_t ring_capacity; //  slots in ring, a power of two
    size_t first;         //  slot of the oldest block
    size_t blocks;        //  blocks in use, from first on
    size_t head;          //  item of the oldest block that is the oldest item
    size_t count;         //  items held
    uint8_t *spare;       //  an emptied block kept for the next one, or NULL
};

block_fifo_t *
block_fifo_new (size_t item_size)
{
    assert (item_size);
    block_fifo_t *self = (block_fifo_t *)must_zalloc (sizeof (block_fifo_t));
    self->item_size = item_size;
    self->ring_capacity = BLOCK_FIFO_RING_MIN;
    self->ring = (uint8_t **)must_zalloc (self->ring_capacity * sizeof (uint8_t *));
    return self;
}

void
block_fifo_destroy (block_fifo_t **self_p)
{
    assert (self_p);
    block_fifo_t *self = *self_p;
    if (self) {
        for (size_t block = 0; block < self->blocks; block++)
            free (self->ring[(self->first + block) & (self->ring_capacity - 1)]);
        free (self->ring);
        free (self->spare);
        free (self);
        *self_p = NULL;
    }
}

size_t
block_fifo_size (block_fifo_t *self)
{
    assert (self);
    return self->count;
}

//  Moves the block pointers into a ring of capacity slots, oldest first.
static void
s_ring_resize (block_fifo_t *self, size_t capacity)
{
    uint8_t **ring = (uint8_t **)must_zalloc (capacity * sizeof (uint8_t *));
    for (size_t block = 0; block < self->blocks; block++)
        ring[block] = self->ring[(self->first + block) & (self->ring_capacity - 1)];
    free (self->ring);
    self->ring = ring;
    self->ring_capacity = capacity;
    self->first = 0;
}

void *
block_fifo_at (block_fifo_t *self, size_t position)
{
    assert (self && position < self->count);
    size_t offset = self->head + position;
    uint8_t *block =
        self->ring[(self->first + offset / BLOCK_FIFO_ITEMS) & (self->ring_capacity - 1)];
    return block + (offset % BLOCK_FIFO_ITEMS) * self->item_size;
}

void
block_fifo_push (block_fifo_t *self, const void *item)
{
    assert (self && item);
    if (self->head + self->count == self->blocks * BLOCK_FIFO_ITEMS) {
        if (self->blocks == self->ring_capacity)
            s_ring_resize (self, self->ring_capacity * 2);
        uint8_t *block = self->spare;
        self->spare = NULL;
        if (!block)
            block = (uint8_t *)must_alloc (BLOCK_FIFO_ITEMS * self->item_size);
        self->ring[(self->first + self->blocks) & (self->ring_capacity - 1)] = block;
        self->blocks++;
    }
    self->count++;
    memcpy (block_fifo_at (self, self->count - 1), item, self->item_size);
}

void
block_fifo_pop (block_fifo_t *self, void *item)
{
    assert (self && item && self->count);
    memcpy (item, block_fifo_at (self, 0), self->item_size);
    self->count--;
    self->head++;
    //  The oldest block is done with once its last item goes, or the
    //  queue is empty (the next push starts a block afresh)
    if (self->head == BLOCK_FIFO_ITEMS || self->count == 0) {
        uint8_t *emptied = self->ring[self->first];
        self->ring[self->first] = NULL;
        self->first = (self->first + 1) & (self->ring_capacity - 1);
        self->blocks--;
        self->head = 0;
        if (self->spare)
            free (emptied);
        else
            self->spare = emptied;
        //  A drained burst gives back its ring too; halving at a quarter
        //  keeps pops amortized O(1)
        if (self->ring_capacity > BLOCK_FIFO_RING_MIN && self->blocks <= self->ring_capacity / 4)
            s_ring_resize (self, self->ring_capacity / 2);
    }
}
