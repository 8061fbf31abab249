/*  slot_heap — a binary min-heap of borrowed items that know their own
    place in it (a size_t "slot" field at a fixed offset in each item), so
    that any item can be removed in O(log n), not only the first. The order
    is the caller's "before" function; it must be a strict total order on
    the items held for the heap to be deterministic.
*/
#ifndef SLOT_HEAP_H_INCLUDED
#define SLOT_HEAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _slot_heap_t slot_heap_t;

//  True when first must come out before second.
typedef bool (slot_heap_before_fn) (const void *first, const void *second);

//  An empty heap ordered by before; each item's slot is the size_t at
//  slot_offset bytes into it.
slot_heap_t *slot_heap_new (slot_heap_before_fn *before, size_t slot_offset);

//  Frees the heap, not the items.
void slot_heap_destroy (slot_heap_t **self_p);

//  Adds item (borrowed; not in any heap using the same slot).
void slot_heap_push (slot_heap_t *self, void *item);

//  The first item, NULL when empty.
void *slot_heap_first (slot_heap_t *self);

//  Takes item (which must be in this heap) out.
void slot_heap_remove (slot_heap_t *self, void *item);

size_t slot_heap_size (slot_heap_t *self);

//  The item at position (0 .. size - 1) in heap order, not sorted: for
//  visiting every item.
void *slot_heap_item (slot_heap_t *self, size_t position);

#endif
