/*  gateway_seal — the key file and the sealed session cookie; see
    gateway_seal.h.
*/
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "gateway_seal.h"

#define S_KEY_HEX_SIZE (2 * crypto_secretbox_KEYBYTES)
//  Longest cookie value opened: a session's JSON is far below it.
#define S_COOKIE_MAX 1024
#define S_CSRF_BYTES 18

struct _gateway_seal_t {
    unsigned char key[crypto_secretbox_KEYBYTES]; //  seals and opens every cookie
};

//  Reads the key's hex text from an existing file; 0, or -1 with error set.
//  A key others may read is refused: whoever reads it opens every
//  browser's cookie (the cluster session token inside) and seals new ones.
static int
s_read_key (gateway_seal_t *self, const char *key_file, int fd, char *error, size_t error_size)
{
    struct stat status;
    if (fstat (fd, &status)) {
        snprintf (error, error_size, "%s: %s", key_file, strerror (errno));
        close (fd);
        return -1;
    }
    if (status.st_mode & 077) {
        snprintf (error, error_size, "%s: mode %03o lets others read it: chmod 600 it", key_file,
                  (unsigned)(status.st_mode & 0777));
        close (fd);
        return -1;
    }
    char text[S_KEY_HEX_SIZE + 2];
    ssize_t size = read (fd, text, sizeof text - 1);
    close (fd);
    if (size < 0) {
        snprintf (error, error_size, "%s: %s", key_file, strerror (errno));
        return -1;
    }
    text[size] = 0;
    size_t length = strcspn (text, "\r\n");
    size_t decoded = 0;
    if (length != S_KEY_HEX_SIZE ||
        sodium_hex2bin (self->key, sizeof self->key, text, length, NULL, &decoded, NULL) != 0 ||
        decoded != sizeof self->key) {
        snprintf (error, error_size, "%s: not a gateway key (%d hex digits)", key_file,
                  S_KEY_HEX_SIZE);
        sodium_memzero (text, sizeof text);
        return -1;
    }
    sodium_memzero (text, sizeof text);
    return 0;
}

//  Writes a fresh key to a file just created; 0, or -1 with error set.
static int
s_write_key (gateway_seal_t *self, const char *key_file, int fd, char *error, size_t error_size)
{
    crypto_secretbox_keygen (self->key);
    char text[S_KEY_HEX_SIZE + 2];
    sodium_bin2hex (text, sizeof text, self->key, sizeof self->key);
    strcat (text, "\n");
    size_t length = strlen (text);
    bool written = write (fd, text, length) == (ssize_t)length && fsync (fd) == 0;
    int saved_errno = errno;
    sodium_memzero (text, sizeof text);
    close (fd);
    if (!written) {
        snprintf (error, error_size, "%s: cannot write the new key: %s", key_file,
                  strerror (saved_errno));
        unlink (key_file);
        return -1;
    }
    return 0;
}

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
    //  O_EXCL: of several gateways starting together on one key file, one
    //  makes it and the others read it.
    int fd = open (key_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int status;
    if (fd >= 0)
        status = s_write_key (self, key_file, fd, error, error_size);
    else if (errno == EEXIST && (fd = open (key_file, O_RDONLY | O_CLOEXEC)) >= 0)
        status = s_read_key (self, key_file, fd, error, error_size);
    else {
        snprintf (error, error_size, "%s: %s", key_file, strerror (errno));
        status = -1;
    }
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
