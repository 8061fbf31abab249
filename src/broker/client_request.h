/*  client_request — one client request, from its arrival on the client port
    to its reply: the routing envelope to answer on, the decoded request, and
    its bookkeeping while it waits (ticket, deadline, password work). Whoever
    holds a client_request_t owns it and ends it with client_request_destroy,
    after answering it.
*/
#ifndef CLIENT_REQUEST_H_INCLUDED
#define CLIENT_REQUEST_H_INCLUDED

#include <czmq.h>

#include "broker/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    zframe_t *routing_id;    //  the client's identity on the ROUTER
    bool delimited;          //  it sent the empty delimiter frame (REQ envelope)
    int64_t arrived_at;      //  zclock_usecs when it was read, for its latency
    codec_request_t decoded; //  the request and the dialect to answer in
    uint64_t ticket;         //  key in the waiting table once parked, else 0
    int64_t deadline;        //  zclock_mono time of its TIMEOUT reply
    void *deadline_handle;   //  its place in the waiting table's deadline list
    bool proposed;           //  its command went to Raft (else: password work first)
    char *verified_hash;     //  Login: the stored hash its password is checked against
    char session_token[33];  //  Login: the token proposed (as its key) for the reply
} client_request_t;

//  A request from routing_id (taken); NULL when out of memory (routing_id
//  is destroyed then).
client_request_t *client_request_new (zframe_t **routing_id_p, bool delimited);

//  Wipes the password it may carry and frees everything.
void client_request_destroy (client_request_t **self_p);

//  The plaintext password a CreateAccount or Login carries, NULL if none.
char *client_request_password (client_request_t *self);

//  Overwrites the plaintext password as soon as the hasher has its copy.
void client_request_wipe_password (client_request_t *self);

#ifdef __cplusplus
}
#endif

#endif
