/*  chat_fixture — chat commands for unit tests, built in a holder that
    keeps every submessage they point to (no allocation), and the steps
    most chat tests start from: accounts, sessions, a message sent. Checks
    that fail print why and abort (see fsm_fixture.h).
*/
#ifndef CHAT_FIXTURE_H_INCLUDED
#define CHAT_FIXTURE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"

//  The timestamp the leader would have fixed, in every command built here.
#define CHAT_FIXTURE_TIMESTAMP 1700000000000LL

//  A command with storage for every chat operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__State__NewAccount create_account;
    Raftq__CheckUser check_user;
    Raftq__State__NewSession login;
    Raftq__Logout logout;
    Raftq__ListAccounts list_accounts;
    Raftq__SendMessage send_message;
    Raftq__ReadMessages read_messages;
    Raftq__DeleteMessages delete_messages;
    Raftq__DeleteAccount delete_account;
    char hash[96];  //  a well-formed (fake) password hash
    char token[40]; //  a well-formed session token
} chat_fixture_t;

//  A 32-hex-digit session token (33 bytes with its NUL) from a number.
void chat_fixture_token (char *token, uint64_t number);

//  The commands; strings are borrowed, token may be NULL.
Raftq__State__Command *chat_fixture_create_account (chat_fixture_t *holder, const char *user,
                                                    const char *password);
Raftq__State__Command *chat_fixture_login (chat_fixture_t *holder, const char *user,
                                           const char *password, uint64_t token_number);
Raftq__State__Command *chat_fixture_send (chat_fixture_t *holder, const char *token, const char *to,
                                          const char *text);
Raftq__State__Command *chat_fixture_read (chat_fixture_t *holder, const char *token,
                                          const char *partner, uint32_t page, uint32_t page_size);
Raftq__State__Command *chat_fixture_delete (chat_fixture_t *holder, const char *token,
                                            uint64_t *ids, size_t count);
Raftq__State__Command *chat_fixture_list (chat_fixture_t *holder, const char *pattern,
                                          uint32_t page, uint32_t page_size);
Raftq__State__Command *chat_fixture_check_user (chat_fixture_t *holder, const char *user);
Raftq__State__Command *chat_fixture_logout (chat_fixture_t *holder, const char *token);
Raftq__State__Command *chat_fixture_delete_account (chat_fixture_t *holder, const char *token);

//  Logs user in (password "pw") with token_number; the token in out (33 bytes).
void chat_fixture_session (fsm_t *fsm, const char *user, uint64_t token_number, char *out);

//  Logs user in (password "pw") with the client token raw at leader time
//  timestamp_ms, the state keeping the token's key as a leader proposes it.
void chat_fixture_session_of (fsm_t *fsm, const char *user, const char *raw, int64_t timestamp_ms);

//  A fresh state with accounts (password "pw") and a session for each.
fsm_t *chat_fixture_world (const char *const *users, size_t count, char tokens[][33]);

//  Sends and returns the message id.
uint64_t chat_fixture_send_ok (fsm_t *fsm, const char *token, const char *to, const char *text);

#endif
