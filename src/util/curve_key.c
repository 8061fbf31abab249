/*  curve_key — Z85 and czmq certificate files for CurveZMQ keys.

    Certificates are read with zconfig, the reader zcert itself uses, but
    only the key asked for: loading another node's public certificate
    never pulls a secret that happens to lie beside it into memory.
*/
#include "util/curve_key.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

int
curve_key_decode (const char *text, uint8_t key[CURVE_KEY_SIZE])
{
    if (!text || strlen (text) != CURVE_KEY_TEXT_LENGTH)
        return -1;
    return zmq_z85_decode (key, text) ? 0 : -1;
}

void
curve_key_encode (const uint8_t key[CURVE_KEY_SIZE], char text[CURVE_KEY_TEXT_SIZE])
{
    zmq_z85_encode (text, key, CURVE_KEY_SIZE);
}

int
curve_key_read (const char *path, curve_key_kind_t kind, uint8_t key[CURVE_KEY_SIZE], char *problem,
                size_t problem_size)
{
    const char *item = kind == CURVE_KEY_SECRET ? "curve/secret-key" : "curve/public-key";
    errno = 0;
    //  zconfig_load says nothing of why it failed; a missing file is the
    //  common case, so ask the file system first
    if (access (path, R_OK)) {
        snprintf (problem, problem_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        snprintf (problem, problem_size, "%s is not a czmq certificate", path);
        return -1;
    }
    const char *text = zconfig_get (root, item, NULL);
    int rc = curve_key_decode (text, key);
    if (rc)
        snprintf (problem, problem_size, "%s holds no valid %s", path, item);
    zconfig_destroy (&root);
    return rc;
}
