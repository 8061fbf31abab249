/*  u64_table — czmq hash tables keyed by a u64 that lives inside each item
    (a ticket, a client id, a message id). The key pointer is the item's own
    field: nothing is copied, nothing is freed but the item. Keys may be
    chosen by a hostile client, so every bit of the key reaches the bucket
    choice (the splitmix64 finalizer), not only the low ones.
*/
#ifndef U64_TABLE_H_INCLUDED
#define U64_TABLE_H_INCLUDED

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  A new table whose keys are pointers to u64 fields of its items;
//  destructor (NULL: none) frees an item when it leaves the table.
//  Insert with zhashx_insert (table, &item->key_field, item).
zhashx_t *u64_table_new (zhashx_destructor_fn *destructor);

//  The hash and the order of two u64 keys, for other czmq containers.
size_t u64_table_hash (const void *key);
int u64_table_compare (const void *first, const void *second);

#ifdef __cplusplus
}
#endif

#endif
