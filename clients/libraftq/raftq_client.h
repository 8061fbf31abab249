/*  raftq_client (private) — what the client class lends the other classes
    of libraftq (queue, chat, admin and status operations, subscriptions): its leader-following call
    with exactly-once retries, and its error text. Private to libraftq; the
    public API is include/raftq.h.
*/
#ifndef RAFTQ_CLIENT_H_INCLUDED
#define RAFTQ_CLIENT_H_INCLUDED

#include "raftq_wire.h"

//  Runs a leader-only request until a node gives a definitive answer or
//  the total timeout passes. Stamps it with the client id, a fresh seq and
//  the session token (unless request has a token of its own); every
//  attempt carries the same ones. On a definitive answer returns its code
//  and the reply in *reply_p (caller frees); otherwise the last failure's
//  code and *reply_p NULL. The error text is set either way.
raftq_code_t raftq_client_call (raftq_client_t *self, Raftq__Request *request,
                                Raftq__Reply **reply_p);

//  raftq_client_call for requests the cluster answers slowly (admin
//  operations): an attempt at the known leader waits at least attempt_ms
//  and the whole call at least total_ms; while the leader is being looked
//  for, a node gets the ordinary attempt time, so a dead node cannot use
//  up the call. The client's own timeouts are kept otherwise.
raftq_code_t raftq_client_call_patient (raftq_client_t *self, Raftq__Request *request,
                                        Raftq__Reply **reply_p, int attempt_ms, int total_ms);

//  raftq_client_call for a request a leader may park up to wait_ms
//  (Reserve, Pop with a wait): every attempt and the whole call get wait_ms
//  more than the client's own timeouts.
raftq_code_t raftq_client_call_waiting (raftq_client_t *self, Raftq__Request *request,
                                        Raftq__Reply **reply_p, uint32_t wait_ms);

//  Sends request to the node at endpoint index alone, whatever its role,
//  and waits up to wait_ms for its answer: one attempt, no leader-following.
//  Returns RAFTQ_OK with the reply in *reply_p (caller frees), or the
//  failure with *reply_p NULL: the node's code, RAFTQ_TIMEOUT when it stays
//  silent, RAFTQ_INVALID_ARGUMENT for an index past the end. The error text
//  is set either way.
raftq_code_t raftq_client_ask_node (raftq_client_t *self, size_t index, Raftq__Request *request,
                                    int wait_ms, Raftq__Reply **reply_p);

//  Queues request (stamped as raftq_client_call stamps it) on the current
//  leader's socket without waiting; its seq in *seq_p. The reply comes
//  back through raftq_receive. Returns 0, or -1 with the error text set.
int raftq_client_send (raftq_client_t *self, Raftq__Request *request, uint64_t *seq_p);

//  Makes socket, before it connects, fit to talk to the node at endpoint
//  index: with CURVE when the client talks CurveZMQ (the subscription's
//  SUB uses it too: a node's PUB port has its client port's key). Returns
//  0, or -1 with the error text set when that node's key is not known.
int raftq_client_secure (raftq_client_t *self, size_t index, zsock_t *socket);

//  How long one node gets to answer (raftq_client_set_attempt_timeout).
int raftq_client_attempt_timeout (raftq_client_t *self);

//  The admin secret admin requests carry, NULL when the client has none.
const char *raftq_client_admin_secret (raftq_client_t *self);

//  The longest of minimum_ms and the client's own timeouts: how long a
//  call the cluster answers slowly may wait.
int raftq_client_patience (raftq_client_t *self, int minimum_ms);

//  Sets the client's error text; returns code, so that callers can write
//  "return raftq_client_fail (...)".
raftq_code_t raftq_client_fail (raftq_client_t *self, raftq_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  True when text (a topic name, a receipt: what) is a non-empty string;
//  else sets the error text (arguments are refused before anything is sent).
bool raftq_client_given (raftq_client_t *self, const char *text, const char *what);

//  For an OK reply without the result its operation promises: a node that
//  says OK without it is broken, not successful. Returns RAFTQ_INTERNAL.
raftq_code_t raftq_client_missing_result (raftq_client_t *self, const char *what);

#endif
