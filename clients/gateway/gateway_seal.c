/*  gateway_seal — the key file and the sealed session cookie; see
    gateway_seal.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway_seal.h"
#include "util/secret_file.h"

#define S_KEY_HEX_SIZE (2 * crypto_secretbox_KEYBYTES)
//  Longest cookie value opened: a session's JSON is far below it.
#define S_COOKIE_MAX 1024
#define S_CSRF_BYTES 18

struct _gateway_seal_t {
    unsigned char key[crypto_secretbox_KEYBYTES]; //  seals and opens every cookie
};

gateway_seal_t *
gateway_seal_new (const char *key_file, char *error, size_t error_size)
{
    if (sodium_init () < 0) {
        snprintf (error, error_size, "libsodium cannot start");
        return NULL;
    }
    gateway_seal_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    //  Made as the brokers make their secrets (a temporary file linked
    //  into place): of several gateways starting at once on one missing
    //  file, the first link wins, and none reads a half-written key.
    //  A key others may read is refused: whoever reads it opens every
    //  browser's cookie (the cluster session token inside) and seals new
    //  ones.
    char text[SECRET_FILE_MAX];
    size_t decoded = 0;
    int status = secret_file_read (key_file, true, text, sizeof text, NULL, error, error_size);
    if (status == 0 && (strlen (text) != S_KEY_HEX_SIZE ||
                        sodium_hex2bin (self->key, sizeof self->key, text, S_KEY_HEX_SIZE, NULL,
                                        &decoded, NULL) != 0 ||
                        decoded != sizeof self->key)) {
        snprintf (error, error_size, "%s: not a gateway key (%d hex digits)", key_file,
                  S_KEY_HEX_SIZE);
        status = -1;
    }
    sodium_memzero (text, sizeof text);
    if (status)
        gateway_seal_destroy (&self);
    return self;
}

void
gateway_seal_destroy (gateway_seal_t **self_p)
{
    if (!*self_p)
        return;
    sodium_memzero ((*self_p)->key, sizeof (*self_p)->key);
    free (*self_p);
    *self_p = NULL;
}

//  Copies text into a field of size bytes; -1 when it does not fit.
static int
s_copy (char *field, size_t size, const char *text)
{
    if (!text || strlen (text) >= size)
        return -1;
    strcpy (field, text);
    return 0;
}

int
gateway_session_init (gateway_session_t *session, const char *user, const char *token)
{
    memset (session, 0, sizeof *session);
    unsigned char random[S_CSRF_BYTES];
    randombytes_buf (random, sizeof random);
    sodium_bin2base64 (session->csrf, sizeof session->csrf, random, sizeof random,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s_copy (session->user, sizeof session->user, user) ||
                   s_copy (session->token, sizeof session->token, token)
               ? -1
               : 0;
}

char *
gateway_seal_session (gateway_seal_t *self, const gateway_session_t *session)
{
    char *plain = NULL;
    json_t *object =
        json_pack ("{s:s, s:s, s:s}", "u", session->user, "t", session->token, "c", session->csrf);
    if (object)
        plain = json_dumps (object, JSON_COMPACT);
    json_decref (object);
    if (!plain)
        return NULL;
    size_t plain_size = strlen (plain);
    size_t sealed_size = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain_size;
    unsigned char *sealed = malloc (sealed_size);
    size_t text_size =
        sodium_base64_ENCODED_LEN (sealed_size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *text = malloc (text_size);
    if (sealed && text) {
        randombytes_buf (sealed, crypto_secretbox_NONCEBYTES);
        crypto_secretbox_easy (sealed + crypto_secretbox_NONCEBYTES, (unsigned char *)plain,
                               plain_size, sealed, self->key);
        sodium_bin2base64 (text, text_size, sealed, sealed_size,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    } else {
        free (text);
        text = NULL;
    }
    sodium_memzero (plain, plain_size);
    free (plain);
    free (sealed);
    return text;
}

//  Copies the string at object.key into field; -1 if absent, not a
//  string or too long.
static int
s_take (json_t *object, const char *key, char *field, size_t size)
{
    json_t *item = json_object_get (object, key);
    return json_is_string (item) && json_string_length (item) > 0
               ? s_copy (field, size, json_string_value (item))
               : -1;
}

int
gateway_seal_open (gateway_seal_t *self, const char *value, gateway_session_t *session)
{
    if (!value || strlen (value) > S_COOKIE_MAX)
        return -1;
    unsigned char sealed[S_COOKIE_MAX];
    size_t sealed_size = 0;
    if (sodium_base642bin (sealed, sizeof sealed, value, strlen (value), NULL, &sealed_size, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        sealed_size <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    size_t plain_size = sealed_size - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char plain[S_COOKIE_MAX];
    if (crypto_secretbox_open_easy ((unsigned char *)plain, sealed + crypto_secretbox_NONCEBYTES,
                                    sealed_size - crypto_secretbox_NONCEBYTES, sealed,
                                    self->key) != 0)
        return -1;
    json_t *object = json_loadb (plain, plain_size, 0, NULL);
    sodium_memzero (plain, sizeof plain);
    memset (session, 0, sizeof *session);
    int status = json_is_object (object) &&
                         s_take (object, "u", session->user, sizeof session->user) == 0 &&
                         s_take (object, "t", session->token, sizeof session->token) == 0 &&
                         s_take (object, "c", session->csrf, sizeof session->csrf) == 0
                     ? 0
                     : -1;
    json_decref (object);
    return status;
}
