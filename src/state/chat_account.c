/*  chat_account — accounts sorted by name and their sessions in login
    order, and the operations on them; see chat_account.h.
*/

#include <string.h>

#include "state/chat_account.h"
#include "state/chat_message.h"
#include "state/quota.h"
#include "state/reply.h"
#include "util/must.h"

void
chat_session_free (void **item_p)
{
    session_t *session = (session_t *)*item_p;
    if (session) {
        free (session->token);
        free (session);
        *item_p = NULL;
    }
}

void
chat_account_free (account_t *account)
{
    free (account->name);
    free (account->password_hash);
    free (account->stream);
    free (account);
}

size_t
chat_account_position (chat_t *self, const char *name, bool *found)
{
    size_t low = 0, high = self->account_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp (self->sorted_accounts[middle]->name, name);
        if (order == 0) {
            *found = true;
            return middle;
        }
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    *found = false;
    return low;
}

account_t *
chat_account_lookup (chat_t *self, const char *name)
{
    return name ? (account_t *)zhashx_lookup (self->accounts, name) : NULL;
}

uint64_t
chat_account_cost (const char *name, const char *password_hash)
{
    return QUOTA_ACCOUNT_COST + strlen (name) + strlen (password_hash);
}

account_t *
chat_account_insert (chat_t *self, const char *name, const char *password_hash)
{
    account_t *account = (account_t *)must_zalloc (sizeof (account_t));
    account->name = must_strdup (name);
    account->password_hash = must_strdup (password_hash);
    account->stream = must_format ("user/%s", name);
    bool found;
    size_t position = chat_account_position (self, name, &found);
    if (self->account_count == self->account_slots) {
        self->account_slots = self->account_slots ? self->account_slots * 2 : 16;
        self->sorted_accounts = (account_t **)must_realloc (
            self->sorted_accounts, self->account_slots * sizeof (account_t *));
    }
    memmove (&self->sorted_accounts[position + 1], &self->sorted_accounts[position],
             (self->account_count - position) * sizeof (account_t *));
    self->sorted_accounts[position] = account;
    self->account_count++;
    zhashx_insert (self->accounts, account->name, account);
    self->bytes += chat_account_cost (name, password_hash);
    return account;
}

static void
s_account_remove (chat_t *self, account_t *account)
{
    bool found;
    size_t position = chat_account_position (self, account->name, &found);
    assert (found);
    memmove (&self->sorted_accounts[position], &self->sorted_accounts[position + 1],
             (self->account_count - position - 1) * sizeof (account_t *));
    self->account_count--;
    self->bytes -= chat_account_cost (account->name, account->password_hash);
    zhashx_delete (self->accounts, account->name);
    chat_account_free (account);
}

const char *
chat_password_hash (chat_t *self, const char *user)
{
    assert (self);
    account_t *account = chat_account_lookup (self, user);
    return account ? account->password_hash : NULL;
}

static void
s_session_end (chat_t *self, session_t *session)
{
    account_t *account = session->account;
    if (session->older)
        session->older->newer = session->newer;
    else
        account->session_oldest = session->newer;
    if (session->newer)
        session->newer->older = session->older;
    else
        account->session_newest = session->older;
    account->session_count--;
    zhashx_delete (self->sessions, session->token); //  frees it
    self->sessions_ended++;
}

void
chat_session_add (chat_t *self, account_t *account, const char *token, int64_t created_ms,
                  int64_t last_used_ms)
{
    session_t *session = (session_t *)must_zalloc (sizeof (session_t));
    session->token = must_strdup (token);
    session->account = account;
    session->created_ms = created_ms;
    session->last_used_ms = last_used_ms;
    session->older = account->session_newest;
    if (account->session_newest)
        account->session_newest->newer = session;
    else
        account->session_oldest = session;
    account->session_newest = session;
    account->session_count++;
    zhashx_insert (self->sessions, session->token, session);
}

//  Whether session has expired at now_ms (leader time from the entry).
static bool
s_session_expired (chat_t *self, const session_t *session, int64_t now_ms)
{
    return now_ms - session->last_used_ms > self->options.session_idle_ms ||
           now_ms - session->created_ms > self->options.session_lifetime_ms;
}

