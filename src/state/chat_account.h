/*  chat_account — the accounts of the chat state, kept sorted by name, with
    their sessions in login order; and the operations on them (create,
    check, login, logout, delete). Private to src/state/chat*.c.
*/
#ifndef CHAT_ACCOUNT_H_INCLUDED
#define CHAT_ACCOUNT_H_INCLUDED

#include "state/chat_private.h"

//  Position of name in sorted_accounts, or where it would go.
size_t chat_account_position (chat_t *self, const char *name, bool *found);

//  The account named name, NULL if none (or name is NULL).
account_t *chat_account_lookup (chat_t *self, const char *name);

//  What an account is charged in the state's accounted bytes (quota.h).
uint64_t chat_account_cost (const char *name, const char *password_hash);

//  Adds an account (the name must be free) in its sorted place.
account_t *chat_account_insert (chat_t *self, const char *name, const char *password_hash);

//  Frees an account that is out of every table (chat_destroy).
void chat_account_free (account_t *account);

//  Adds a session with token (it must be free) as the account's newest.
//  created_ms and last_used_ms are leader times (see session_t).
void chat_session_add (chat_t *self, account_t *account, const char *token, int64_t created_ms,
                       int64_t last_used_ms);

//  The sessions table's destructor.
void chat_session_free (void **item_p);

//  The account acting with token, or NULL after failing reply.
account_t *chat_authenticate (chat_t *self, const char *token, int64_t now_ms, Raftq__Reply *reply);

//  The operations: each sets reply's code, error and result.
void chat_account_create (chat_t *self, const Raftq__State__NewAccount *create,
                          Raftq__Reply *reply);
void chat_account_check (chat_t *self, const Raftq__CheckUser *check, Raftq__Reply *reply);
void chat_account_login (chat_t *self, const Raftq__State__NewSession *login, int64_t now_ms,
                         Raftq__Reply *reply);
//  The token was authenticated: its session exists.
void chat_account_logout (chat_t *self, const char *token);

//  Removes the account, its sessions and every message it sent or
//  received, with the events DeleteAccount tells (see chat.c).
void chat_account_delete (chat_t *self, account_t *account, uint64_t index);

#endif
