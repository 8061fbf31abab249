/*  cli_chat — the one-shot chat commands of `raftq` (register, login,
    logout, check-user, send, read, users, delete, delete-account), for
    scripts: one request each, the outcome as text or (--json) as the JSON
    dialect's reply shape (DESIGN 5.2), and the session they run in.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "raftq_cli.h"

//  Where the session token comes from, if anywhere: --token, else $RAFTQ_TOKEN.
static const char *
s_token (const cli_options_t *options)
{
    if (options->token)
        return options->token;
    const char *token = getenv ("RAFTQ_TOKEN");
    return token && *token ? token : NULL;
}

bool
cli_session_given (const cli_options_t *options)
{
    return options->user || s_token (options);
}

raftq_code_t
cli_session (const cli_options_t *options, raftq_client_t *client)
{
    //  Logging in is asked for explicitly; it beats a token in the environment.
    if (options->user && !options->token) {
        char password[CLI_PASSWORD_MAX];
        if (cli_password (options->user, options->password, password, sizeof (password)))
            return RAFTQ_UNAUTHENTICATED;
        raftq_code_t code = raftq_login (client, options->user, password, NULL);
        memset (password, 0, sizeof (password));
        return code;
    }
    const char *token = s_token (options);
    if (!token)
        return RAFTQ_UNAUTHENTICATED;
    return raftq_client_set_token (client, token) == 0 ? RAFTQ_OK : RAFTQ_INTERNAL;
}

int
cli_session_required (const cli_options_t *options, raftq_client_t *client)
{
    if (!cli_session_given (options))
        return cli_report_failure (
            options, RAFTQ_UNAUTHENTICATED,
            "no session: give --token, set RAFTQ_TOKEN, or use --user (and RAFTQ_PASSWORD)");
    raftq_code_t code = cli_session (options, client);
    return code == RAFTQ_OK ? -1 : cli_failed (options, client, code);
}

int
cli_parse_message_id (const char *text, uint64_t *id)
{
    //  Messages are printed as "#12": take that form too.
    if (*text == '#')
        text++;
    return cli_parse_number (text, id) == 0 && *id > 0 ? 0 : -1;
}

json_t *
cli_message_json (const raftq_message_t *message)
{
    return json_pack ("{s:I, s:s, s:s, s:s, s:I, s:b}", "id", (json_int_t)message->id, "from",
                      message->from, "to", message->to, "text", message->text, "ts",
                      (json_int_t)message->ts, "read", message->read);
}

void
cli_print_message (FILE *stream, const raftq_message_t *message)
{
    char when[32];
    cli_format_time (message->ts, when, sizeof (when));
    fprintf (stream, "#%" PRIu64 " [%s] %s -> %s: %s\n", message->id, when, message->from,
             message->to, message->text);
}

//  Prints {"success": true} with the fields of result (taken), or text.
static int
s_succeeded (const cli_options_t *options, json_t *result, const char *text)
{
    if (options->json) {
        json_t *object = json_pack ("{s:b}", "success", 1);
        json_object_update (object, result);
        cli_print_json (object);
    } else if (text)
        puts (text);
    json_decref (result);
    return CLI_EXIT_OK;
}

int
cli_command_register (const cli_options_t *options, raftq_client_t *client)
{
    const char *user = options->arguments[0];
    char password[CLI_PASSWORD_MAX];
    if (cli_password (user, options->argument_count > 1 ? options->arguments[1] : NULL, password,
                      sizeof (password)))
        return CLI_EXIT_USAGE;
    raftq_code_t code = raftq_create_account (client, user, password);
    memset (password, 0, sizeof (password));
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    char text[300];
    snprintf (text, sizeof (text), "registered %s", user);
    return s_succeeded (options, json_pack ("{s:s}", "user", user), text);
}

int
cli_command_login (const cli_options_t *options, raftq_client_t *client)
{
    const char *user = options->arguments[0];
    uint64_t unread = 0;
    char password[CLI_PASSWORD_MAX];
    if (cli_password (user, options->argument_count > 1 ? options->arguments[1] : NULL, password,
                      sizeof (password)))
        return CLI_EXIT_USAGE;
    raftq_code_t code = raftq_login (client, user, password, &unread);
    memset (password, 0, sizeof (password));
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    const char *token = raftq_client_token (client);
    //  The token alone on stdout, so that RAFTQ_TOKEN=$(raftq login u p) works.
    if (!options->json)
        fprintf (stderr, "logged in as %s; %" PRIu64 " unread message(s)\n", user, unread);
    return s_succeeded (
        options,
        json_pack ("{s:s, s:s, s:I}", "user", user, "token", token, "unread", (json_int_t)unread),
        token);
}

//  Logout and account deletion both end the session and answer nothing but
//  success, so they share one command body; done is the text to print.
static int
s_end_session (const cli_options_t *options, raftq_client_t *client,
               raftq_code_t (*end) (raftq_client_t *client), const char *done)
{
    int status = cli_session_required (options, client);
    if (status >= 0)
        return status;
    raftq_code_t code = end (client);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    return s_succeeded (options, json_object (), done);
}

int
cli_command_logout (const cli_options_t *options, raftq_client_t *client)
{
    return s_end_session (options, client, raftq_logout, "logged out");
}

int
cli_command_check_user (const cli_options_t *options, raftq_client_t *client)
{
    const char *user = options->arguments[0];
    bool exists = false;
    raftq_code_t code = raftq_check_user (client, user, &exists);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    char text[300];
    snprintf (text, sizeof (text), "%s %s", user, exists ? "exists" : "does not exist");
    return s_succeeded (options, json_pack ("{s:s, s:b}", "user", user, "exists", exists), text);
}

int
cli_command_send (const cli_options_t *options, raftq_client_t *client)
{
    int status = cli_session_required (options, client);
    if (status >= 0)
        return status;
    const char *to = options->arguments[0];
    uint64_t id = 0;
    int64_t ts = 0;
    raftq_code_t code = raftq_send_message (client, to, options->arguments[1], &id, &ts);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    char text[300];
    snprintf (text, sizeof (text), "sent message #%" PRIu64 " to %s", id, to);
    return s_succeeded (options,
                        json_pack ("{s:I, s:I}", "id", (json_int_t)id, "ts", (json_int_t)ts), text);
}

int
cli_command_read (const cli_options_t *options, raftq_client_t *client)
{
    int status = cli_session_required (options, client);
    if (status >= 0)
        return status;
    raftq_message_page_t *page = NULL;
    raftq_code_t code =
        raftq_read_messages (client, options->partner, options->page, options->page_size, &page);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json) {
        json_t *messages = json_array ();
        for (size_t index = 0; index < page->count; index++)
            json_array_append_new (messages, cli_message_json (&page->messages[index]));
        s_succeeded (options,
                     json_pack ("{s:o, s:I, s:I}", "messages", messages, "total",
                                (json_int_t)page->total, "remaining", (json_int_t)page->remaining),
                     NULL);
    } else {
        for (size_t index = 0; index < page->count; index++)
            cli_print_message (stdout, &page->messages[index]);
        fprintf (stderr,
                 "%zu message(s) on page %u, %" PRIu64 " in all, %" PRIu64 " after this page\n",
                 page->count, options->page, page->total, page->remaining);
    }
    raftq_message_page_destroy (&page);
    return CLI_EXIT_OK;
}

int
cli_command_users (const cli_options_t *options, raftq_client_t *client)
{
    const char *pattern = options->argument_count ? options->arguments[0] : NULL;
    char **names = NULL;
    uint64_t total = 0;
    raftq_code_t code =
        raftq_list_accounts (client, pattern, options->page, options->page_size, &names, &total);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    size_t count = 0;
    while (names[count])
        count++;
    if (options->json) {
        json_t *accounts = json_array ();
        for (size_t index = 0; index < count; index++)
            json_array_append_new (accounts, json_string (names[index]));
        s_succeeded (options,
                     json_pack ("{s:o, s:I}", "accounts", accounts, "total", (json_int_t)total),
                     NULL);
    } else {
        for (size_t index = 0; index < count; index++)
            puts (names[index]);
        if (total > count)
            fprintf (stderr, "%zu of %" PRIu64 " account(s) on page %u\n", count, total,
                     options->page);
    }
    raftq_strings_free (&names);
    return CLI_EXIT_OK;
}

int
cli_command_delete (const cli_options_t *options, raftq_client_t *client)
{
    size_t count = (size_t)options->argument_count;
    uint64_t *ids = (uint64_t *)calloc (count, sizeof (uint64_t));
    if (!ids)
        return cli_usage_error ("out of memory", NULL);
    for (size_t index = 0; index < count; index++)
        if (cli_parse_message_id (options->arguments[index], &ids[index]) == -1) {
            free (ids);
            return cli_usage_error ("not a message id", options->arguments[index]);
        }
    int status = cli_session_required (options, client);
    if (status < 0) {
        uint64_t deleted = 0;
        raftq_code_t code = raftq_delete_messages (client, ids, count, &deleted);
        char text[64];
        snprintf (text, sizeof (text), "deleted %" PRIu64 " message(s)", deleted);
        status =
            code == RAFTQ_OK
                ? s_succeeded (options, json_pack ("{s:I}", "deleted", (json_int_t)deleted), text)
                : cli_failed (options, client, code);
    }
    free (ids);
    return status;
}

int
cli_command_delete_account (const cli_options_t *options, raftq_client_t *client)
{
    return s_end_session (options, client, raftq_delete_account, "account deleted");
}
