/*  meta_store — the Raft hard state (current term, vote) on disk, crash-safe.

    A save is durable when it returns: the core's term and vote must be on disk
    before any message that depends on them leaves the node. A torn or corrupt
    save never yields a wrong state: the previous good state is kept.
*/
#ifndef META_STORE_H_INCLUDED
#define META_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _meta_store_t meta_store_t;

//  Opens (creating if needed) the meta file in directory path. A new store
//  has term 0 and no vote. On failure NULL and a one-line reason in error.
meta_store_t *meta_store_open (const char *path, char *error, size_t error_size);

void meta_store_destroy (meta_store_t **self_p);

uint64_t meta_store_term (meta_store_t *self);
uint32_t meta_store_voted_for (meta_store_t *self);

//  Saves term and vote durably. The term must not go back, and within a
//  term a cast vote must not change (either aborts: Raft's promises, which
//  the core keeps). Returns 0 or -1.
int meta_store_save (meta_store_t *self, uint64_t term, uint32_t voted_for);

#endif
