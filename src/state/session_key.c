/*  session_key — session token to stored key; see session_key.h.  */
#include "state/session_key.h"

#include <sodium.h>
#include <string.h>

void
session_key (const char *token, char key[SESSION_KEY_SIZE])
{
    key[0] = '\0';
    if (!token || !*token)
        return;
    uint8_t hash[SESSION_KEY_LENGTH / 2];
    //  Domain-separated so the key never equals another use of the token
    static const uint8_t s_domain[] = "raftq session key v1";
    crypto_generichash (hash, sizeof (hash), (const uint8_t *)token, strlen (token), s_domain,
                        sizeof (s_domain) - 1);
    sodium_bin2hex (key, SESSION_KEY_SIZE, hash, sizeof (hash));
}
