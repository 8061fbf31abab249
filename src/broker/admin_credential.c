/*  admin_credential — keyed digest of the admin secret; see the header.  */
#include "broker/admin_credential.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct _admin_credential_t {
    uint8_t key[crypto_generichash_KEYBYTES]; //  random per process, digests are keyed with it
    uint8_t digest[crypto_generichash_BYTES]; //  the secret's keyed digest
};

//  presented's keyed digest into digest.
static void
s_digest (const admin_credential_t *self, const char *presented,
          uint8_t digest[crypto_generichash_BYTES])
{
    crypto_generichash (digest, crypto_generichash_BYTES, (const uint8_t *)presented,
                        strlen (presented), self->key, sizeof self->key);
}

admin_credential_t *
admin_credential_new (const char *secret)
{
    if (!secret || !*secret || sodium_init () < 0)
        return NULL;
    admin_credential_t *self = calloc (1, sizeof (admin_credential_t));
    if (!self)
        return NULL;
    randombytes_buf (self->key, sizeof self->key);
    s_digest (self, secret, self->digest);
    return self;
}

void
admin_credential_destroy (admin_credential_t **self_p)
{
    if (*self_p) {
        sodium_memzero (*self_p, sizeof (admin_credential_t));
        free (*self_p);
        *self_p = NULL;
    }
}

Raftq__Code
admin_credential_check (const admin_credential_t *self, const char *presented)
{
    if (!presented || !*presented)
        return RAFTQ__CODE__UNAUTHENTICATED;
    uint8_t digest[crypto_generichash_BYTES];
    s_digest (self, presented, digest);
    bool same = sodium_memcmp (digest, self->digest, sizeof digest) == 0;
    return same ? RAFTQ__CODE__OK : RAFTQ__CODE__PERMISSION_DENIED;
}
