/*  admin_credential — the admin secret a node checks admin requests
    against (AddNode, RemoveNode, TransferLeadership, TakeSnapshot, and a
    Status with the detail or the state hash). The node keeps no copy of
    the secret: only its BLAKE2b digest under a key drawn at start, so a
    presented secret is digested the same way and the two digests compared
    in constant time; what a comparison's timing could tell is about a
    random digest, not the secret. A keyed digest rather than a password
    hash because the secret is 256 random bits, not something a person
    chose: there is nothing to slow a guesser down on, and every admin and
    detail request pays the check.
*/
#ifndef ADMIN_CREDENTIAL_H_INCLUDED
#define ADMIN_CREDENTIAL_H_INCLUDED

#include <stddef.h>

#include "raftq.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _admin_credential_t admin_credential_t;

//  A credential checking against secret (NUL-terminated, not kept).
//  NULL when secret is empty or out of memory.
admin_credential_t *admin_credential_new (const char *secret);

void admin_credential_destroy (admin_credential_t **self_p);

//  What presented earns: RAFTQ__CODE__OK when it is the secret,
//  UNAUTHENTICATED when NULL or empty, PERMISSION_DENIED otherwise.
Raftq__Code admin_credential_check (const admin_credential_t *self, const char *presented);

#ifdef __cplusplus
}
#endif

#endif
