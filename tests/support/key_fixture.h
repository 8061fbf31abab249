/*  key_fixture — CurveZMQ certificates for tests: a scratch working
    directory holding keys/node-1.cert .. node-N.cert (czmq format, as
    raftq keygen writes them), since certificate paths in configs are
    relative to the working directory.
*/
#ifndef KEY_FIXTURE_H_INCLUDED
#define KEY_FIXTURE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define KEY_FIXTURE_KEY_SIZE 32

typedef struct _key_fixture_t key_fixture_t;

//  Makes the directory, count certificate pairs in it, and enters it.
//  Returns NULL on failure.
key_fixture_t *key_fixture_new (size_t count);

//  Goes back to the previous working directory and removes the keys.
void key_fixture_destroy (key_fixture_t **self_p);

//  Public and secret key of node id (1..count).
const uint8_t *key_fixture_public (key_fixture_t *self, size_t id);
const uint8_t *key_fixture_secret (key_fixture_t *self, size_t id);

//  Writes a new certificate pair at path and path_secret. Returns 0 or -1.
int key_fixture_certificate (const char *path, uint8_t *public_key, uint8_t *secret_key);

#endif
