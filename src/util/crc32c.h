/*  crc32c — CRC-32C (Castagnoli), the checksum of log and meta records.  */
#ifndef CRC32C_H_INCLUDED
#define CRC32C_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Continues a checksum: start with crc 0.
uint32_t crc32c_extend (uint32_t crc, const void *data, size_t size);

#endif
