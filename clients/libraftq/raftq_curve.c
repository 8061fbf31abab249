/*  raftq_curve — see raftq_curve.h. A certificate is loaded with czmq's
    zcert_load, which quietly falls back to the public file and an all-zero
    secret key when PATH_secret is missing or unreadable: such a pair would
    fail every handshake with nothing but silence, so it is refused here,
    as is a secret key that does not belong to the public one (a
    certificate pair mixed up with another).
*/
#include <errno.h>
#include <sodium.h>
#include <unistd.h>

#include "raftq_curve.h"

//  Writes "what: problem" into error and sets errno.
static void s_fail (char *error, size_t error_size, int code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_fail (char *error, size_t error_size, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    errno = code;
}

//  Why the file at path cannot be read, or 0 when it can.
static int
s_unreadable (const char *path)
{
    return access (path, R_OK) == 0 ? 0 : errno;
}

//  True unless key_pair, loaded from path and path_secret, holds a secret
//  key that belongs to its public key and that public key is the one in
//  the public file (what the cluster's allow-list was given).
static bool
s_mismatch (zcert_t *key_pair, const char *path)
{
    uint8_t derived[crypto_scalarmult_BYTES];
    if (sodium_is_zero (zcert_secret_key (key_pair), 32) ||
        crypto_scalarmult_base (derived, zcert_secret_key (key_pair)) != 0 ||
        memcmp (derived, zcert_public_key (key_pair), sizeof (derived)) != 0)
        return true;
    zconfig_t *public_part = zconfig_load (path);
    const char *public_text =
        public_part ? zconfig_get (public_part, "/curve/public-key", NULL) : NULL;
    bool mismatch = !public_text || !streq (public_text, zcert_public_txt (key_pair));
    zconfig_destroy (&public_part);
    return mismatch;
}

zcert_t *
raftq_curve_key_pair (const char *path, char *error, size_t error_size)
{
    if (!path || !*path) {
        zcert_t *fresh = zcert_new ();
        if (!fresh)
            s_fail (error, error_size, ENOMEM, "cannot make a CURVE key pair: out of memory");
        return fresh;
    }
    char *secret_path = zsys_sprintf ("%s_secret", path);
    if (!secret_path) {
        s_fail (error, error_size, ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    zcert_t *key_pair = NULL;
    int code = s_unreadable (path);
    if (code)
        s_fail (error, error_size, code, "%s: cannot read the client certificate: %s", path,
                strerror (code));
    else if ((code = s_unreadable (secret_path)))
        s_fail (error, error_size, code, "%s: cannot read the client's secret key: %s", secret_path,
                strerror (code));
    else if (!(key_pair = zcert_load (path)))
        s_fail (error, error_size, EINVAL, "%s: not a CURVE certificate (czmq format)", path);
    else if (s_mismatch (key_pair, path)) {
        s_fail (error, error_size, EINVAL, "%s: no secret key matching the public key of %s",
                secret_path, path);
        zcert_destroy (&key_pair);
    }
    zstr_free (&secret_path);
    return key_pair;
}

int
raftq_curve_check_key (const char *key, const char *what, char *error, size_t error_size)
{
    uint8_t decoded[32];
    if (!key || strlen (key) != RAFTQ_CURVE_KEY_TEXT || !zmq_z85_decode (decoded, key)) {
        s_fail (error, error_size, EINVAL,
                "%s: \"%.64s\" is not a CURVE public key (40 Z85 characters)", what,
                key ? key : "");
        return -1;
    }
    return 0;
}

void
raftq_curve_apply (zcert_t *key_pair, zsock_t *socket, const char *server_key)
{
    zcert_apply (key_pair, socket);
    zsock_set_curve_serverkey (socket, server_key);
}
