/*  chat — accounts, sessions and direct messages of the replicated state.
    See chat.h.

    Decisions (client visible; the README repeats them):
    - User names are 1..max_user_name bytes of ASCII letters, digits, '.',
      '_' and '-', compared byte for byte (case matters). No '/', so the
      stream keys user/<name> and conv/<a>/<b> are never ambiguous.
    - Passwords are 1..max_password_bytes bytes (no NUL). The state only
      ever holds crypto_pwhash_str output ("$argon2id$..."), computed by the
      leader before proposing.
    - Session tokens are 32 lowercase hex digits (128 random bits from the
      leader). They do not expire; Logout and DeleteAccount end them, and an
      account keeps at most max_sessions: a newer login ends the oldest.
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
      duplicates count once.
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

#include <czmq.h>
#include <inttypes.h>

#include "util/error_text.h"
#include "state/chat.h"
#include "util/must.h"
#include "util/utf8.h"

#define CHAT_DEFAULT_MAX_USER_NAME 32
#define CHAT_DEFAULT_MAX_PASSWORD  256
#define CHAT_DEFAULT_MAX_TEXT      4096
#define CHAT_DEFAULT_MAX_PAGE_SIZE 1000
#define CHAT_DEFAULT_MAX_SESSIONS  16
#define CHAT_DEFAULT_PAGE_SIZE     20
#define CHAT_MAX_PATTERN           128
#define CHAT_TOKEN_LENGTH          32
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
    char *token;                //  the token, also its key in chat.sessions
    struct _account_t *account; //  whose session it is
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
    session_t *session_newest;
    size_t session_count; //  how many
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
};

//  --------------------------------------------------------------------------
//  Table callbacks

static void
s_session_free (void **item_p)
{
    session_t *session = (session_t *)*item_p;
    if (session) {
        free (session->token);
        free (session);
        *item_p = NULL;
    }
}

static void
s_conversation_free (void **item_p)
{
    conversation_t *conversation = (conversation_t *)*item_p;
    if (conversation) {
        free (conversation->key);
        free (conversation->stream);
        free (conversation);
        *item_p = NULL;
    }
}

static void
s_message_free (message_t *message)
{
    free (message->text);
    free (message);
}

static void
s_account_free (account_t *account)
{
    free (account->name);
    free (account->password_hash);
    free (account->stream);
    free (account);
}

//  Message ids are sequential: mix the bits so buckets spread.
static size_t
s_id_hash (const void *key)
{
    uint64_t value = *(const uint64_t *)key;
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    return (size_t)value;
}

static int
s_id_compare (const void *first, const void *second)
{
    uint64_t first_id = *(const uint64_t *)first;
    uint64_t second_id = *(const uint64_t *)second;
    return first_id < second_id ? -1 : first_id > second_id ? 1 : 0;
}

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

//  --------------------------------------------------------------------------
//  Constructor and destructor

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
    self->events = events;
    self->accounts = s_table_new (NULL);
    self->sessions = s_table_new (s_session_free);
    self->conversations = s_table_new (s_conversation_free);
    self->messages = s_table_new (NULL);
    zhashx_set_key_hasher (self->messages, s_id_hash);
    zhashx_set_key_comparator (self->messages, s_id_compare);
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
            s_message_free (message);
            message = newer;
        }
        zhashx_destroy (&self->conversations);
        zhashx_destroy (&self->sessions);
        zhashx_destroy (&self->accounts);
        for (size_t position = 0; position < self->account_count; position++)
            s_account_free (self->sorted_accounts[position]);
        free (self->sorted_accounts);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Checks shared by validation and apply

//  Writes code and text where the caller wants them. Always returns -1.
static int s_refuse (Raftq__Code code, Raftq__Code *code_p, char *error, size_t error_size,
                     const char *format, ...) __attribute__ ((format (printf, 5, 6)));

static int
s_refuse (Raftq__Code code, Raftq__Code *code_p, char *error, size_t error_size, const char *format,
          ...)
{
    if (code_p)
        *code_p = code;
    va_list arguments;
    va_start (arguments, format);
    error_text_set_list (error, error_size, format, arguments);
    va_end (arguments);
    return -1;
}

static bool
s_is_name_character (char character)
{
    return (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
           (character >= '0' && character <= '9') || character == '.' || character == '_' ||
           character == '-';
}

//  what names the field in the message ("user name", "recipient").
static int
s_check_name (chat_t *self, const char *name, const char *what, Raftq__Code *code, char *error,
              size_t error_size)
{
    if (!name || !*name)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size, "%s is empty",
                         what);
    size_t length = strlen (name);
    if (length > self->options.max_user_name)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "%s is longer than %zu bytes", what, self->options.max_user_name);
    for (size_t position = 0; position < length; position++)
        if (!s_is_name_character (name[position]))
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "%s may hold only letters, digits, '.', '_' and '-'", what);
    return 0;
}

static bool
s_is_space (char character)
{
    return character == ' ' || character == '\t' || character == '\n' || character == '\r' ||
           character == '\v' || character == '\f';
}

//  The text without leading and trailing white space: *start and *length.
static void
s_trim (const char *text, const char **start, size_t *length)
{
    const char *first = text ? text : "";
    while (s_is_space (*first))
        first++;
    size_t size = strlen (first);
    while (size > 0 && s_is_space (first[size - 1]))
        size--;
    *start = first;
    *length = size;
}

static int
s_check_text (chat_t *self, const char *text, Raftq__Code *code, char *error, size_t error_size)
{
    const char *start;
    size_t length;
    s_trim (text, &start, &length);
    if (length == 0)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "message text is empty");
    if (length > self->options.max_text_bytes)
        return s_refuse (RAFTQ__CODE__TOO_LARGE, code, error, error_size,
                         "message text of %zu bytes exceeds the limit of %zu", length,
                         self->options.max_text_bytes);
    const uint8_t *bytes = (const uint8_t *)start;
    for (size_t offset = 0; offset < length;) {
        size_t sequence = utf8_sequence (bytes + offset, length - offset, NULL);
        if (!sequence)
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "message text is not valid UTF-8");
        uint8_t byte = bytes[offset];
        bool control = sequence == 1 && (byte < 0x20 || byte == 0x7F) && byte != '\t' &&
                       byte != '\n' && byte != '\r';
        if (control)
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "message text contains a control character");
        offset += sequence;
    }
    return 0;
}

static int
s_check_page_size (chat_t *self, uint32_t page_size, Raftq__Code *code, char *error,
                   size_t error_size)
{
    if (page_size > self->options.max_page_size)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "page_size %u exceeds the limit of %zu", page_size,
                         self->options.max_page_size);
    return 0;
}

static bool
s_is_token (const char *token)
{
    if (!token || strlen (token) != CHAT_TOKEN_LENGTH)
        return false;
    for (size_t position = 0; position < CHAT_TOKEN_LENGTH; position++)
        if (!((token[position] >= '0' && token[position] <= '9') ||
              (token[position] >= 'a' && token[position] <= 'f')))
            return false;
    return true;
}

//  Only a leader bug could send anything else; apply refuses it all the same.
static bool
s_is_password_hash (const char *hash)
{
    if (!hash || strncmp (hash, CHAT_PASSWORD_HASH_PREFIX, strlen (CHAT_PASSWORD_HASH_PREFIX)))
        return false;
    size_t length = strlen (hash);
    if (length >= CHAT_PASSWORD_HASH_MAX)
        return false;
    for (size_t position = 0; position < length; position++)
        if (hash[position] <= ' ' || hash[position] > '~')
            return false;
    return true;
}

int
chat_check_credentials (chat_t *self, const char *user, const char *password, Raftq__Code *code,
                        char *error, size_t error_size)
{
    assert (self);
    if (s_check_name (self, user, "user name", code, error, error_size))
        return -1;
    if (!password || !*password)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "password is empty");
    if (strlen (password) > self->options.max_password_bytes)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "password is longer than %zu bytes", self->options.max_password_bytes);
    return 0;
}

bool
chat_handles (const Raftq__State__Command *command)
{
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        return true;
    default:
        return false;
    }
}

//  The operation's submessage, NULL when the case is set without it (a
//  command built in memory).
static const void *
s_operation (const Raftq__State__Command *command)
{
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        return command->create_account;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        return command->check_user;
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        return command->login;
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
        return command->logout;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
        return command->list_accounts;
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        return command->send_message;
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
        return command->read_messages;
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
        return command->delete_messages;
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        return command->delete_account;
    default:
        return NULL;
    }
}

//  Operations that act for a logged-in user.
static bool
s_needs_session (const Raftq__State__Command *command)
{
    return command->op_case != RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_CHECK_USER &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_LOGIN &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
}

int
chat_validate (chat_t *self, const Raftq__State__Command *command, Raftq__Code *code, char *error,
               size_t error_size)
{
    assert (self);
    assert (command);
    if (!chat_handles (command) || !s_operation (command))
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "command has no operation");
    if (s_needs_session (command) && command->token &&
        strlen (command->token) > CHAT_MAX_TOKEN_LENGTH)
        return s_refuse (RAFTQ__CODE__UNAUTHENTICATED, code, error, error_size,
                         "invalid session token");

    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        if (s_check_name (self, command->create_account->user, "user name", code, error,
                          error_size))
            return -1;
        if (!s_is_password_hash (command->create_account->password_hash))
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "malformed password hash");
        return 0;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        return s_check_name (self, command->check_user->user, "user name", code, error, error_size);
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        if (s_check_name (self, command->login->user, "user name", code, error, error_size))
            return -1;
        if (!s_is_token (command->login->token))
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "malformed session token");
        if (!s_is_password_hash (command->login->password_hash))
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "malformed password hash");
        return 0;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS: {
        const char *pattern = command->list_accounts->pattern;
        if (pattern && strlen (pattern) > CHAT_MAX_PATTERN)
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "pattern is longer than %d bytes", CHAT_MAX_PATTERN);
        return s_check_page_size (self, command->list_accounts->page_size, code, error, error_size);
    }
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        if (s_check_name (self, command->send_message->to, "recipient", code, error, error_size))
            return -1;
        return s_check_text (self, command->send_message->text, code, error, error_size);
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES: {
        const char *partner = command->read_messages->partner;
        if (partner && *partner && s_check_name (self, partner, "partner", code, error, error_size))
            return -1;
        return s_check_page_size (self, command->read_messages->page_size, code, error, error_size);
    }
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES: {
        size_t count = command->delete_messages->n_ids;
        if (count == 0)
            return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "no message ids to delete");
        if (count > self->options.max_page_size)
            return s_refuse (RAFTQ__CODE__TOO_LARGE, code, error, error_size,
                             "%zu message ids exceed the limit of %zu per request", count,
                             self->options.max_page_size);
        return 0;
    }
    default:
        return 0;
    }
}

//  --------------------------------------------------------------------------
//  Replies and events

//  Sets reply's code and error text (reply->error is still the default).
static void s_fail (Raftq__Reply *reply, Raftq__Code code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_fail (Raftq__Reply *reply, Raftq__Code code, const char *format, ...)
{
    reply->code = code;
    va_list args;
    va_start (args, format);
    reply->error = must_vformat (format, args);
    va_end (args);
}

static Raftq__Event *
s_event_new (const char *stream, const char *kind, uint64_t index)
{
    Raftq__Event *event = (Raftq__Event *)must_alloc (sizeof (Raftq__Event));
    raftq__event__init (event);
    event->stream = must_strdup (stream);
    event->kind = must_strdup (kind);
    event->index = index;
    return event;
}

static void
s_emit_message (chat_t *self, const char *stream, const message_t *message, uint64_t index)
{
    Raftq__Event *event = s_event_new (stream, "message", index);
    event->id = message->id;
    event->from = must_strdup (message->sender->name);
    event->to = must_strdup (message->recipient->name);
    event->text = must_strdup (message->text);
    event->ts = message->timestamp_ms;
    event_log_emit (self->events, event);
}

static void
s_emit_deletion (chat_t *self, const char *stream, const uint64_t *ids, size_t count,
                 uint64_t index)
{
    Raftq__Event *event = s_event_new (stream, "delete", index);
    event->ids = (uint64_t *)must_memdup (ids, count * sizeof (uint64_t));
    event->n_ids = count;
    event_log_emit (self->events, event);
}

//  --------------------------------------------------------------------------
//  Accounts, kept sorted by name

//  Position of name in sorted_accounts, or where it would go.
static size_t
s_account_position (chat_t *self, const char *name, bool *found)
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

static account_t *
s_account_lookup (chat_t *self, const char *name)
{
    return name ? (account_t *)zhashx_lookup (self->accounts, name) : NULL;
}

static account_t *
s_account_insert (chat_t *self, const char *name, const char *password_hash)
{
    account_t *account = (account_t *)must_zalloc (sizeof (account_t));
    account->name = must_strdup (name);
    account->password_hash = must_strdup (password_hash);
    account->stream = must_format ("user/%s", name);
    bool found;
    size_t position = s_account_position (self, name, &found);
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
    return account;
}

static void
s_account_remove (chat_t *self, account_t *account)
{
    bool found;
    size_t position = s_account_position (self, account->name, &found);
    assert (found);
    memmove (&self->sorted_accounts[position], &self->sorted_accounts[position + 1],
             (self->account_count - position - 1) * sizeof (account_t *));
    self->account_count--;
    zhashx_delete (self->accounts, account->name);
    s_account_free (account);
}

const char *
chat_password_hash (chat_t *self, const char *user)
{
    assert (self);
    account_t *account = s_account_lookup (self, user);
    return account ? account->password_hash : NULL;
}

//  --------------------------------------------------------------------------
//  Sessions

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
}

//  Adds a session as the account's newest.
static void
s_session_add (chat_t *self, account_t *account, const char *token)
{
    session_t *session = (session_t *)must_zalloc (sizeof (session_t));
    session->token = must_strdup (token);
    session->account = account;
    session->older = account->session_newest;
    if (account->session_newest)
        account->session_newest->newer = session;
    else
        account->session_oldest = session;
    account->session_newest = session;
    account->session_count++;
    zhashx_insert (self->sessions, session->token, session);
}

static void
s_session_begin (chat_t *self, account_t *account, const char *token)
{
    s_session_add (self, account, token);
    if (account->session_count > self->options.max_sessions)
        s_session_end (self, account->session_oldest);
}

//  The account acting with token, or NULL after failing reply.
static account_t *
s_authenticate (chat_t *self, const char *token, Raftq__Reply *reply)
{
    if (!token || !*token) {
        s_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "no session token: log in first");
        return NULL;
    }
    session_t *session = (session_t *)zhashx_lookup (self->sessions, token);
    if (!session) {
        s_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "invalid session token: log in again");
        return NULL;
    }
    return session->account;
}

//  --------------------------------------------------------------------------
//  Messages and conversations

//  Key of the conversation between two names: "<a>/<b>", a <= b.
static char *
s_conversation_key (const char *first, const char *second)
{
    if (strcmp (first, second) > 0) {
        const char *swap = first;
        first = second;
        second = swap;
    }
    return must_format ("%s/%s", first, second);
}

static conversation_t *
s_conversation_lookup (chat_t *self, const account_t *first, const account_t *second)
{
    char *key = s_conversation_key (first->name, second->name);
    conversation_t *conversation = (conversation_t *)zhashx_lookup (self->conversations, key);
    free (key);
    return conversation;
}

static conversation_t *
s_conversation_require (chat_t *self, const account_t *first, const account_t *second)
{
    conversation_t *conversation = s_conversation_lookup (self, first, second);
    if (!conversation) {
        conversation = (conversation_t *)must_zalloc (sizeof (conversation_t));
        conversation->key = s_conversation_key (first->name, second->name);
        conversation->stream = must_format ("conv/%s", conversation->key);
        zhashx_insert (self->conversations, conversation->key, conversation);
    }
    return conversation;
}

static void
s_unread_remove (message_t *message)
{
    account_t *recipient = message->recipient;
    if (message->unread_older)
        message->unread_older->unread_newer = message->unread_newer;
    else
        recipient->unread_oldest = message->unread_newer;
    if (message->unread_newer)
        message->unread_newer->unread_older = message->unread_older;
    else
        recipient->unread_newest = message->unread_older;
    message->unread_older = message->unread_newer = NULL;
    recipient->unread_count--;
    message->read = true;
}

//  Links a message with id, newer than every message held, into every list;
//  an unread one also into its recipient's unread list.
static message_t *
s_message_insert (chat_t *self, uint64_t id, account_t *sender, account_t *recipient,
                  const char *text, size_t length, int64_t timestamp_ms, bool read)
{
    message_t *message = (message_t *)must_zalloc (sizeof (message_t));
    message->id = id;
    message->read = read;
    message->sender = sender;
    message->recipient = recipient;
    message->text = (char *)must_alloc (length + 1);
    memcpy (message->text, text, length);
    message->text[length] = 0;
    message->timestamp_ms = timestamp_ms;

    message->older = self->newest;
    if (self->newest)
        self->newest->newer = message;
    else
        self->oldest = message;
    self->newest = message;
    zhashx_insert (self->messages, &message->id, message);

    conversation_t *conversation = s_conversation_require (self, sender, recipient);
    message->conversation = conversation;
    message->conversation_older = conversation->newest;
    if (conversation->newest)
        conversation->newest->conversation_newer = message;
    else
        conversation->oldest = message;
    conversation->newest = message;
    conversation->count++;
    if (read)
        return message;

    message->unread_older = recipient->unread_newest;
    if (recipient->unread_newest)
        recipient->unread_newest->unread_newer = message;
    else
        recipient->unread_oldest = message;
    recipient->unread_newest = message;
    recipient->unread_count++;
    return message;
}

static message_t *
s_message_add (chat_t *self, account_t *sender, account_t *recipient, const char *text,
               size_t length, int64_t timestamp_ms)
{
    return s_message_insert (self, ++self->last_message_id, sender, recipient, text, length,
                             timestamp_ms, false);
}

//  Unlinks and frees a message; an emptied conversation goes too.
static void
s_message_remove (chat_t *self, message_t *message)
{
    if (!message->read)
        s_unread_remove (message);
    conversation_t *conversation = message->conversation;
    if (message->conversation_older)
        message->conversation_older->conversation_newer = message->conversation_newer;
    else
        conversation->oldest = message->conversation_newer;
    if (message->conversation_newer)
        message->conversation_newer->conversation_older = message->conversation_older;
    else
        conversation->newest = message->conversation_older;
    conversation->count--;
    if (conversation->count == 0)
        zhashx_delete (self->conversations, conversation->key);

    if (message->older)
        message->older->newer = message->newer;
    else
        self->oldest = message->newer;
    if (message->newer)
        message->newer->older = message->older;
    else
        self->newest = message->older;
    zhashx_delete (self->messages, &message->id);
    s_message_free (message);
}

static account_t *
s_partner_of (const message_t *message, const account_t *account)
{
    return message->sender == account ? message->recipient : message->sender;
}

//  --------------------------------------------------------------------------
//  Pages

//  The slice [*first, *first + *count) of a listing of total items for
//  page (from 1; 0 means 1) of page_size (0: the default).
static void
s_page_slice (uint64_t total, uint32_t page, uint32_t page_size, uint64_t *first, uint64_t *count)
{
    uint64_t size = page_size ? page_size : CHAT_DEFAULT_PAGE_SIZE;
    uint64_t skip = (uint64_t)(page ? page - 1 : 0) * size;
    *first = skip < total ? skip : total;
    *count = total - *first < size ? total - *first : size;
}

static Raftq__ChatMessage *
s_chat_message_new (const message_t *message)
{
    Raftq__ChatMessage *item = (Raftq__ChatMessage *)must_alloc (sizeof (Raftq__ChatMessage));
    raftq__chat_message__init (item);
    item->id = message->id;
    item->from = must_strdup (message->sender->name);
    item->to = must_strdup (message->recipient->name);
    item->text = must_strdup (message->text);
    item->ts = message->timestamp_ms;
    item->read = message->read;
    return item;
}

//  A page result with room for count messages.
static Raftq__MessagePage *
s_page_new (Raftq__Reply *reply, uint64_t total, uint64_t first, uint64_t count)
{
    Raftq__MessagePage *page = (Raftq__MessagePage *)must_alloc (sizeof (Raftq__MessagePage));
    raftq__message_page__init (page);
    page->total = total;
    page->remaining = total - first - count;
    if (count)
        page->messages = (Raftq__ChatMessage **)must_alloc (count * sizeof (Raftq__ChatMessage *));
    reply->result_case = RAFTQ__REPLY__RESULT_PAGE;
    reply->page = page;
    return page;
}

//  --------------------------------------------------------------------------
//  Glob patterns: '*' any run, '?' any byte, "[...]" a set (ranges, leading
//  '!' or '^' negates), '\' escapes. Linear-time matching (the classic
//  two-pointer walk that only ever returns to the last '*'), because a
//  pattern built to make a backtracking matcher explode would stall every
//  node applying it.

//  Matches one pattern element at pattern against character; *next is
//  where the following element starts. False at the end of the pattern.
static bool
s_glob_element (const char *pattern, char character, const char **next)
{
    if (*pattern == 0)
        return false;
    if (*pattern == '?') {
        *next = pattern + 1;
        return true;
    }
    if (*pattern == '\\' && pattern[1]) {
        *next = pattern + 2;
        return pattern[1] == character;
    }
    if (*pattern == '[') {
        const char *cursor = pattern + 1;
        bool negate = *cursor == '!' || *cursor == '^';
        if (negate)
            cursor++;
        bool matched = false;
        //  A ']' right after the opening is a member, not the end
        const char *start = cursor;
        while (*cursor && (*cursor != ']' || cursor == start)) {
            char low = *cursor, high = *cursor;
            if (cursor[1] == '-' && cursor[2] && cursor[2] != ']') {
                high = cursor[2];
                cursor += 3;
            } else
                cursor++;
            if ((unsigned char)character >= (unsigned char)low &&
                (unsigned char)character <= (unsigned char)high)
                matched = true;
        }
        if (*cursor == ']') {
            *next = cursor + 1;
            return matched != negate;
        }
        //  No closing bracket: the '[' stands for itself
    }
    *next = pattern + 1;
    return *pattern == character;
}

static bool
s_glob_match (const char *pattern, const char *name)
{
    const char *star = NULL;      //  element after the last '*' seen
    const char *star_name = NULL; //  where that '*' stopped matching in name
    while (*name) {
        const char *next;
        if (*pattern == '*') {
            while (*pattern == '*')
                pattern++;
            star = pattern;
            star_name = name;
        } else if (s_glob_element (pattern, *name, &next)) {
            pattern = next;
            name++;
        } else if (star) {
            //  Let the last '*' swallow one more character and retry
            pattern = star;
            name = ++star_name;
        } else
            return false;
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == 0;
}

//  The literal start of a pattern (before any special character): every
//  matching name begins with it, which narrows the scan of sorted names.
static size_t
s_glob_prefix (const char *pattern)
{
    size_t length = 0;
    while (pattern[length] && !strchr ("*?[\\", pattern[length]))
        length++;
    return length;
}

//  --------------------------------------------------------------------------
//  Operations

static void
s_create_account (chat_t *self, const Raftq__State__NewAccount *create, Raftq__Reply *reply)
{
    if (s_account_lookup (self, create->user)) {
        s_fail (reply, RAFTQ__CODE__ALREADY_EXISTS, "account '%s' already exists", create->user);
        return;
    }
    s_account_insert (self, create->user, create->password_hash);
}

static void
s_check_user (chat_t *self, const Raftq__CheckUser *check, Raftq__Reply *reply)
{
    Raftq__UserExists *exists = (Raftq__UserExists *)must_alloc (sizeof (Raftq__UserExists));
    raftq__user_exists__init (exists);
    exists->exists = s_account_lookup (self, check->user) != NULL;
    reply->result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    reply->user_exists = exists;
}

static void
s_login (chat_t *self, const Raftq__State__NewSession *login, Raftq__Reply *reply)
{
    account_t *account = s_account_lookup (self, login->user);
    //  The leader verified the password against this very hash: if the
    //  account went away or changed meanwhile, the login does not count.
    //  One message for both, so a login does not tell who exists.
    if (!account || strcmp (account->password_hash, login->password_hash) != 0) {
        s_fail (reply, RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
        return;
    }
    if (zhashx_lookup (self->sessions, login->token)) {
        s_fail (reply, RAFTQ__CODE__INVALID_ARGUMENT, "session token already in use");
        return;
    }
    s_session_begin (self, account, login->token);
    Raftq__Session *session = (Raftq__Session *)must_alloc (sizeof (Raftq__Session));
    raftq__session__init (session);
    session->token = must_strdup (login->token);
    session->unread = account->unread_count;
    reply->result_case = RAFTQ__REPLY__RESULT_SESSION;
    reply->session = session;
}

//  The token was authenticated: its session exists.
static void
s_logout (chat_t *self, const char *token)
{
    s_session_end (self, (session_t *)zhashx_lookup (self->sessions, token));
}

static void
s_list_accounts (chat_t *self, const Raftq__ListAccounts *list, Raftq__Reply *reply)
{
    const char *pattern = list->pattern && *list->pattern ? list->pattern : "*";
    size_t prefix = s_glob_prefix (pattern);
    char *start = (char *)must_memdup (pattern, prefix + 1);
    start[prefix] = 0;
    bool found;
    size_t position = s_account_position (self, start, &found);
    free (start);

    //  Matches of the whole listing, as positions in sorted_accounts
    size_t *matches = NULL;
    size_t match_count = 0;
    for (; position < self->account_count; position++) {
        const char *name = self->sorted_accounts[position]->name;
        if (strncmp (name, pattern, prefix) != 0)
            break;
        if (s_glob_match (pattern, name)) {
            matches = (size_t *)must_realloc (matches, (match_count + 1) * sizeof (size_t));
            matches[match_count++] = position;
        }
    }
    uint64_t first, count;
    s_page_slice (match_count, list->page, list->page_size, &first, &count);
    Raftq__AccountList *accounts = (Raftq__AccountList *)must_alloc (sizeof (Raftq__AccountList));
    raftq__account_list__init (accounts);
    accounts->total = match_count;
    if (count)
        accounts->names = (char **)must_alloc (count * sizeof (char *));
    for (uint64_t item = 0; item < count; item++)
        accounts->names[item] = must_strdup (self->sorted_accounts[matches[first + item]]->name);
    accounts->n_names = count;
    free (matches);
    reply->result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
    reply->accounts = accounts;
}

static void
s_send_message (chat_t *self, account_t *sender, const Raftq__SendMessage *send,
                int64_t timestamp_ms, uint64_t index, Raftq__Reply *reply)
{
    account_t *recipient = s_account_lookup (self, send->to);
    if (!recipient) {
        s_fail (reply, RAFTQ__CODE__NOT_FOUND, "no account named '%s'", send->to);
        return;
    }
    const char *text;
    size_t length;
    s_trim (send->text, &text, &length);
    message_t *message = s_message_add (self, sender, recipient, text, length, timestamp_ms);

    s_emit_message (self, recipient->stream, message, index);
    if (sender != recipient)
        s_emit_message (self, sender->stream, message, index);
    s_emit_message (self, message->conversation->stream, message, index);

    Raftq__MessageSent *sent = (Raftq__MessageSent *)must_alloc (sizeof (Raftq__MessageSent));
    raftq__message_sent__init (sent);
    sent->id = message->id;
    sent->ts = message->timestamp_ms;
    reply->result_case = RAFTQ__REPLY__RESULT_SENT;
    reply->sent = sent;
}

static void
s_read_unread (account_t *reader, const Raftq__ReadMessages *read, Raftq__Reply *reply)
{
    uint64_t first, count;
    s_page_slice (reader->unread_count, read->page, read->page_size, &first, &count);
    Raftq__MessagePage *page = s_page_new (reply, reader->unread_count, first, count);
    message_t *message = reader->unread_oldest;
    for (uint64_t skipped = 0; skipped < first; skipped++)
        message = message->unread_newer;
    for (uint64_t item = 0; item < count; item++) {
        message_t *newer = message->unread_newer;
        page->messages[page->n_messages++] = s_chat_message_new (message);
        s_unread_remove (message);
        message = newer;
    }
}

static void
s_read_conversation (chat_t *self, account_t *reader, const Raftq__ReadMessages *read,
                     Raftq__Reply *reply)
{
    account_t *partner = s_account_lookup (self, read->partner);
    if (!partner) {
        s_fail (reply, RAFTQ__CODE__NOT_FOUND, "no account named '%s'", read->partner);
        return;
    }
    conversation_t *conversation = s_conversation_lookup (self, reader, partner);
    uint64_t total = conversation ? conversation->count : 0;
    uint64_t first, count;
    s_page_slice (total, read->page, read->page_size, &first, &count);
    Raftq__MessagePage *page = s_page_new (reply, total, first, count);
    message_t *message = conversation ? conversation->oldest : NULL;
    for (uint64_t skipped = 0; skipped < first; skipped++)
        message = message->conversation_newer;
    for (uint64_t item = 0; item < count; item++) {
        page->messages[page->n_messages++] = s_chat_message_new (message);
        if (message->recipient == reader && !message->read)
            s_unread_remove (message);
        message = message->conversation_newer;
    }
}

static int
s_id_order (const void *first, const void *second)
{
    return s_id_compare (first, second);
}

static int
s_conversation_order (const void *first, const void *second)
{
    return strcmp ((*(conversation_t *const *)first)->key, (*(conversation_t *const *)second)->key);
}

//  Deletes messages (sorted by id, the caller's to delete) and tells every
//  stream concerned: the actor's, each partner's and each conversation's.
static void
s_delete_and_notify (chat_t *self, account_t *actor, message_t **messages, size_t count,
                     uint64_t index)
{
    uint64_t *ids = (uint64_t *)must_alloc (count * sizeof (uint64_t));
    uint64_t *subset = (uint64_t *)must_alloc (count * sizeof (uint64_t));
    conversation_t **conversations =
        (conversation_t **)must_alloc (count * sizeof (conversation_t *));
    size_t conversation_count = 0;
    for (size_t position = 0; position < count; position++) {
        ids[position] = messages[position]->id;
        conversation_t *conversation = messages[position]->conversation;
        bool known = false;
        for (size_t seen = 0; seen < conversation_count && !known; seen++)
            known = conversations[seen] == conversation;
        if (!known)
            conversations[conversation_count++] = conversation;
    }
    qsort (conversations, conversation_count, sizeof (conversation_t *), s_conversation_order);

    s_emit_deletion (self, actor->stream, ids, count, index);
    //  One conversation per partner: its ids go to the partner and to the
    //  conversation's stream
    for (size_t which = 0; which < conversation_count; which++) {
        size_t subset_count = 0;
        account_t *partner = NULL;
        for (size_t position = 0; position < count; position++)
            if (messages[position]->conversation == conversations[which]) {
                subset[subset_count++] = ids[position];
                partner = s_partner_of (messages[position], actor);
            }
        if (partner != actor)
            s_emit_deletion (self, partner->stream, subset, subset_count, index);
        s_emit_deletion (self, conversations[which]->stream, subset, subset_count, index);
    }
    //  Removing may free emptied conversations: last
    for (size_t position = 0; position < count; position++)
        s_message_remove (self, messages[position]);
    free (conversations);
    free (subset);
    free (ids);
}

static void
s_delete_messages (chat_t *self, account_t *actor, const Raftq__DeleteMessages *delete_messages,
                   uint64_t index, Raftq__Reply *reply)
{
    uint64_t *ids =
        (uint64_t *)must_memdup (delete_messages->ids, delete_messages->n_ids * sizeof (uint64_t));
    qsort (ids, delete_messages->n_ids, sizeof (uint64_t), s_id_order);
    message_t **messages = (message_t **)must_alloc (delete_messages->n_ids * sizeof (message_t *));
    size_t count = 0;
    for (size_t position = 0; position < delete_messages->n_ids; position++) {
        if (position > 0 && ids[position] == ids[position - 1])
            continue;
        message_t *message = (message_t *)zhashx_lookup (self->messages, &ids[position]);
        if (!message)
            continue;
        if (message->sender != actor && message->recipient != actor) {
            s_fail (reply, RAFTQ__CODE__PERMISSION_DENIED,
                    "message %" PRIu64 " is not yours: you neither sent nor received it",
                    ids[position]);
            free (messages);
            free (ids);
            return;
        }
        messages[count++] = message;
    }
    if (count)
        s_delete_and_notify (self, actor, messages, count, index);
    free (messages);
    free (ids);

    Raftq__Deleted *deleted = (Raftq__Deleted *)must_alloc (sizeof (Raftq__Deleted));
    raftq__deleted__init (deleted);
    deleted->count = count;
    reply->result_case = RAFTQ__REPLY__RESULT_DELETED;
    reply->deleted = deleted;
}

static void
s_delete_account (chat_t *self, account_t *account, uint64_t index)
{
    //  Its conversations, in key order so that events come out the same
    //  on every node whatever the table's order
    size_t conversation_count = 0;
    conversation_t **conversations = (conversation_t **)must_alloc (
        (zhashx_size (self->conversations) + 1) * sizeof (conversation_t *));
    for (conversation_t *conversation = (conversation_t *)zhashx_first (self->conversations);
         conversation; conversation = (conversation_t *)zhashx_next (self->conversations))
        if (conversation->oldest->sender == account || conversation->oldest->recipient == account)
            conversations[conversation_count++] = conversation;
    qsort (conversations, conversation_count, sizeof (conversation_t *), s_conversation_order);

    for (size_t which = 0; which < conversation_count; which++) {
        conversation_t *conversation = conversations[which];
        size_t count = conversation->count;
        message_t **messages = (message_t **)must_alloc (count * sizeof (message_t *));
        size_t position = 0;
        for (message_t *message = conversation->oldest; message;
             message = message->conversation_newer)
            messages[position++] = message;
        //  The text in the retained window goes before the deletion is told
        event_log_forget (self->events, conversation->stream);
        s_delete_and_notify (self, account, messages, count, index);
        free (messages);
    }
    free (conversations);

    while (account->session_oldest)
        s_session_end (self, account->session_oldest);
    event_log_forget (self->events, account->stream);
    event_log_emit (self->events, s_event_new (account->stream, "account_deleted", index));
    s_account_remove (self, account);
}

void
chat_execute (chat_t *self, const Raftq__State__Command *command, uint64_t index,
              Raftq__Reply *reply)
{
    assert (self);
    assert (command && reply);
    account_t *actor = NULL;
    if (s_needs_session (command)) {
        actor = s_authenticate (self, command->token, reply);
        if (!actor)
            return;
    }
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        s_create_account (self, command->create_account, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        s_check_user (self, command->check_user, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        s_login (self, command->login, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
        s_logout (self, command->token);
        break;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
        s_list_accounts (self, command->list_accounts, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        s_send_message (self, actor, command->send_message, command->timestamp_ms, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
        if (command->read_messages->partner && *command->read_messages->partner)
            s_read_conversation (self, actor, command->read_messages, reply);
        else
            s_read_unread (actor, command->read_messages, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
        s_delete_messages (self, actor, command->delete_messages, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        s_delete_account (self, actor, index);
        break;
    default:
        s_fail (reply, RAFTQ__CODE__INTERNAL, "not a chat operation");
        break;
    }
}

//  --------------------------------------------------------------------------
//  State hash

void
chat_digest (chat_t *self, digest_t *digest)
{
    assert (self);
    digest_u64 (digest, self->last_message_id);
    digest_u64 (digest, self->account_count);
    for (size_t position = 0; position < self->account_count; position++) {
        account_t *account = self->sorted_accounts[position];
        digest_string (digest, account->name);
        digest_string (digest, account->password_hash);
        digest_u64 (digest, account->unread_count);
        digest_u64 (digest, account->session_count);
        for (session_t *session = account->session_oldest; session; session = session->newer)
            digest_string (digest, session->token);
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

//  --------------------------------------------------------------------------
//  Snapshots

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
        for (session_t *session = account->session_oldest; session; session = session->newer)
            saved->session_tokens[saved->n_session_tokens++] = session->token;
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
    for (size_t position = 0; position < state->n_accounts; position++)
        free (state->accounts[position]->session_tokens);
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
            return s_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                             "an account has no name or password hash");
        //  Strictly ascending: sorted as sorted_accounts must be, and unique
        if (self->account_count > 0 &&
            strcmp (self->sorted_accounts[self->account_count - 1]->name, saved->name) >= 0)
            return s_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                             "account '%s' is out of order", saved->name);
        account_t *account = s_account_insert (self, saved->name, saved->password_hash);
        for (size_t token = 0; token < saved->n_session_tokens; token++) {
            const char *session_token = saved->session_tokens[token];
            if (!session_token || !*session_token || zhashx_lookup (self->sessions, session_token))
                return s_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                                 "account '%s' has an empty or duplicate session token",
                                 saved->name);
            s_session_add (self, account, session_token);
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
            return s_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                             "message %" PRIu64 " is out of order", saved->id);
        account_t *sender = s_account_lookup (self, saved->sender);
        account_t *recipient = s_account_lookup (self, saved->recipient);
        if (!sender || !recipient || !saved->text)
            return s_refuse (RAFTQ__CODE__INTERNAL, NULL, error, error_size,
                             "message %" PRIu64 " names no account or has no text", saved->id);
        s_message_insert (self, saved->id, sender, recipient, saved->text, strlen (saved->text),
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
