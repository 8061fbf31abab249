/*  little_endian — fixed-width integers to and from bytes, least significant
    first. Used wherever integers cross a file or a pipe, so the format never
    depends on the host's byte order or a struct's padding.
*/
#ifndef LITTLE_ENDIAN_H_INCLUDED
#define LITTLE_ENDIAN_H_INCLUDED

#include <stdint.h>

static inline void
little_endian_put_u32 (uint8_t *target, uint32_t value)
{
    for (int byte = 0; byte < 4; byte++)
        target[byte] = (uint8_t)(value >> (8 * byte));
}

static inline void
little_endian_put_u64 (uint8_t *target, uint64_t value)
{
    for (int byte = 0; byte < 8; byte++)
        target[byte] = (uint8_t)(value >> (8 * byte));
}

static inline uint32_t
little_endian_get_u32 (const uint8_t *source)
{
    uint32_t value = 0;
    for (int byte = 0; byte < 4; byte++)
        value |= (uint32_t)source[byte] << (8 * byte);
    return value;
}

static inline uint64_t
little_endian_get_u64 (const uint8_t *source)
{
    uint64_t value = 0;
    for (int byte = 0; byte < 8; byte++)
        value |= (uint64_t)source[byte] << (8 * byte);
    return value;
}

#endif
