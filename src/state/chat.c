/*  chat — accounts, sessions and direct messages of the replicated state.
    See chat.h. This file owns the lifecycle, the dispatch of operations
    and the state hash; the rest lives in chat_validation.c,
    chat_account.c, chat_message.c, chat_listing.c and chat_snapshot.c.

    Decisions (client visible; the README repeats them):
    - User names are 1..max_user_name bytes of ASCII letters, digits, '.',
      '_' and '-', compared byte for byte (case matters). No '/', so the
      stream keys user/<name> and conv/<a>/<b> are never ambiguous.
    - Passwords are 1..max_password_bytes bytes (no NUL). The state only
      ever holds crypto_pwhash_str output ("$argon2id$..."), computed by the
      leader before proposing.
    - Session tokens are 32 lowercase hex digits (128 random bits from the
      leader). They expire after session_idle_ms without use or
      session_lifetime_ms after the Login (UNAUTHENTICATED "session
      expired"), decided in apply from the leader's timestamps in the
      entries, never a local clock, so every node agrees; the expired
      session is ended by the request that finds it expired, or by the
      account's next Login. The state
      never sees a token: commands carry its key, a hash
      (session_key.h), so neither the log nor a snapshot holds a token; a
      Login's reply leaves the token to the proposer, which alone knows it.
      A Login is not remembered by the exactly-once table (a retry is a new
      login). Logout and DeleteAccount end sessions, and an account keeps
      at most max_sessions: a newer login ends the oldest.
    - Message text is trimmed of ASCII white space at both ends, then must
      be 1..max_text_bytes bytes (more: TOO_LARGE) of valid UTF-8 without
      control characters other than tab, line feed and carriage return.
    - Message ids come from one counter from 1, assigned at apply, never
      reused. Sending to oneself is allowed (conversation conv/a/a).
    - Pages count from 1 (0 means 1); page_size 0 means 20, more than
      max_page_size is INVALID_ARGUMENT. Listings are ascending: names, and
      messages oldest first. "total" counts the whole listing, "remaining"
      what comes after the page.
    - ReadMessages without a partner lists the caller's unread messages and
      the page's messages become read. With a partner it lists the
      conversation in both directions and the page's messages the caller
      received become read. "read" in a page is the mark before this call:
      new messages stand out, and for messages the caller sent it says
      whether the partner has read them.
    - DeleteMessages: an id the caller neither sent nor received makes the
      whole request PERMISSION_DENIED (nothing is deleted); ids that do not
      exist (any more) are skipped, so a retry deletes nothing twice;
      duplicates count once. A deleted message's retained events (sender's,
      recipient's and conversation's stream) become "delete" tombstones of
      its id under the same seq: the text leaves the window and every
      snapshot taken after, and stream numbering keeps no gap.
    - DeleteAccount removes the account, its sessions and every message it
      sent or received: a conversation needs both parties, and a name that
      is registered again must not inherit the old owner's messages. The
      retained events of user/<name> and of its conversations are dropped
      too (their text must not outlive the account); then each conversation
      stream gets a "delete" event, each partner a "delete" on its user
      stream, and user/<name> one "account_deleted" event.
    - CheckUser and ListAccounts need no session; every other chat
      operation needs a valid token (UNAUTHENTICATED otherwise), and acts
      only on the caller's own data.

    Determinism: accounts are kept sorted by name, messages in id order and
    sessions in login order; whenever a hash table must be walked (the
    conversations of a deleted account) its items are sorted first.
*/

#include "state/chat_account.h"
#include "state/chat_listing.h"
#include "state/chat_message.h"
#include "state/chat_private.h"
#include "state/quota.h"
#include "state/reply.h"
#include "util/must.h"
#include "util/u64_table.h"

//  A table whose keys live inside its items.
static zhashx_t *
s_table_new (zhashx_destructor_fn *destructor)
{
    zhashx_t *table = zhashx_new ();
    zhashx_set_key_duplicator (table, NULL);
    zhashx_set_key_destructor (table, NULL);
    if (destructor)
        zhashx_set_destructor (table, destructor);
    return table;
}

chat_t *
chat_new (const chat_options_t *options, event_log_t *events)
{
    assert (events);
    chat_t *self = (chat_t *)must_zalloc (sizeof (chat_t));
    if (options)
        self->options = *options;
    if (self->options.max_user_name == 0)
        self->options.max_user_name = CHAT_DEFAULT_MAX_USER_NAME;
    if (self->options.max_password_bytes == 0)
        self->options.max_password_bytes = CHAT_DEFAULT_MAX_PASSWORD;
    if (self->options.max_text_bytes == 0)
        self->options.max_text_bytes = CHAT_DEFAULT_MAX_TEXT;
    if (self->options.max_page_size == 0)
        self->options.max_page_size = CHAT_DEFAULT_MAX_PAGE_SIZE;
    if (self->options.max_sessions == 0)
        self->options.max_sessions = CHAT_DEFAULT_MAX_SESSIONS;
    if (self->options.session_idle_ms <= 0)
        self->options.session_idle_ms = CHAT_DEFAULT_SESSION_IDLE_MS;
    if (self->options.session_lifetime_ms <= 0)
        self->options.session_lifetime_ms = CHAT_DEFAULT_SESSION_LIFETIME_MS;
    self->events = events;
    self->accounts = s_table_new (NULL);
    self->sessions = s_table_new (chat_session_free);
    self->conversations = s_table_new (chat_conversation_free);
    self->messages = u64_table_new (NULL);
    return self;
}

