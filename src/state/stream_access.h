/*  stream_access — who may read a stream: the decisions behind authorized
    chat streams on the PUB port and authorized Replay (README, "Authorized
    chat streams"). Pure functions of a subscription string or a token and
    the applied state; the broker does the socket work.

    - Topic streams (topic/<name>) are public. A subscription that starts
      with "topic/" is applied as it is; one that is a prefix of "topic/"
      ("", "t", ... "topic") is applied as "topic/": it never reaches a
      private stream.
    - Private streams (user/<name>, conv/<a>/<b> with a <= b) are read with
      a live session token of a party: subscribed as "<stream>#<token>",
      or with Request.token on a Replay.
    - Anything else ("user/", "conv/", a private stream without a token,
      a wrong or dead token, another user's stream, garbage) is refused.
*/
#ifndef STREAM_ACCESS_H_INCLUDED
#define STREAM_ACCESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"

//  Longest subscription string taken: a topic prefix of the longest topic
//  name, or a private stream of two longest names with a token, fit
//  easily; anything longer matches nothing worth a trie node.
#define STREAM_ACCESS_MAX_SUBSCRIPTION 1024

typedef enum {
    STREAM_ACCESS_GRANTED,  //  a live session of a party, or a public stream
    STREAM_ACCESS_NO_TOKEN, //  a private stream and no token
    STREAM_ACCESS_DENIED    //  a private stream and a token that does not open it
} stream_access_t;

typedef enum {
    STREAM_SUBSCRIPTION_REFUSED, //  apply nothing
    STREAM_SUBSCRIPTION_TOPIC,   //  apply the topic prefix in applied
    STREAM_SUBSCRIPTION_PRIVATE  //  apply the whole string once its token checks
} stream_subscription_kind_t;

//  A subscription string taken apart; pointers into the string parsed.
typedef struct {
    stream_subscription_kind_t kind; //  what to do with it
    const char *applied;             //  the prefix to apply (not terminated)
    size_t applied_size;             //  its length
    size_t stream_length;            //  private: bytes of the stream key, before '#'
    const char *token;               //  private: the token after '#' (not terminated)
} stream_subscription_t;

//  Whether stream is a private one (user/ or conv/): Replay and the PUB
//  port give it only to a party's token.
bool stream_access_is_private (const char *stream);

//  Whether user is a party to the private stream key of stream_length bytes
//  at stream: user/<user>, or conv/<a>/<b> in canonical form (a <= b, both
//  names well formed) with user as a or b.
bool stream_access_is_party (const char *stream, size_t stream_length, const char *user);

//  Takes apart a subscription of size bytes (what a SUB sent, without its
//  leading 1 byte). Only the form is checked; a private one must then pass
//  stream_access_check_key.
void stream_access_parse (const uint8_t *data, size_t size, stream_subscription_t *parsed);

//  Access to the stream of stream_length bytes for the session token_key
//  (session_key.h; NULL or "" for none) on fsm's applied state at now_ms
//  (see fsm_session_user).
stream_access_t stream_access_check_key (fsm_t *fsm, const char *stream, size_t stream_length,
                                         const char *token_key, int64_t now_ms);

//  The same for a token as a client sends it (a Replay's Request.token).
stream_access_t stream_access_check (fsm_t *fsm, const char *stream, const char *token,
                                     int64_t now_ms);

#endif
