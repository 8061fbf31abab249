/*  u64_table — zhashx keyed by u64 fields of the items; see u64_table.h.  */
#include "util/u64_table.h"

size_t
u64_table_hash (const void *key)
{
    uint64_t value = *(const uint64_t *)key;
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ULL;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebULL;
    value ^= value >> 31;
    return (size_t)value;
}

int
u64_table_compare (const void *first, const void *second)
{
    uint64_t first_key = *(const uint64_t *)first;
    uint64_t second_key = *(const uint64_t *)second;
    return first_key < second_key ? -1 : first_key > second_key ? 1 : 0;
}

zhashx_t *
u64_table_new (zhashx_destructor_fn *destructor)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, u64_table_hash);
        zhashx_set_key_comparator (table, u64_table_compare);
        zhashx_set_key_duplicator (table, NULL);
        zhashx_set_key_destructor (table, NULL);
        zhashx_set_destructor (table, destructor);
    }
    return table;
}