static void
s_session_begin (chat_t *self, account_t *account, const char *token, int64_t now_ms)
{
    //  Expired sessions that nobody presents again go here, so they do not
    //  pile up (nor count against max_sessions) until the account's end
    session_t *session = account->session_oldest;
    while (session) {
        session_t *newer = session->newer;
        if (s_session_expired (self, session, now_ms))
            s_session_end (self, session);
        session = newer;
    }
    chat_session_add (self, account, token, now_ms, now_ms);
    if (account->session_count > self->options.max_sessions)
        s_session_end (self, account->session_oldest);
}

//  The session of a token key, whether live or not at now_ms (*expired):
//  the one check of a token, for requests (chat_authenticate) and for
//  stream subscriptions and Replay (chat_session_user) alike.
static session_t *
s_session_check (chat_t *self, const char *token, int64_t now_ms, bool *expired)
{
    session_t *session = (session_t *)zhashx_lookup (self->sessions, token);
    *expired = session && s_session_expired (self, session, now_ms);
    return session;
}

const char *
chat_session_user (chat_t *self, const char *token, int64_t now_ms)
{
    assert (self);
    if (!token || !*token)
        return NULL;
    bool expired;
    session_t *session = s_session_check (self, token, now_ms, &expired);
    return session && !expired ? session->account->name : NULL;
}

uint64_t
chat_sessions_ended (chat_t *self)
{
    assert (self);
    return self->sessions_ended;
}

account_t *
chat_authenticate (chat_t *self, const char *token, int64_t now_ms, Raftq__Reply *reply)
{
    if (!token || !*token) {
        reply_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "no session token: log in first");
        return NULL;
    }
    bool expired;
    session_t *session = s_session_check (self, token, now_ms, &expired);
    if (!session) {
        reply_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "invalid session token: log in again");
        return NULL;
    }
    if (expired) {
        s_session_end (self, session);
        reply_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "session expired: log in again");
        return NULL;
    }
    //  Leaders' clocks may disagree: the last use never goes back
    if (now_ms > session->last_used_ms)
        session->last_used_ms = now_ms;
    return session->account;
}

void
chat_account_create (chat_t *self, const Raftq__State__NewAccount *create, Raftq__Reply *reply)
{
    if (chat_account_lookup (self, create->user)) {
        reply_fail (reply, RAFTQ__CODE__ALREADY_EXISTS, "account '%s' already exists",
                    create->user);
        return;
    }
    chat_account_insert (self, create->user, create->password_hash);
}

void
chat_account_check (chat_t *self, const Raftq__CheckUser *check, Raftq__Reply *reply)
{
    Raftq__UserExists *exists = (Raftq__UserExists *)must_alloc (sizeof (Raftq__UserExists));
    raftq__user_exists__init (exists);
    exists->exists = chat_account_lookup (self, check->user) != NULL;
    reply->result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    reply->user_exists = exists;
}

void
chat_account_login (chat_t *self, const Raftq__State__NewSession *login, int64_t now_ms,
                    Raftq__Reply *reply)
{
    account_t *account = chat_account_lookup (self, login->user);
    //  The leader verified the password against this very hash: if the
    //  account went away or changed meanwhile, the login does not count.
    //  One message for both, so a login does not tell who exists.
    if (!account || strcmp (account->password_hash, login->password_hash) != 0) {
        reply_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
        return;
    }
    if (zhashx_lookup (self->sessions, login->token)) {
        reply_fail (reply, RAFTQ__CODE__INVALID_ARGUMENT, "session token already in use");
        return;
    }
    s_session_begin (self, account, login->token, now_ms);
    Raftq__Session *session = (Raftq__Session *)must_alloc (sizeof (Raftq__Session));
    raftq__session__init (session);
    //  Only the proposer knows the token (login->token is its key): it
    //  puts it into the reply it sends
    session->unread = account->unread_count;
    reply->result_case = RAFTQ__REPLY__RESULT_SESSION;
    reply->session = session;
}

void
chat_account_logout (chat_t *self, const char *token)
{
    s_session_end (self, (session_t *)zhashx_lookup (self->sessions, token));
}

void
chat_account_delete (chat_t *self, account_t *account, uint64_t index)
{
    chat_message_delete_conversations (self, account, index);
    while (account->session_oldest)
        s_session_end (self, account->session_oldest);
    event_log_forget (self->events, account->stream);
    event_log_emit (self->events, chat_event_new (account->stream, "account_deleted", index));
    s_account_remove (self, account);
}
