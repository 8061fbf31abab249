/*  digest — the state hash: a BLAKE2b stream over the replicated state that
    every part of it (fsm, chat, event_log) feeds in a fixed order. Every
    value is fed length- or count-prefixed, little-endian, so two different
    states never produce the same byte stream. The result is the first 8
    bytes of the digest as a little-endian u64.
*/
#ifndef DIGEST_H_INCLUDED
#define DIGEST_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _digest_t digest_t;

//  Starts a digest; domain names what is hashed (and its version).
digest_t *digest_new (const char *domain);

//  Frees a digest that is not finished.
void digest_destroy (digest_t **self_p);

void digest_u64 (digest_t *self, uint64_t value);

//  size, then the bytes.
void digest_bytes (digest_t *self, const void *data, size_t size);

//  A C string as bytes (NULL as the empty string).
void digest_string (digest_t *self, const char *string);

//  The hash; destroys the digest.
uint64_t digest_finish (digest_t **self_p);

#endif
