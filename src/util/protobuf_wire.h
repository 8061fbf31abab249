/*  protobuf_wire — walks the fields of a packed protobuf message without
    unpacking it: for the few places that need one or two scalar fields of a
    large message (who proposed a command, the header of a snapshot) and
    must not pay for decoding the rest. Input is untrusted: every length is
    checked against the end, nothing is allocated, nothing asserts.
*/
#ifndef PROTOBUF_WIRE_H_INCLUDED
#define PROTOBUF_WIRE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Wire types of the protobuf encoding.
typedef enum {
    PROTOBUF_WIRE_VARINT = 0,
    PROTOBUF_WIRE_FIXED64 = 1,
    PROTOBUF_WIRE_BYTES = 2,
    PROTOBUF_WIRE_FIXED32 = 5
} protobuf_wire_type_t;

//  One field as read off the wire.
typedef struct {
    uint32_t number;           //  field number
    protobuf_wire_type_t type; //  how it is encoded
    uint64_t value;            //  VARINT, FIXED64, FIXED32: the value
    const uint8_t *bytes;      //  BYTES: the contents, borrowed from the input
    size_t size;               //  BYTES: their size
} protobuf_wire_field_t;

//  A cursor over a packed message.
typedef struct {
    const uint8_t *at;  //  next byte to read
    const uint8_t *end; //  one past the last byte
} protobuf_wire_reader_t;

//  Starts reading data[0..size).
void protobuf_wire_reader_init (protobuf_wire_reader_t *reader, const void *data, size_t size);

//  Reads the next field into field. Returns 1 when a field was read, 0 at
//  the end of the message, -1 if the bytes are not a well-formed message
//  (cut short, a varint over 64 bits, a group or unknown wire type, field 0).
int protobuf_wire_next (protobuf_wire_reader_t *reader, protobuf_wire_field_t *field);

//  Reads a varint at *at, before end, moving *at past it. Returns 0, or -1
//  if it is cut short or longer than 64 bits.
int protobuf_wire_varint (const uint8_t **at, const uint8_t *end, uint64_t *value);

#ifdef __cplusplus
}
#endif

#endif
