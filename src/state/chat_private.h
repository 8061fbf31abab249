/*  chat_private — the chat state's internals, shared by the files that
    implement chat.h: chat.c (lifecycle, dispatch, state hash),
    chat_validation.c, chat_account.c (accounts and sessions),
    chat_message.c (messages and conversations), chat_listing.c (pages)
    and chat_snapshot.c. Nothing outside src/state/chat*.c includes it.
*/
#ifndef CHAT_PRIVATE_H_INCLUDED
#define CHAT_PRIVATE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "state/chat.h"

#define CHAT_DEFAULT_MAX_USER_NAME       32
#define CHAT_DEFAULT_MAX_PASSWORD        256
#define CHAT_DEFAULT_MAX_TEXT            4096
#define CHAT_DEFAULT_MAX_PAGE_SIZE       1000
#define CHAT_DEFAULT_MAX_SESSIONS        16
#define CHAT_DEFAULT_SESSION_IDLE_MS     (24LL * 3600 * 1000)
#define CHAT_DEFAULT_SESSION_LIFETIME_MS (7LL * 24 * 3600 * 1000)
#define CHAT_DEFAULT_PAGE_SIZE           20
#define CHAT_MAX_PATTERN                 128
#define CHAT_TOKEN_LENGTH                32
//  Requests carry a token before apply can look at it: a longer one is
//  refused before it reaches the log
#define CHAT_MAX_TOKEN_LENGTH     64
#define CHAT_PASSWORD_HASH_PREFIX "$argon2"
#define CHAT_PASSWORD_HASH_MAX    128

struct _account_t;

//  One direct message.
typedef struct _message_t {
    uint64_t id;                           //  global id, also its key in chat.messages
    struct _account_t *sender;             //  who sent it (alive: see DeleteAccount)
    struct _account_t *recipient;          //  who received it
    struct _conversation_t *conversation;  //  the pair's conversation
    char *text;                            //  trimmed text
    int64_t timestamp_ms;                  //  fixed by the leader
    bool read;                             //  the recipient has read it
    struct _message_t *older;              //  previous message of all, by id
    struct _message_t *newer;              //  next message of all
    struct _message_t *conversation_older; //  previous message of its conversation
    struct _message_t *conversation_newer; //  next message of its conversation
    struct _message_t *unread_older;       //  previous unread message of the recipient
    struct _message_t *unread_newer;       //  next unread message of the recipient
} message_t;

//  The messages between two accounts (or of one with itself), in id order.
typedef struct _conversation_t {
    char *key;         //  "<a>/<b>" with a <= b, also its key in chat.conversations
    char *stream;      //  "conv/<a>/<b>"
    message_t *oldest; //  its first message
    message_t *newest; //  its last message
    size_t count;      //  how many
} conversation_t;

//  One login.
typedef struct _session_t {
    char *token;                //  the token's key (session_key.h), also its key in chat.sessions
    struct _account_t *account; //  whose session it is
    int64_t created_ms;         //  leader time of its Login
    int64_t last_used_ms;       //  leader time of its latest use (never goes back)
    struct _session_t *older;   //  the account's previous session
    struct _session_t *newer;   //  the account's next session
} session_t;

typedef struct _account_t {
    char *name;                //  user name, also its key in chat.accounts
    char *password_hash;       //  crypto_pwhash_str output
    char *stream;              //  "user/<name>"
    message_t *unread_oldest;  //  oldest unread message it received
    message_t *unread_newest;  //  newest one
    size_t unread_count;       //  how many unread
    session_t *session_oldest; //  its sessions in login order
    session_t *session_newest; //  its latest session
    size_t session_count;      //  how many
} account_t;

struct _chat_t {
    chat_options_t options;      //  limits, defaults filled in
    event_log_t *events;         //  borrowed: where events go
    zhashx_t *accounts;          //  name -> account_t (lookup; sorted_accounts owns them)
    account_t **sorted_accounts; //  accounts sorted by name
    size_t account_count;        //  how many
    size_t account_slots;        //  allocated slots in sorted_accounts
    zhashx_t *sessions;          //  token -> session_t, owns them
    zhashx_t *messages;          //  id -> message_t (lookup; the id list owns them)
    message_t *oldest;           //  all messages by id
    message_t *newest;
    zhashx_t *conversations;  //  key -> conversation_t, owns them
    uint64_t last_message_id; //  id of the newest message ever sent, 0 before any
    uint64_t bytes;           //  accounted bytes of accounts and messages (quota.h)
    uint64_t sessions_ended;  //  sessions ended since chat_new; not state (see chat.h)
};

#endif
