/*  raftq_curve (private) — the CurveZMQ keys of libraftq: a client's key
    pair from a czmq certificate (public part at PATH, secret part at
    PATH_secret) or a fresh one, the check of a server's Z85 public key,
    and making a socket a CURVE client of one server. Errors are one line
    naming the file or the key, with errno set, so that every caller can
    pass them on as they are.
*/
#ifndef RAFTQ_CURVE_H_INCLUDED
#define RAFTQ_CURVE_H_INCLUDED

#include <czmq.h>

//  Length of a Z85 CurveZMQ key, terminating zero excluded.
#define RAFTQ_CURVE_KEY_TEXT 40

//  The key pair of the certificate at path, or a fresh pair when path is
//  NULL or "". NULL with error set (and errno: the file's, or EINVAL for a
//  certificate without a usable secret key) when it cannot be used.
zcert_t *raftq_curve_key_pair (const char *path, char *error, size_t error_size);

//  0 if key is a Z85 CurveZMQ public key (40 characters that decode), else
//  -1 with errno EINVAL and error set naming what.
int raftq_curve_check_key (const char *key, const char *what, char *error, size_t error_size);

//  Makes socket, not yet connected, a CURVE client of the server whose
//  public key is server_key (checked), with key_pair as its own keys.
void raftq_curve_apply (zcert_t *key_pair, zsock_t *socket, const char *server_key);

#endif
