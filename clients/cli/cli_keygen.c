/*  cli_keygen — `raftq keygen PATH`: writes a new CurveZMQ key pair in
    czmq's certificate format, the public part at PATH and the secret part
    at PATH_secret (0600), and prints the public key (Z85). Brokers name
    their certificate in config.json; clients give theirs with
    --client-certificate or client_certificate.

    It never overwrites: a key that is replaced by mistake locks a node out
    of its cluster (or a client out of an allow-list). Both files are
    claimed with O_EXCL before czmq writes them, so two keygens racing for
    one PATH cannot both win. Missing parent directories are made 0700:
    they hold secret keys.
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raftq_cli.h"

//  Makes the directories above path that are missing, 0700. Returns 0, or
//  -1 with errno set.
static int
s_make_parents (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *slash = strchr (copy + 1, '/'); slash && rc == 0; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0700) == -1 && errno != EEXIST)
            rc = -1;
        *slash = '/';
    }
    free (copy);
    return rc;
}

//  Creates the empty file path, failing if it exists. Returns 0, or -1
//  with errno set.
static int
s_claim (const char *path, mode_t mode)
{
    int descriptor = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (descriptor == -1)
        return -1;
    close (descriptor);
    return 0;
}

//  Prints the keygen failure about path on stderr (and as JSON with --json).
static int
s_failed (const cli_options_t *options, const char *path, const char *problem)
{
    char text[1024];
    snprintf (text, sizeof (text), "%s: %s", path, problem);
    return cli_report_failure (options, RAFTQ_INVALID_ARGUMENT, text);
}

//  Writes the pair claimed at path and secret_path. Returns 0, or -1 with
//  errno set.
static int
s_write (zcert_t *certificate, const char *path, const char *secret_path)
{
    zcert_set_meta (certificate, "created-by", "raftq keygen");
    if (zcert_save_public (certificate, path) == -1 ||
        zcert_save_secret (certificate, secret_path) == -1)
        return -1;
    //  czmq writes through its own umask setting: make sure, whatever it was.
    return chmod (secret_path, 0600);
}

int
cli_command_keygen (const cli_options_t *options, raftq_client_t *client)
{
    (void)client;
    const char *path = options->arguments[0];
    char *secret_path = zsys_sprintf ("%s_secret", path);
    zcert_t *certificate = zcert_new ();
    if (!secret_path || !certificate) {
        zstr_free (&secret_path);
        zcert_destroy (&certificate);
        return s_failed (options, path, "out of memory");
    }
    int status = CLI_EXIT_OK;
    if (s_make_parents (path) == -1)
        status = s_failed (options, path, strerror (errno));
    else if (s_claim (path, 0644) == -1)
        status =
            s_failed (options, path,
                      errno == EEXIST ? "exists: refusing to overwrite a key" : strerror (errno));
    else if (s_claim (secret_path, 0600) == -1) {
        status =
            s_failed (options, secret_path,
                      errno == EEXIST ? "exists: refusing to overwrite a key" : strerror (errno));
        unlink (path);
    } else if (s_write (certificate, path, secret_path) == -1) {
        status = s_failed (options, path, strerror (errno));
        unlink (path);
        unlink (secret_path);
    } else if (options->json)
        cli_print_json (json_pack ("{s:b, s:s, s:s, s:s}", "success", 1, "public_key",
                                   zcert_public_txt (certificate), "certificate", path,
                                   "secret_certificate", secret_path));
    else
        printf ("%s\n", zcert_public_txt (certificate));
    zcert_destroy (&certificate);
    zstr_free (&secret_path);
    return status;
}
