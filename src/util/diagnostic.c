/*  diagnostic — one-line diagnostics on stderr; see diagnostic.h.  */
#include "util/diagnostic.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

//  Long enough for any diagnostic we write; longer text is cut, not split.
#define LOG_LINE_MAX 1024

static const char *
s_level_name (diagnostic_level_t level)
{
    switch (level) {
    case DIAGNOSTIC_WARNING:
        return "WARN";
    case DIAGNOSTIC_ERROR:
        return "ERROR";
    default:
        return "INFO";
    }
}

void
diagnostic_line (uint32_t node_id, diagnostic_level_t level, const char *format, ...)
{
    char line[LOG_LINE_MAX];
    struct timeval now;
    gettimeofday (&now, NULL);
    struct tm local;
    localtime_r (&now.tv_sec, &local);
    size_t used = strftime (line, sizeof (line), "%Y-%m-%dT%H:%M:%S", &local);

    char node[16] = "-";
    if (node_id)
        snprintf (node, sizeof (node), "%u", node_id);
    int written = snprintf (line + used, sizeof (line) - used, ".%03ld node %s %s ",
                            (long)(now.tv_usec / 1000), node, s_level_name (level));
    if (written > 0)
        used += (size_t)written;

    va_list arguments;
    va_start (arguments, format);
    written = vsnprintf (line + used, sizeof (line) - used, format, arguments);
    va_end (arguments);
    if (written > 0)
        used += (size_t)written;
    //  Keep room for the newline even when the text was cut
    if (used > sizeof (line) - 2)
        used = sizeof (line) - 2;
    line[used++] = '\n';

    //  One write per line: concurrent threads never interleave within a line
    ssize_t rc = write (STDERR_FILENO, line, used);
    (void)rc;
}

bool
diagnostic_limiter_allow (diagnostic_limiter_t *limiter, int64_t now_ms, int64_t period_ms,
                          size_t *suppressed)
{
    if (limiter->last_ms && now_ms - limiter->last_ms < period_ms) {
        limiter->suppressed++;
        return false;
    }
    *suppressed = limiter->suppressed;
    limiter->suppressed = 0;
    limiter->last_ms = now_ms ? now_ms : 1;
    return true;
}

void
diagnostic_dropped (diagnostic_limiter_t *limiter, int64_t now_ms, int64_t period_ms,
                    uint32_t node_id, const char *where, const char *what)
{
    size_t suppressed;
    if (diagnostic_limiter_allow (limiter, now_ms, period_ms, &suppressed))
        diagnostic_line (node_id, DIAGNOSTIC_WARNING, "%s: dropped %s (%zu more suppressed)", where,
                         what, suppressed);
}
