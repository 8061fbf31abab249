/*  digest — the state hash stream. See digest.h. */

#include <sodium.h>
#include <string.h>

#include "util/digest.h"
#include "util/must.h"

struct _digest_t {
    crypto_generichash_state state; //  BLAKE2b state so far
};

digest_t *
digest_new (const char *domain)
{
    digest_t *self = (digest_t *)must_zalloc (sizeof (digest_t));
    crypto_generichash_init (&self->state, NULL, 0, crypto_generichash_BYTES);
    digest_string (self, domain);
    return self;
}

void
digest_destroy (digest_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
digest_u64 (digest_t *self, uint64_t value)
{
    uint8_t bytes[8];
    for (int position = 0; position < 8; position++)
        bytes[position] = (uint8_t)(value >> (8 * position));
    crypto_generichash_update (&self->state, bytes, sizeof bytes);
}

void
digest_bytes (digest_t *self, const void *data, size_t size)
{
    digest_u64 (self, size);
    if (size)
        crypto_generichash_update (&self->state, (const uint8_t *)data, size);
}

void
digest_string (digest_t *self, const char *string)
{
    digest_bytes (self, string, string ? strlen (string) : 0);
}

uint64_t
digest_finish (digest_t **self_p)
{
    digest_t *self = *self_p;
    uint8_t hash[crypto_generichash_BYTES];
    crypto_generichash_final (&self->state, hash, sizeof hash);
    uint64_t value = 0;
    for (int position = 0; position < 8; position++)
        value |= (uint64_t)hash[position] << (8 * position);
    digest_destroy (self_p);
    return value;
}
