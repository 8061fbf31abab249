/*  client_request — a client request and its bookkeeping; see client_request.h.  */
#include "broker/client_request.h"

#include <sodium.h>

client_request_t *
client_request_new (zframe_t **routing_id_p, bool delimited)
{
    client_request_t *self = calloc (1, sizeof (client_request_t));
    if (!self) {
        zframe_destroy (routing_id_p);
        return NULL;
    }
    self->routing_id = *routing_id_p;
    *routing_id_p = NULL;
    self->delimited = delimited;
    self->arrived_at = zclock_usecs ();
    return self;
}

void
client_request_destroy (client_request_t **self_p)
{
    if (*self_p) {
        client_request_t *self = *self_p;
        client_request_wipe_password (self);
        sodium_memzero (self->session_token, sizeof (self->session_token));
        zframe_destroy (&self->routing_id);
        codec_request_clear (&self->decoded);
        free (self->verified_hash);
        free (self);
        *self_p = NULL;
    }
}

char *
client_request_password (client_request_t *self)
{
    const Raftq__Request *decoded = self->decoded.request;
    if (decoded && decoded->op_case == RAFTQ__REQUEST__OP_CREATE_ACCOUNT && decoded->create_account)
        return decoded->create_account->password;
    if (decoded && decoded->op_case == RAFTQ__REQUEST__OP_LOGIN && decoded->login)
        return decoded->login->password;
    return NULL;
}

void
client_request_wipe_password (client_request_t *self)
{
    char *password = client_request_password (self);
    if (password)
        sodium_memzero (password, strlen (password));
}
