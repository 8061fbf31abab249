/*  stream_access — who may read a stream; see stream_access.h.  */
#include "state/stream_access.h"

#include <string.h>

#include "state/chat_validation.h"
#include "state/session_key.h"

//  Every topic stream starts with this; private streams with the others.
static const char s_topics[] = "topic/";
static const char s_user[] = "user/";
static const char s_conv[] = "conv/";
#define PREFIX_LENGTH 5 //  of s_user and s_conv

//  Bytes of text (length bytes) that form a user name from its start.
static size_t
s_name_length (const char *text, size_t length)
{
    size_t position = 0;
    while (position < length && chat_is_name_character (text[position]))
        position++;
    return position;
}

//  Splits a well-formed private stream key into its one (user/) or two
//  (conv/, a <= b) names: their count, or 0 when the key is not one.
static int
s_private_names (const char *stream, size_t length, const char *names[2], size_t lengths[2])
{
    if (length <= PREFIX_LENGTH)
        return 0;
    const char *rest = stream + PREFIX_LENGTH;
    size_t rest_length = length - PREFIX_LENGTH;
    names[0] = rest;
    lengths[0] = s_name_length (rest, rest_length);
    if (lengths[0] == 0)
        return 0;
    if (memcmp (stream, s_user, PREFIX_LENGTH) == 0)
        return lengths[0] == rest_length ? 1 : 0;
    if (memcmp (stream, s_conv, PREFIX_LENGTH) != 0 || lengths[0] + 1 >= rest_length ||
        rest[lengths[0]] != '/')
        return 0;
    names[1] = rest + lengths[0] + 1;
    lengths[1] = s_name_length (names[1], rest_length - lengths[0] - 1);
    if (lengths[1] != rest_length - lengths[0] - 1)
        return 0;
    //  Events go to the sorted key only: another order would match nothing
    size_t common = lengths[0] < lengths[1] ? lengths[0] : lengths[1];
    int order = memcmp (names[0], names[1], common);
    if (order > 0 || (order == 0 && lengths[0] > lengths[1]))
        return 0;
    return 2;
}

bool
stream_access_is_private (const char *stream)
{
    return stream && (strncmp (stream, s_user, PREFIX_LENGTH) == 0 ||
                      strncmp (stream, s_conv, PREFIX_LENGTH) == 0);
}

bool
stream_access_is_party (const char *stream, size_t stream_length, const char *user)
{
    const char *names[2];
    size_t lengths[2];
    int count = s_private_names (stream, stream_length, names, lengths);
    size_t user_length = user ? strlen (user) : 0;
    for (int which = 0; which < count; which++)
        if (lengths[which] == user_length && memcmp (names[which], user, user_length) == 0)
            return true;
    return false;
}

void
stream_access_parse (const uint8_t *data, size_t size, stream_subscription_t *parsed)
{
    memset (parsed, 0, sizeof (*parsed));
    parsed->kind = STREAM_SUBSCRIPTION_REFUSED;
    const char *text = (const char *)data;
    //  A NUL matches no stream key, and keys are short
    if (size > STREAM_ACCESS_MAX_SUBSCRIPTION || (size > 0 && memchr (data, 0, size)))
        return;
    size_t topics_length = sizeof (s_topics) - 1;
    if (size <= topics_length && memcmp (text, s_topics, size) == 0) {
        //  "", "t", ... "topic/": all topic streams, and nothing else
        parsed->kind = STREAM_SUBSCRIPTION_TOPIC;
        parsed->applied = s_topics;
        parsed->applied_size = topics_length;
        return;
    }
    if (memcmp (text, s_topics, topics_length) == 0) {
        parsed->kind = STREAM_SUBSCRIPTION_TOPIC;
        parsed->applied = text;
        parsed->applied_size = size;
        return;
    }
    const char *mark = (const char *)memchr (text, '#', size);
    if (!mark)
        return;
    size_t stream_length = (size_t)(mark - text);
    const char *names[2];
    size_t lengths[2];
    if (!chat_is_token (mark + 1, size - stream_length - 1) ||
        !s_private_names (text, stream_length, names, lengths))
        return;
    //  Names hold no '#' and the token is exactly 32 digits, so no private
    //  subscription is a prefix of another, nor of a topic key
    parsed->kind = STREAM_SUBSCRIPTION_PRIVATE;
    parsed->applied = text;
    parsed->applied_size = size;
    parsed->stream_length = stream_length;
    parsed->token = mark + 1;
}

stream_access_t
stream_access_check_key (fsm_t *fsm, const char *stream, size_t stream_length,
                         const char *token_key, int64_t now_ms)
{
    if (stream_length < PREFIX_LENGTH || (memcmp (stream, s_user, PREFIX_LENGTH) != 0 &&
                                          memcmp (stream, s_conv, PREFIX_LENGTH) != 0))
        return STREAM_ACCESS_GRANTED;
    if (!token_key || !*token_key)
        return STREAM_ACCESS_NO_TOKEN;
    const char *user = fsm_session_user (fsm, token_key, now_ms);
    if (!user || !stream_access_is_party (stream, stream_length, user))
        return STREAM_ACCESS_DENIED;
    return STREAM_ACCESS_GRANTED;
}

stream_access_t
stream_access_check (fsm_t *fsm, const char *stream, const char *token, int64_t now_ms)
{
    char key[SESSION_KEY_SIZE];
    session_key (token, key);
    return stream_access_check_key (fsm, stream, strlen (stream), key, now_ms);
}
