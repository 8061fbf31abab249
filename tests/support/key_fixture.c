/*  key_fixture — scratch directories of CurveZMQ certificates.  */
#include "key_fixture.h"

#include <czmq.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "temp_dir.h"

struct _key_fixture_t {
    char dir[PATH_MAX];      //  the scratch directory, the working directory meanwhile
    char previous[PATH_MAX]; //  working directory before
    size_t count;            //  certificate pairs made
    uint8_t *keys;           //  public then secret key of each, 64 bytes a node
};

int
key_fixture_certificate (const char *path, uint8_t *public_key, uint8_t *secret_key)
{
    zcert_t *certificate = zcert_new ();
    if (!certificate)
        return -1;
    int rc = zcert_save (certificate, path);
    if (public_key)
        memcpy (public_key, zcert_public_key (certificate), KEY_FIXTURE_KEY_SIZE);
    if (secret_key)
        memcpy (secret_key, zcert_secret_key (certificate), KEY_FIXTURE_KEY_SIZE);
    zcert_destroy (&certificate);
    return rc;
}

key_fixture_t *
key_fixture_new (size_t count)
{
    key_fixture_t *self = calloc (1, sizeof (key_fixture_t));
    if (!self)
        return NULL;
    self->keys = calloc (count ? count : 1, 2 * KEY_FIXTURE_KEY_SIZE);
    bool ready = self->keys && getcwd (self->previous, sizeof (self->previous)) &&
                 temp_dir_make (self->dir, sizeof (self->dir), "keys") == 0;
    if (ready && (chdir (self->dir) || mkdir ("keys", 0700)))
        ready = false;
    for (size_t id = 1; ready && id <= count; id++, self->count++) {
        char path[64];
        snprintf (path, sizeof (path), "keys/node-%zu.cert", id);
        uint8_t *pair = self->keys + (id - 1) * 2 * KEY_FIXTURE_KEY_SIZE;
        ready = key_fixture_certificate (path, pair, pair + KEY_FIXTURE_KEY_SIZE) == 0;
    }
    if (!ready)
        key_fixture_destroy (&self);
    return self;
}

void
key_fixture_destroy (key_fixture_t **self_p)
{
    if (!*self_p)
        return;
    key_fixture_t *self = *self_p;
    if (self->previous[0] && chdir (self->previous) == 0 && self->dir[0])
        temp_dir_remove (self->dir);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

const uint8_t *
key_fixture_public (key_fixture_t *self, size_t id)
{
    return id >= 1 && id <= self->count ? self->keys + (id - 1) * 2 * KEY_FIXTURE_KEY_SIZE : NULL;
}

const uint8_t *
key_fixture_secret (key_fixture_t *self, size_t id)
{
    const uint8_t *pair = key_fixture_public (self, id);
    return pair ? pair + KEY_FIXTURE_KEY_SIZE : NULL;
}
