/*  slot_heap — an indexed binary min-heap; see slot_heap.h.  */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/must.h"
#include "util/slot_heap.h"

struct _slot_heap_t {
    slot_heap_before_fn *before; //  the order
    size_t slot_offset;          //  of each item's slot field
    void **items;                //  heap array, the first at 0
    size_t size;                 //  items held
    size_t capacity;             //  slots allocated in items
};

slot_heap_t *
slot_heap_new (slot_heap_before_fn *before, size_t slot_offset)
{
    assert (before);
    slot_heap_t *self = (slot_heap_t *)must_zalloc (sizeof (slot_heap_t));
    self->before = before;
    self->slot_offset = slot_offset;
    return self;
}

void
slot_heap_destroy (slot_heap_t **self_p)
{
    assert (self_p);
    slot_heap_t *self = *self_p;
    if (self) {
        free (self->items);
        free (self);
        *self_p = NULL;
    }
}

//  Puts item at position and records it in the item's slot.
static void
s_place (slot_heap_t *self, size_t position, void *item)
{
    self->items[position] = item;
    *(size_t *)((uint8_t *)item + self->slot_offset) = position;
}

static void
s_sift_up (slot_heap_t *self, size_t position)
{
    void *item = self->items[position];
    while (position > 0) {
        size_t parent = (position - 1) / 2;
        if (!self->before (item, self->items[parent]))
            break;
        s_place (self, position, self->items[parent]);
        position = parent;
    }
    s_place (self, position, item);
}

static void
s_sift_down (slot_heap_t *self, size_t position)
{
    void *item = self->items[position];
    while (true) {
        size_t child = 2 * position + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->before (self->items[child + 1], self->items[child]))
            child++;
        if (!self->before (self->items[child], item))
            break;
        s_place (self, position, self->items[child]);
        position = child;
    }
    s_place (self, position, item);
}

void
slot_heap_push (slot_heap_t *self, void *item)
{
    assert (self && item);
    if (self->size == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 8;
        self->items = (void **)must_realloc (self->items, self->capacity * sizeof (void *));
    }
    s_place (self, self->size++, item);
    s_sift_up (self, self->size - 1);
}

void *
slot_heap_first (slot_heap_t *self)
{
    assert (self);
    return self->size ? self->items[0] : NULL;
}

void
slot_heap_remove (slot_heap_t *self, void *item)
{
    assert (self && item);
    size_t position = *(size_t *)((uint8_t *)item + self->slot_offset);
    assert (position < self->size && self->items[position] == item);
    void *last = self->items[--self->size];
    if (position == self->size)
        return;
    s_place (self, position, last);
    //  The moved item may belong above or below its new place
    if (position > 0 && self->before (last, self->items[(position - 1) / 2]))
        s_sift_up (self, position);
    else
        s_sift_down (self, position);
}

size_t
slot_heap_size (slot_heap_t *self)
{
    assert (self);
    return self->size;
}

void *
slot_heap_item (slot_heap_t *self, size_t position)
{
    assert (self && position < self->size);
    return self->items[position];
}
