/*  cli_interactive — `raftq chat`, the interactive terminal chat. One loop
    polls stdin and the subscription to the user's stream (user/<name>)
    together, so incoming messages show while the user types. Lines that
    start with '/' are commands (/help lists them); any other line goes to
    the current correspondent, chosen with /to. Works across leader changes
    because the library follows leaders and the subscription fails over.
    Live messages need PUB endpoints (config pub_port, or -p); without them
    the chat still works, minus the live part. The user's stream is private:
    it is followed with the session token of the login, and ends when the
    node revokes that session (logout elsewhere, expiry).
*/
#include <czmq.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "raftq_cli.h"

#define S_INPUT_MAX  4096 //  longest input line; longer ones are cut
#define S_WORDS_MAX  64   //  words of a command looked at
#define S_PAGE_SIZE  20   //  messages per /read or /conv page
#define S_USERS_PAGE 100  //  names per /users

typedef struct {
    const cli_options_t *options; //  the command line: endpoints, config
    raftq_client_t *client;       //  requests; holds the session token
    raftq_subscription_t *live;   //  the user's stream; NULL when logged out or without PUB
    char *user;                   //  account logged in with here, NULL if none known
    char *partner;                //  where plain lines go, NULL until /to
    bool prompt;                  //  stdin and stdout are a terminal: show a prompt
    char input[S_INPUT_MAX];      //  bytes read from stdin, not yet a whole line
    size_t input_size;            //  how many
    bool done;                    //  /quit, end of input or Ctrl-C
} chat_t;

//  One command: its name after the '/', words it needs, what it does.
typedef struct {
    const char *name;
    size_t minimum_words; //  after the name
    void (*run) (chat_t *self, char **words, size_t count, const char *line);
} chat_command_t;

static void
s_show_prompt (chat_t *self)
{
    if (!self->prompt)
        return;
    if (self->partner)
        printf ("%s> ", self->partner);
    else
        printf ("> ");
    fflush (stdout);
}

