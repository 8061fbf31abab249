/*  utf8 — strict UTF-8 decoding, the one definition of "valid text" that
    names (fsm), message text (chat) and JSON output (codec) share.
*/
#ifndef UTF8_H_INCLUDED
#define UTF8_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Length (1..4) of the well-formed UTF-8 sequence at bytes, with at most
//  available bytes to read; 0 if there is none there: a stray or truncated
//  sequence, an overlong form, a surrogate, a code point past U+10FFFF.
//  Sets *code_point (when not NULL) to the decoded value.
size_t utf8_sequence (const uint8_t *bytes, size_t available, uint32_t *code_point);

#endif
