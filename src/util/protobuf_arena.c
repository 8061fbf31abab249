/*  protobuf_arena — see protobuf_arena.h. Blocks are chained; the first is
    the one kept across resets, sized to what the last use needed in all
    (capped), so a steady stream of similar messages settles on one block.
*/
#include "util/protobuf_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

//  Smallest block allocated.
#define ARENA_BLOCK_MIN 4096

typedef struct _block_t {
    struct _block_t *next; //  the block allocated before this one
    size_t size;           //  bytes of data
    size_t used;           //  bytes of data handed out
    alignas (max_align_t) unsigned char data[];
} block_t;

struct _protobuf_arena_t {
    ProtobufCAllocator allocator; //  what protobuf-c calls, pointing back here
    block_t *current;             //  the block allocations come from, newest first
    size_t wanted;                //  bytes the use since the last reset took in all
};

//  Rounds size up so that the next allocation stays aligned for any type.
static size_t
s_aligned (size_t size)
{
    size_t unit = alignof (max_align_t);
    return (size + unit - 1) / unit * unit;
}

static block_t *
s_block_new (size_t size, block_t *next)
{
    if (size < ARENA_BLOCK_MIN)
        size = ARENA_BLOCK_MIN;
    block_t *block = (block_t *)malloc (sizeof (block_t) + size);
    if (block) {
        block->next = next;
        block->size = size;
        block->used = 0;
    }
    return block;
}

static void *
s_alloc (void *argument, size_t size)
{
    protobuf_arena_t *self = (protobuf_arena_t *)argument;
    size = s_aligned (size ? size : 1);
    if (size > SIZE_MAX / 2)
        return NULL;
    self->wanted += size;
    block_t *block = self->current;
    if (!block || block->size - block->used < size) {
        size_t grown = block ? block->size * 2 : 0;
        block = s_block_new (size > grown ? size : grown, self->current);
        if (!block)
            return NULL;
        self->current = block;
    }
    void *memory = block->data + block->used;
    block->used += size;
    return memory;
}

//  Memory goes back all at once, at the reset.
static void
s_free (void *argument, void *pointer)
{
    (void)argument;
    (void)pointer;
}

protobuf_arena_t *
protobuf_arena_new (void)
{
    protobuf_arena_t *self = (protobuf_arena_t *)calloc (1, sizeof (protobuf_arena_t));
    if (self) {
        self->allocator.alloc = s_alloc;
        self->allocator.free = s_free;
        self->allocator.allocator_data = self;
    }
    return self;
}

static void
s_free_blocks (block_t *block)
{
    while (block) {
        block_t *next = block->next;
        free (block);
        block = next;
    }
}

void
protobuf_arena_destroy (protobuf_arena_t **self_p)
{
    if (*self_p) {
        s_free_blocks ((*self_p)->current);
        free (*self_p);
        *self_p = NULL;
    }
}

ProtobufCAllocator *
protobuf_arena_allocator (protobuf_arena_t *self)
{
    return &self->allocator;
}

void
protobuf_arena_reset (protobuf_arena_t *self)
{
    block_t *block = self->current;
    //  One block that held everything, and no more than may be kept: reused
    if (block && !block->next && block->size <= PROTOBUF_ARENA_KEPT_BYTES) {
        block->used = 0;
        self->wanted = 0;
        return;
    }
    //  Else one block for what this use needed in all, up to the cap
    s_free_blocks (block);
    size_t keep =
        self->wanted < PROTOBUF_ARENA_KEPT_BYTES ? self->wanted : PROTOBUF_ARENA_KEPT_BYTES;
    self->current = keep ? s_block_new (keep, NULL) : NULL;
    self->wanted = 0;
}

size_t
protobuf_arena_capacity (const protobuf_arena_t *self)
{
    size_t total = 0;
    for (const block_t *block = self->current; block; block = block->next)
        total += block->size;
    return total;
}
