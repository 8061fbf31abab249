/*  gateway_seal — the browser's session, sealed into its cookie.

    The gateway keeps no session table: the cluster's session token, the
    user's name and the session's CSRF token travel in the cookie, sealed
    with crypto_secretbox under the gateway key (authenticated encryption:
    the browser can neither read nor forge it). Gateways that share the
    key file can serve each other's browsers.
*/
#ifndef GATEWAY_SEAL_H_INCLUDED
#define GATEWAY_SEAL_H_INCLUDED

#include <stddef.h>

#define GATEWAY_USER_MAX  64 //  user name, terminating zero included
#define GATEWAY_TOKEN_MAX 80 //  cluster session token, ditto
#define GATEWAY_CSRF_MAX  48 //  the CSRF token's text, ditto

//  What a session cookie holds.
typedef struct {
    char user[GATEWAY_USER_MAX];   //  account name
    char token[GATEWAY_TOKEN_MAX]; //  the cluster's session token
    char csrf[GATEWAY_CSRF_MAX];   //  state-changing requests must echo it
} gateway_session_t;

typedef struct _gateway_seal_t gateway_seal_t;

//  Loads the key from key_file (64 hex digits), or makes a new random one
//  there (mode 0600, its directory too) when the file does not exist;
//  gateways starting at once on one missing file all get the same key.
//  NULL with error set when it cannot.
gateway_seal_t *gateway_seal_new (const char *key_file, char *error, size_t error_size);

//  Wipes the key and frees it; nulls *self_p.
void gateway_seal_destroy (gateway_seal_t **self_p);

//  Fills session for user and token, with a fresh random CSRF token.
//  Returns 0, or -1 when a value is too long for the record.
int gateway_session_init (gateway_session_t *session, const char *user, const char *token);

//  The cookie value for session (URL-safe base64 of nonce and box), a
//  new string to free, NULL when out of memory.
char *gateway_seal_session (gateway_seal_t *self, const gateway_session_t *session);

//  Opens a cookie value into *session. Returns 0, or -1 for anything that
//  is not a box this key sealed around a well-formed session.
int gateway_seal_open (gateway_seal_t *self, const char *value, gateway_session_t *session);

#endif
