/*  curve_key — CurveZMQ keys as raftq keeps them: 32 raw bytes in memory,
    Z85 text (40 characters) in configs and messages, and czmq certificate
    files on disk (zcert's text format: a public certificate at PATH with
    curve/public-key, a secret one at PATH_secret with both keys).
*/
#ifndef CURVE_KEY_H_INCLUDED
#define CURVE_KEY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define CURVE_KEY_SIZE 32
//  Z85 text of a key, without and with its terminating NUL.
#define CURVE_KEY_TEXT_LENGTH 40
#define CURVE_KEY_TEXT_SIZE   41

typedef enum {
    CURVE_KEY_PUBLIC = 0, //  curve/public-key
    CURVE_KEY_SECRET = 1  //  curve/secret-key
} curve_key_kind_t;

//  Decodes Z85 text of exactly 40 characters. Returns 0, or -1 when the
//  text is not a key.
int curve_key_decode (const char *text, uint8_t key[CURVE_KEY_SIZE]);

//  Z85 text of a key into text (CURVE_KEY_TEXT_SIZE bytes).
void curve_key_encode (const uint8_t key[CURVE_KEY_SIZE], char text[CURVE_KEY_TEXT_SIZE]);

//  Reads one key from a czmq certificate file. Returns 0, or -1 with the
//  reason in problem ("cannot read", "holds no curve/secret-key", ...).
int curve_key_read (const char *path, curve_key_kind_t kind, uint8_t key[CURVE_KEY_SIZE],
                    char *problem, size_t problem_size);

#endif
