/*  raftq_wire — the client's side of the wire: raftq.Request bodies out,
    raftq.Reply bodies in, in the [empty][body] envelope a DEALER must add
    itself (DESIGN 5), and the mapping of replies onto the public types of
    raftq.h. Never asserts on what a node sent: a bad reply is skipped.
    Private to libraftq.
*/
#ifndef RAFTQ_WIRE_H_INCLUDED
#define RAFTQ_WIRE_H_INCLUDED

#include <czmq.h>

#include "raftq.h"
#include "raftq.pb-c.h"

//  Initializes request to carry operation (a submessage, not copied) as
//  its op_case: the one place that knows which field an op_case names.
void raftq_wire_request (Raftq__Request *request, Raftq__Request__OpCase op_case, void *operation);

//  Packs request into a malloc'd body; its size in *size. NULL when out of
//  memory.
uint8_t *raftq_wire_encode (const Raftq__Request *request, size_t *size);

//  Sends [empty][body] on a DEALER without blocking. Returns 0, or -1 when
//  the socket cannot take it now (queue full, no route).
int raftq_wire_send (zsock_t *socket, const uint8_t *body, size_t size);

//  Reads one whole message from a readable DEALER and decodes its reply.
//  Returns the reply (free with raftq__reply__free_unpacked), or NULL when
//  nothing was waiting or the message was not a reply in its envelope.
Raftq__Reply *raftq_wire_receive (zsock_t *socket);

//  The reply's code as a raftq_code_t; RAFTQ_INTERNAL for a code this
//  library does not know.
raftq_code_t raftq_wire_code (const Raftq__Reply *reply);

//  Fills the asynchronous reply summary from a decoded reply.
void raftq_wire_summary (const Raftq__Reply *reply, raftq_reply_t *summary);

//  Fills status from a node's status message.
void raftq_wire_status (const Raftq__NodeStatus *node, raftq_status_t *status);

//  Fills detail from a node's status message, with its detail if it sent one.
void raftq_wire_status_detail (const Raftq__NodeStatus *node, raftq_status_detail_t *detail);

//  A malloc'd copy of a message's bytes with one 0 byte after them (so
//  that text can be used as a C string); NULL when out of memory.
void *raftq_wire_payload (const ProtobufCBinaryData *payload);

//  A NULL-terminated copy of count strings (free with raftq_strings_free),
//  or NULL when out of memory.
char **raftq_wire_strings (char *const *strings, size_t count);

#endif
