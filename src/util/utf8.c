/*  utf8 — strict UTF-8 decoding. See utf8.h. */

#include "util/utf8.h"

size_t
utf8_sequence (const uint8_t *bytes, size_t available, uint32_t *code_point)
{
    if (available == 0)
        return 0;
    uint8_t lead = bytes[0];
    size_t length;
    uint32_t value, smallest; //  smallest: the lowest value this length may encode
    if (lead < 0x80) {
        length = 1;
        value = lead;
        smallest = 0;
    } else if ((lead & 0xE0) == 0xC0) {
        length = 2;
        value = lead & 0x1F;
        smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        value = lead & 0x0F;
        smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        value = lead & 0x07;
        smallest = 0x10000;
    } else
        return 0;
    if (length > available)
        return 0;
    for (size_t index = 1; index < length; index++) {
        if ((bytes[index] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (bytes[index] & 0x3F);
    }
    if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    if (code_point)
        *code_point = value;
    return length;
}
