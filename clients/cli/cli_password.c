/*  cli_password — where the CLI gets a chat password without it ever having
    to be on the command line, where every user of the machine could read
    it (ps, /proc/PID/cmdline) and the shell history keeps it: from
    $RAFTQ_PASSWORD, else by asking on the terminal with echo off. A
    password given as an argument is still taken, for old scripts.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "raftq_cli.h"

//  Reads one line from the terminal into buffer, echo off. Returns 0, or -1.
static int
s_ask (const char *user, char *buffer, size_t size)
{
    FILE *terminal = fopen ("/dev/tty", "r+");
    if (!terminal)
        return -1;
    int fd = fileno (terminal);
    struct termios saved, quiet;
    int rc = tcgetattr (fd, &saved);
    if (rc == 0) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        rc = tcsetattr (fd, TCSAFLUSH, &quiet);
    }
    if (rc == 0) {
        fprintf (terminal, "password for %s: ", user);
        fflush (terminal);
        rc = fgets (buffer, (int)size, terminal) ? 0 : -1;
        tcsetattr (fd, TCSAFLUSH, &saved);
        fputc ('\n', terminal);
    }
    fclose (terminal);
    if (rc == 0)
        buffer[strcspn (buffer, "\r\n")] = 0;
    return rc;
}

int
cli_password (const char *user, const char *given, char *buffer, size_t size)
{
    const char *found = given ? given : getenv ("RAFTQ_PASSWORD");
    if (found) {
        if (strlen (found) >= size) {
            fprintf (stderr, "raftq: the password is too long\n");
            return -1;
        }
        strcpy (buffer, found);
        return 0;
    }
    if (isatty (STDIN_FILENO) && s_ask (user, buffer, size) == 0)
        return 0;
    fprintf (stderr,
             "raftq: no password for %s: set RAFTQ_PASSWORD, or run on a terminal to be "
             "asked\n",
             user);
    return -1;
}