//  Prints one line of output; flushed, because people and scripts watch.
static void s_say (chat_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_say (chat_t *self, const char *format, ...)
{
    (void)self;
    va_list args;
    va_start (args, format);
    vprintf (format, args);
    va_end (args);
    putchar ('\n');
    fflush (stdout);
}

static void
s_say_failure (chat_t *self, raftq_code_t code)
{
    s_say (self, "! %s: %s", raftq_code_name (code), raftq_client_error (self->client));
}

//  Starts following the logged-in user's stream, live.
static void
s_live_start (chat_t *self)
{
    raftq_subscription_destroy (&self->live);
    if (self->options->endpoint_count > 0 && self->options->pub_endpoint_count == 0) {
        s_say (self,
               "* live messages are off: give -p for each -e (or use -c); /read shows new ones");
        return;
    }
    char stream[300];
    snprintf (stream, sizeof (stream), "user/%s", self->user);
    self->live = cli_subscription_new (self->options, stream, 0, raftq_client_token (self->client));
    if (!self->live)
        s_say (self, "* live messages are off; /read shows new ones");
}

static void
s_logged_out (chat_t *self)
{
    raftq_subscription_destroy (&self->live);
    zstr_free (&self->user);
}

static void
s_logged_in (chat_t *self, const char *user, uint64_t unread)
{
    s_logged_out (self);
    self->user = strdup (user);
    s_say (self, "logged in as %s; %" PRIu64 " unread message(s)%s", user, unread,
           unread ? " (/read)" : "");
    if (self->user)
        s_live_start (self);
}

static void
s_send (chat_t *self, const char *text)
{
    if (!self->partner) {
        s_say (self, "! no one to talk to: /to USER first (/help for commands)");
        return;
    }
    uint64_t id = 0;
    raftq_code_t code = raftq_send_message (self->client, self->partner, text, &id, NULL);
    if (code == RAFTQ_OK)
        s_say (self, "sent #%" PRIu64 " to %s", id, self->partner);
    else
        s_say_failure (self, code);
}

//  Pointer to what follows the first count words of line and the blanks after them.
static const char *
s_after_words (const char *line, size_t count)
{
    const char *cursor = line;
    for (size_t word = 0; word < count; word++) {
        cursor += strspn (cursor, " \t");
        cursor += strcspn (cursor, " \t");
    }
    return cursor + strspn (cursor, " \t");
}

static void
s_do_help (chat_t *self, char **words, size_t count, const char *line)
{
    (void)words;
    (void)count;
    (void)line;
    s_say (self, "commands:\n"
                 "  /register USER PASSWORD   create an account\n"
                 "  /login USER PASSWORD      log in; incoming messages then show as they come\n"
                 "  /logout                   log out\n"
                 "  /to USER [TEXT]           talk to USER: lines without a '/' go to USER\n"
                 "  /read                     your unread messages (they become read)\n"
                 "  /conv USER [PAGE]         your conversation with USER\n"
                 "  /delete ID...             delete messages you sent or received\n"
                 "  /users [PATTERN]          accounts matching a glob (* ? [..])\n"
                 "  /quit                     leave (Ctrl-D and Ctrl-C too)");
}

static void
s_do_register (chat_t *self, char **words, size_t count, const char *line)
{
    (void)count;
    (void)line;
    raftq_code_t code = raftq_create_account (self->client, words[1], words[2]);
    if (code == RAFTQ_OK)
        s_say (self, "registered %s; /login %s PASSWORD to start", words[1], words[1]);
    else
        s_say_failure (self, code);
}

static void
s_do_login (chat_t *self, char **words, size_t count, const char *line)
{
    (void)count;
    (void)line;
    uint64_t unread = 0;
    raftq_code_t code = raftq_login (self->client, words[1], words[2], &unread);
    if (code == RAFTQ_OK)
        s_logged_in (self, words[1], unread);
    else
        s_say_failure (self, code);
}

static void
s_do_logout (chat_t *self, char **words, size_t count, const char *line)
{
    (void)words;
    (void)count;
    (void)line;
    raftq_code_t code = raftq_logout (self->client);
    s_logged_out (self);
    if (code == RAFTQ_OK)
        s_say (self, "logged out");
    else
        s_say_failure (self, code);
}

static void
s_do_to (chat_t *self, char **words, size_t count, const char *line)
{
    zstr_free (&self->partner);
    self->partner = strdup (words[1]);
    const char *text = s_after_words (line, 2);
    if (count > 2 && *text)
        s_send (self, text);
    else
        s_say (self, "talking to %s: lines without a '/' go to %s", words[1], words[1]);
}

//  Prints a page of messages and what follows it.
static void
s_show_page (chat_t *self, raftq_message_page_t *page, const char *more)
{
    for (size_t index = 0; index < page->count; index++)
        cli_print_message (stdout, &page->messages[index]);
    if (page->remaining)
        s_say (self, "(%" PRIu64 " more; %s)", page->remaining, more);
    else if (page->count == 0)
        s_say (self, "(no messages)");
    else
        fflush (stdout);
}

static void
s_do_read (chat_t *self, char **words, size_t count, const char *line)
{
    (void)words;
    (void)count;
    (void)line;
    raftq_message_page_t *page = NULL;
    raftq_code_t code = raftq_read_messages (self->client, NULL, 1, S_PAGE_SIZE, &page);
    if (code != RAFTQ_OK) {
        s_say_failure (self, code);
        return;
    }
    s_show_page (self, page, "/read again for the next ones");
    raftq_message_page_destroy (&page);
}

static void
s_do_conv (chat_t *self, char **words, size_t count, const char *line)
{
    (void)line;
    uint64_t number = 1;
    if (count > 2 && (cli_parse_number (words[2], &number) == -1 || number > UINT32_MAX)) {
        s_say (self, "! not a page number: %s", words[2]);
        return;
    }
    raftq_message_page_t *page = NULL;
    raftq_code_t code =
        raftq_read_messages (self->client, words[1], (uint32_t)number, S_PAGE_SIZE, &page);
    if (code != RAFTQ_OK) {
        s_say_failure (self, code);
        return;
    }
    char more[320];
    snprintf (more, sizeof (more), "/conv %s %" PRIu64 " for the next page", words[1], number + 1);
    s_show_page (self, page, more);
    raftq_message_page_destroy (&page);
}

static void
s_do_delete (chat_t *self, char **words, size_t count, const char *line)
{
    (void)line;
    uint64_t ids[S_WORDS_MAX];
    for (size_t index = 1; index < count; index++)
        if (cli_parse_message_id (words[index], &ids[index - 1]) == -1) {
            s_say (self, "! not a message id: %s", words[index]);
            return;
        }
    uint64_t deleted = 0;
    raftq_code_t code = raftq_delete_messages (self->client, ids, count - 1, &deleted);
    if (code == RAFTQ_OK)
        s_say (self, "deleted %" PRIu64 " message(s)", deleted);
    else
        s_say_failure (self, code);
}

static void
s_do_users (chat_t *self, char **words, size_t count, const char *line)
{
    (void)line;
    char **names = NULL;
    uint64_t total = 0;
    raftq_code_t code = raftq_list_accounts (self->client, count > 1 ? words[1] : NULL, 1,
                                             S_USERS_PAGE, &names, &total);
    if (code != RAFTQ_OK) {
        s_say_failure (self, code);
        return;
    }
    size_t shown = 0;
    for (char **name = names; *name; name++, shown++)
        printf ("%s%s", shown ? " " : "", *name);
    if (shown)
        putchar ('\n');
    s_say (self, "(%zu of %" PRIu64 " account(s))", shown, total);
    raftq_strings_free (&names);
}

static void
s_do_quit (chat_t *self, char **words, size_t count, const char *line)
{
    (void)words;
    (void)count;
    (void)line;
    self->done = true;
}

static const chat_command_t s_chat_commands[] = {
    {"help", 0, s_do_help},   {"register", 2, s_do_register},
    {"login", 2, s_do_login}, {"logout", 0, s_do_logout},
    {"to", 1, s_do_to},       {"read", 0, s_do_read},
    {"conv", 1, s_do_conv},   {"delete", 1, s_do_delete},
    {"users", 0, s_do_users}, {"quit", 0, s_do_quit},
};

//  One line of input: a /command or text for the partner.
static void
s_handle_line (chat_t *self, char *line)
{
    size_t length = strlen (line);
    if (length && line[length - 1] == '\r')
        line[--length] = 0;
    if (line[0] != '/') {
        if (line[strspn (line, " \t")])
            s_send (self, line);
        return;
    }
    //  The words are cut from a copy: /to needs the line as typed.
    char words_text[S_INPUT_MAX + 1];
    snprintf (words_text, sizeof (words_text), "%s", line);
    char *words[S_WORDS_MAX];
    size_t count = 0;
    char *saved = NULL;
    for (char *word = strtok_r (words_text, " \t", &saved); word && count < S_WORDS_MAX;
         word = strtok_r (NULL, " \t", &saved))
        words[count++] = word;
    const char *name = words[0] + 1;
    for (size_t index = 0; index < sizeof (s_chat_commands) / sizeof (s_chat_commands[0]);
         index++) {
        const chat_command_t *command = &s_chat_commands[index];
        if (strcmp (name, command->name) != 0)
            continue;
        if (count - 1 < command->minimum_words)
            s_say (self, "! /%s needs %zu argument(s); /help for commands", name,
                   command->minimum_words);
        else
            command->run (self, words, count, line);
        return;
    }
    s_say (self, "! unknown command /%s; /help for commands", name);
}

//  Reads what stdin has; handles each whole line. End of input ends the chat.
static void
s_read_input (chat_t *self)
{
    ssize_t size = read (STDIN_FILENO, self->input + self->input_size,
                         sizeof (self->input) - 1 - self->input_size);
    if (size < 0)
        return; //  interrupted; the loop looks again
    if (size == 0) {
        //  The last line may lack its newline.
        self->input[self->input_size] = 0;
        if (self->input_size)
            s_handle_line (self, self->input);
        self->input_size = 0;
        self->done = true;
        return;
    }
    self->input_size += (size_t)size;
    self->input[self->input_size] = 0;
    char *start = self->input;
    char *newline;
    while (!self->done && (newline = strchr (start, '\n'))) {
        *newline = 0;
        s_handle_line (self, start);
        start = newline + 1;
    }
    size_t left = self->input_size - (size_t)(start - self->input);
    if (left == sizeof (self->input) - 1) {
        //  A line longer than the buffer: take it as it is.
        s_handle_line (self, start);
        left = 0;
    }
    memmove (self->input, start, left);
    self->input_size = left;
    s_show_prompt (self);
}

//  Shows what the live stream has brought.
static void
s_show_live (chat_t *self)
{
    raftq_event_t event;
    raftq_gap_t gap;
    bool shown = false;
    raftq_subscription_result_t result;
    while (self->live && (result = raftq_subscription_next (self->live, 0, &event, &gap)) !=
                             RAFTQ_SUBSCRIPTION_NONE) {
        if (result == RAFTQ_SUBSCRIPTION_EVENT) {
            //  The user's own messages were shown when sent.
            if (strcmp (event.kind, "message") != 0 || strcmp (event.from, self->user) == 0)
                continue;
            char when[32];
            cli_format_time (event.ts, when, sizeof (when));
            s_say (self, "%s[%s] %s: %s (#%" PRIu64 ")", self->prompt ? "\n" : "", when, event.from,
                   event.text, event.id);
        } else if (result == RAFTQ_SUBSCRIPTION_GAP)
            s_say (self,
                   "* events %" PRIu64 "-%" PRIu64
                   " of your stream are lost; /read shows what is unread",
                   gap.first, gap.last);
        else if (result == RAFTQ_SUBSCRIPTION_REVOKED) {
            //  Every later call would say the same: the live part is over.
            s_say (self, "* live messages ended: %s; /login to go on",
                   raftq_subscription_error (self->live));
            raftq_subscription_destroy (&self->live);
        } else
            s_say (self, "* live messages: %s", raftq_subscription_error (self->live));
        shown = true;
    }
    if (shown)
        s_show_prompt (self);
}

int
cli_command_chat (const cli_options_t *options, raftq_client_t *client)
{
    chat_t self = {.options = options, .client = client};
    self.prompt = isatty (STDIN_FILENO) && isatty (STDOUT_FILENO);
    s_say (&self, "raftq chat: /help for commands");
    if (options->user) {
        uint64_t unread = 0;
        char password[CLI_PASSWORD_MAX];
        if (cli_password (options->user, options->password, password, sizeof (password)))
            return CLI_EXIT_USAGE;
        raftq_code_t code = raftq_login (client, options->user, password, &unread);
        memset (password, 0, sizeof (password));
        if (code != RAFTQ_OK)
            return cli_failed (options, client, code);
        s_logged_in (&self, options->user, unread);
    } else if (cli_session_given (options)) {
        if (cli_session (options, client) != RAFTQ_OK)
            return cli_failed (options, client, RAFTQ_INTERNAL);
        s_say (&self, "using the given session; live messages need /login");
    }
    s_show_prompt (&self);

    while (!self.done && !zsys_interrupted) {
        zmq_pollitem_t items[2] = {
            {NULL, STDIN_FILENO, ZMQ_POLLIN, 0},
            {self.live ? raftq_subscription_socket (self.live) : NULL, 0, ZMQ_POLLIN, 0}};
        long wait = self.live ? raftq_subscription_wait_ms (self.live) : -1;
        if (zmq_poll (items, self.live ? 2 : 1, wait) == -1)
            break; //  interrupted
        if (items[0].revents & ZMQ_POLLIN)
            s_read_input (&self);
        s_show_live (&self);
    }
    s_logged_out (&self);
    zstr_free (&self.partner);
    return CLI_EXIT_OK;
}
