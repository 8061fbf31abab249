/*  chat_validation — the checks of chat commands' arguments (names, sizes,
    formats) that the leader runs before proposing and apply runs again;
    and the trimming of message text that both the check and the send use.
*/
#ifndef CHAT_VALIDATION_H_INCLUDED
#define CHAT_VALIDATION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _chat_t chat_t;

//  True for the command cases chat handles.
bool chat_handles (const Raftq__State__Command *command);

//  Checks a chat command's arguments (names, sizes, formats; not the
//  token, which only apply can check): 0, or -1 with code and error.
int chat_validate (chat_t *self, const Raftq__State__Command *command, Raftq__Code *code,
                   char *error, size_t error_size);

//  Checks a user name and password before the leader hashes or verifies the
//  password: 0, or -1 with code and error.
int chat_check_credentials (chat_t *self, const char *user, const char *password, Raftq__Code *code,
                            char *error, size_t error_size);

//  True for the operations that act for a logged-in user (need a token).
bool chat_needs_session (const Raftq__State__Command *command);

//  Whether character may be part of a user name (letters, digits, '.',
//  '_', '-'): no '/' and no '#', so stream keys and stream subscriptions
//  (stream_access.h) split without ambiguity.
bool chat_is_name_character (char character);

//  Whether the length bytes at token are a well-formed session token: 32
//  lowercase hex digits (the leader's 128 random bits).
bool chat_is_token (const char *token, size_t length);

//  The text without leading and trailing ASCII white space: *start, *length.
void chat_trim (const char *text, const char **start, size_t *length);

#endif