void
chat_destroy (chat_t **self_p)
{
    assert (self_p);
    chat_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->messages);
        message_t *message = self->oldest;
        while (message) {
            message_t *newer = message->newer;
            chat_message_free (message);
            message = newer;
        }
        zhashx_destroy (&self->conversations);
        zhashx_destroy (&self->sessions);
        zhashx_destroy (&self->accounts);
        for (size_t position = 0; position < self->account_count; position++)
            chat_account_free (self->sorted_accounts[position]);
        free (self->sorted_accounts);
        free (self);
        *self_p = NULL;
    }
}

void
chat_execute (chat_t *self, const Raftq__State__Command *command, uint64_t index,
              Raftq__Reply *reply)
{
    assert (self);
    assert (command && reply);
    account_t *actor = NULL;
    if (chat_needs_session (command)) {
        actor = chat_authenticate (self, command->token, command->timestamp_ms, reply);
        if (!actor)
            return;
    }
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        chat_account_create (self, command->create_account, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        chat_account_check (self, command->check_user, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        chat_account_login (self, command->login, command->timestamp_ms, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
        chat_account_logout (self, command->token);
        break;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
        chat_listing_accounts (self, command->list_accounts, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        chat_message_send (self, actor, command->send_message, command->timestamp_ms, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
        if (command->read_messages->partner && *command->read_messages->partner)
            chat_listing_conversation (self, actor, command->read_messages, reply);
        else
            chat_listing_unread (actor, command->read_messages, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
        chat_message_delete (self, actor, command->delete_messages, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        chat_account_delete (self, actor, index);
        break;
    default:
        reply_fail (reply, RAFTQ__CODE__INTERNAL, "not a chat operation");
        break;
    }
}

int
chat_admit (chat_t *self, const Raftq__State__Command *command, const Raftq__State__Limits *limits,
            uint64_t state_bytes, Raftq__Code *code, char *error, size_t error_size)
{
    assert (self);
    assert (command && limits);
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT) {
        //  A taken name is answered ALREADY_EXISTS, not refused here
        const Raftq__State__NewAccount *create = command->create_account;
        if (chat_account_lookup (self, create->user))
            return 0;
        return quota_check_item (self->account_count, limits->max_accounts, "max_accounts",
                                 "the cluster", state_bytes,
                                 chat_account_cost (create->user, create->password_hash),
                                 limits->max_state_bytes, code, error, error_size);
    }
    if (command->op_case != RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE)
        return 0;
    //  Only a sender with a session learns about the recipient's inbox; a
    //  request without one is answered UNAUTHENTICATED by execute
    account_t *recipient = chat_account_lookup (self, command->send_message->to);
    if (!recipient || !command->token || !zhashx_lookup (self->sessions, command->token))
        return 0; //  answered NOT_FOUND or UNAUTHENTICATED
    const char *text;
    size_t length;
    chat_trim (command->send_message->text, &text, &length);
    char what[64];
    snprintf (what, sizeof what, "the inbox of '%.32s'", recipient->name);
    return quota_check_item (recipient->unread_count, limits->max_inbox_messages,
                             "max_inbox_messages", what, state_bytes,
                             QUOTA_CHAT_MESSAGE_COST + length, limits->max_state_bytes, code, error,
                             error_size);
}

uint64_t
chat_bytes (chat_t *self)
{
    assert (self);
    return self->bytes;
}

void
chat_digest (chat_t *self, digest_t *digest)
{
    assert (self);
    digest_u64 (digest, self->bytes);
    digest_u64 (digest, self->last_message_id);
    digest_u64 (digest, self->account_count);
    for (size_t position = 0; position < self->account_count; position++) {
        account_t *account = self->sorted_accounts[position];
        digest_string (digest, account->name);
        digest_string (digest, account->password_hash);
        digest_u64 (digest, account->unread_count);
        digest_u64 (digest, account->session_count);
        for (session_t *session = account->session_oldest; session; session = session->newer) {
            digest_string (digest, session->token);
            digest_u64 (digest, (uint64_t)session->created_ms);
            digest_u64 (digest, (uint64_t)session->last_used_ms);
        }
    }
    //  Conversations and unread lists follow from the messages in id order
    digest_u64 (digest, zhashx_size (self->messages));
    for (message_t *message = self->oldest; message; message = message->newer) {
        digest_u64 (digest, message->id);
        digest_string (digest, message->sender->name);
        digest_string (digest, message->recipient->name);
        digest_u64 (digest, (uint64_t)message->timestamp_ms);
        digest_u64 (digest, message->read);
        digest_string (digest, message->text);
    }
}
