/*  session_key — what the replicated state keeps of a session token: a
    hash of it. Tokens are 128 random bits from the leader, so a plain
    BLAKE2b (no salt, no stretching) cannot be inverted, and only the hash
    ever reaches a log entry or a snapshot. The leader proposes the key of
    the token it hands out; every request's token is turned into its key
    before it is proposed, and apply looks sessions up by key.
*/
#ifndef SESSION_KEY_H_INCLUDED
#define SESSION_KEY_H_INCLUDED

#include <stddef.h>

//  Hex digits of a key, and the room a key needs with its terminator.
#define SESSION_KEY_LENGTH 32
#define SESSION_KEY_SIZE   (SESSION_KEY_LENGTH + 1)

//  Writes the key of token into key (SESSION_KEY_SIZE bytes). An empty or
//  NULL token has the empty key: "no token" stays recognisable.
void session_key (const char *token, char key[SESSION_KEY_SIZE]);

#endif
