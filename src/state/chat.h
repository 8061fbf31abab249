/*  chat — the chat part of the replicated state: accounts with their
    password hashes, session tokens, and direct messages with their read
    marks; the fsm hands it the chat commands of the log. Like the rest of
    the state machine, applying is deterministic: everything that varies
    (password hash and salt, session token, timestamp) was fixed by the
    leader and travels in the command; message ids come from a counter in
    the state.

    Events go to the event_log: a message to user/<recipient>,
    user/<sender> and conv/<a>/<b> (names sorted); a deletion to the same
    three kinds of stream, naming the deleted ids.

    Validation is declared in chat_validation.h and the snapshot in
    chat_snapshot.h; both are included here, so callers need only chat.h.
*/
#ifndef CHAT_H_INCLUDED
#define CHAT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/digest.h"
#include "state/chat_snapshot.h"
#include "state/chat_validation.h"
#include "state/event_log.h"
#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _chat_t chat_t;

typedef struct {
    size_t max_user_name;        //  longest user name in bytes (0: default 32)
    size_t max_password_bytes;   //  longest password (0: default 256)
    size_t max_text_bytes;       //  largest message text once trimmed (0: default 4096)
    size_t max_page_size;        //  largest page, and most ids per deletion (0: default 1000)
    size_t max_sessions;         //  sessions per account; a login past it ends the oldest (0: 16)
    int64_t session_idle_ms;     //  a session unused this long expires (0: 24 h)
    int64_t session_lifetime_ms; //  a session this old expires, used or not (0: 7 days)
} chat_options_t;

//  events is borrowed and must outlive the chat state.
chat_t *chat_new (const chat_options_t *options, event_log_t *events);

void chat_destroy (chat_t **self_p);

//  Applies a validated chat command at index: sets reply's code, error and
//  result (allocated as unpack would) and emits its events.
void chat_execute (chat_t *self, const Raftq__State__Command *command, uint64_t index,
                   Raftq__Reply *reply);

//  Checks a validated chat command that grows the state (CreateAccount of
//  a free name, SendMessage to an existing account) against the quotas it
//  carries (limits: command->limits, not NULL), state_bytes being the
//  whole state's accounted bytes: 0, or -1 with RESOURCE_EXHAUSTED and a
//  text naming the limit. Logins are not checked: a user at a limit must
//  be able to log in to read and delete. Any other command passes.
int chat_admit (chat_t *self, const Raftq__State__Command *command,
                const Raftq__State__Limits *limits, uint64_t state_bytes, Raftq__Code *code,
                char *error, size_t error_size);

//  Accounted bytes of the accounts and messages (quota.h).
uint64_t chat_bytes (chat_t *self);

//  The stored password hash of user, NULL if there is no such account.
//  Valid until the next apply.
const char *chat_password_hash (chat_t *self, const char *user);

//  The user whose session has the token key token (session_key.h), if
//  that session is live at now_ms, else NULL: the check requests get in
//  apply (chat_authenticate), without its effects (an expired session is
//  left for the next request or login to end, the last use is not moved).
//  Valid until the next apply.
const char *chat_session_user (chat_t *self, const char *token, int64_t now_ms);

//  How many sessions have ended since chat_new (logout, expiry found by a
//  request, a login past max_sessions, account deletion): whoever relies
//  on a session being live checks again when this changes. A local count,
//  not state: not hashed, not in snapshots.
uint64_t chat_sessions_ended (chat_t *self);

//  Feeds accounts, sessions and messages to digest.
void chat_digest (chat_t *self, digest_t *digest);

#endif
