/*  protobuf_arena — a bump allocator that protobuf-c unpacks into, emptied
    in one step. A message unpacked with the default allocator costs a
    malloc and a free for itself, each sub-message, string and bytes field:
    about five of each for a publish command, on every node, for every
    entry applied. Unpacked into an arena it costs none once the arena has
    grown to the largest message seen, and nothing is freed field by field.

    Everything unpacked into an arena is gone at the next protobuf_arena_reset:
    no pointer into it may outlive that. Not thread-safe: one owner.
*/
#ifndef PROTOBUF_ARENA_H_INCLUDED
#define PROTOBUF_ARENA_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct _protobuf_arena_t protobuf_arena_t;

//  An empty arena; NULL when out of memory.
protobuf_arena_t *protobuf_arena_new (void);

void protobuf_arena_destroy (protobuf_arena_t **self_p);

//  The allocator to pass to protobuf-c's unpack (borrowed from self; its
//  free is a no-op). An allocation fails (NULL) only when out of memory.
ProtobufCAllocator *protobuf_arena_allocator (protobuf_arena_t *self);

//  Forgets everything allocated. The memory is kept for the next use, up to
//  PROTOBUF_ARENA_KEPT_BYTES: one large message does not pin its size.
void protobuf_arena_reset (protobuf_arena_t *self);

//  Bytes the arena holds now (what it kept, plus what it grew by since).
size_t protobuf_arena_capacity (const protobuf_arena_t *self);

//  Most bytes an arena keeps across a reset.
#define PROTOBUF_ARENA_KEPT_BYTES (256 * 1024)

#endif
