/*  chat_snapshot — saving and restoring the chat state; see chat_snapshot.h.
    Restoring checks the order and uniqueness that apply relies on.
*/

#include <inttypes.h>
#include <string.h>

#include "state/chat_account.h"
#include "state/chat_message.h"
#include "state/chat_snapshot.h"
#include "state/reply.h"
#include "util/must.h"

void
chat_snapshot_save (chat_t *self, Raftq__State__ChatState *state)
{
    assert (self);
    assert (state);
    raftq__state__chat_state__init (state);
    state->last_message_id = self->last_message_id;
    //  Each repeated field is one block of structs (none when empty) plus
    //  the pointer array protobuf-c wants; element 0 is the block's start,
    //  for release
    Raftq__State__AccountState *accounts =
        self->account_count ? (Raftq__State__AccountState *)must_alloc (
                                  self->account_count * sizeof (Raftq__State__AccountState))
                            : NULL;
    state->accounts = (Raftq__State__AccountState **)must_alloc (
        self->account_count * sizeof (Raftq__State__AccountState *));
    state->n_accounts = self->account_count;
    for (size_t position = 0; position < self->account_count; position++) {
        account_t *account = self->sorted_accounts[position];
        Raftq__State__AccountState *saved = &accounts[position];
        raftq__state__account_state__init (saved);
        saved->name = account->name;
        saved->password_hash = account->password_hash;
        saved->session_tokens = (char **)must_alloc (account->session_count * sizeof (char *));
        saved->session_created_ms =
            (int64_t *)must_alloc (account->session_count * sizeof (int64_t));
        saved->session_last_used_ms =
            (int64_t *)must_alloc (account->session_count * sizeof (int64_t));
        for (session_t *session = account->session_oldest; session; session = session->newer) {
            saved->session_created_ms[saved->n_session_tokens] = session->created_ms;
            saved->session_last_used_ms[saved->n_session_tokens] = session->last_used_ms;
            saved->session_tokens[saved->n_session_tokens++] = session->token;
        }
        saved->n_session_created_ms = saved->n_session_last_used_ms = saved->n_session_tokens;
        state->accounts[position] = saved;
    }

    size_t message_count = zhashx_size (self->messages);
    Raftq__State__ChatMessageState *messages =
        message_count ? (Raftq__State__ChatMessageState *)must_alloc (
                            message_count * sizeof (Raftq__State__ChatMessageState))
                      : NULL;
    state->messages = (Raftq__State__ChatMessageState **)must_alloc (
        message_count * sizeof (Raftq__State__ChatMessageState *));
    for (message_t *message = self->oldest; message; message = message->newer) {
        Raftq__State__ChatMessageState *saved = &messages[state->n_messages];
        raftq__state__chat_message_state__init (saved);
        saved->id = message->id;
        saved->sender = message->sender->name;
        saved->recipient = message->recipient->name;
        saved->text = message->text;
        saved->timestamp_ms = message->timestamp_ms;
        saved->read = message->read;
        state->messages[state->n_messages++] = saved;
    }
}

void
chat_snapshot_release (Raftq__State__ChatState *state)
{
    if (!state)
        return;
    for (size_t position = 0; position < state->n_accounts; position++) {
        free (state->accounts[position]->session_tokens);
        free (state->accounts[position]->session_created_ms);
        free (state->accounts[position]->session_last_used_ms);
    }
    free (state->n_accounts ? state->accounts[0] : NULL);
    free (state->accounts);
    free (state->n_messages ? state->messages[0] : NULL);
    free (state->messages);
    raftq__state__chat_state__init (state);
}

static int
s_load_accounts (chat_t *self, const Raftq__State__ChatState *state, char *error, size_t error_size)
{
    for (size_t position = 0; position < state->n_accounts; position++) {
        const Raftq__State__AccountState *saved = state->accounts[position];
        if (!saved->name || !*saved->name || !saved->password_hash)
            return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "an account has no name or password hash");
        //  Strictly ascending: sorted as sorted_accounts must be, and unique
        if (self->account_count > 0 &&
            strcmp (self->sorted_accounts[self->account_count - 1]->name, saved->name) >= 0)
            return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "account '%s' is out of order", saved->name);
        //  Older snapshots have no session times (and plaintext tokens that
        //  no key matches): their sessions count as expired at once
        bool timed = saved->n_session_created_ms != 0 || saved->n_session_last_used_ms != 0;
        if (timed && (saved->n_session_created_ms != saved->n_session_tokens ||
                      saved->n_session_last_used_ms != saved->n_session_tokens))
            return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "account '%s' has session times that do not match its sessions",
                                 saved->name);
        account_t *account = chat_account_insert (self, saved->name, saved->password_hash);
        for (size_t token = 0; token < saved->n_session_tokens; token++) {
            const char *session_token = saved->session_tokens[token];
            if (!session_token || !*session_token || zhashx_lookup (self->sessions, session_token))
                return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                     "account '%s' has an empty or duplicate session token",
                                     saved->name);
            chat_session_add (self, account, session_token,
                              timed ? saved->session_created_ms[token] : 0,
                              timed ? saved->session_last_used_ms[token] : 0);
        }
    }
    return 0;
}

static int
s_load_messages (chat_t *self, const Raftq__State__ChatState *state, char *error, size_t error_size)
{
    for (size_t position = 0; position < state->n_messages; position++) {
        const Raftq__State__ChatMessageState *saved = state->messages[position];
        //  Strictly ascending ids, none past the counter: the id list's order
        if (saved->id == 0 || saved->id > state->last_message_id ||
            (self->newest && saved->id <= self->newest->id))
            return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "message %" PRIu64 " is out of order", saved->id);
        account_t *sender = chat_account_lookup (self, saved->sender);
        account_t *recipient = chat_account_lookup (self, saved->recipient);
        if (!sender || !recipient || !saved->text)
            return reply_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "message %" PRIu64 " names no account or has no text", saved->id);
        chat_message_insert (self, saved->id, sender, recipient, saved->text, strlen (saved->text),
                             saved->timestamp_ms, saved->read);
    }
    return 0;
}

int
chat_snapshot_load (chat_t *self, const Raftq__State__ChatState *state, char *error,
                    size_t error_size)
{
    assert (self);
    assert (state);
    assert (self->account_count == 0 && self->last_message_id == 0);
    if (s_load_accounts (self, state, error, error_size) ||
        s_load_messages (self, state, error, error_size))
        return -1;
    self->last_message_id = state->last_message_id;
    return 0;
}
