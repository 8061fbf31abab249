/*  diagnostic — one-line diagnostics on stderr for the broker and its Raft actor.

    Every line is "<local time with ms> node <id> <LEVEL> <text>" and leaves in
    one write, so lines from the broker thread and the actor thread never
    interleave. Stateless: callers say which node they speak for. A limiter,
    kept by whoever logs, bounds how often a noisy condition (garbage on a
    socket) is reported.
*/
#ifndef DIAGNOSTIC_H_INCLUDED
#define DIAGNOSTIC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DIAGNOSTIC_INFO = 0,
    DIAGNOSTIC_WARNING = 1,
    DIAGNOSTIC_ERROR = 2
} diagnostic_level_t;

//  Bounds a repeated complaint to one line per period; owned by the caller.
typedef struct {
    int64_t last_ms;   //  when the last line was let through, 0 for never
    size_t suppressed; //  complaints swallowed since then
} diagnostic_limiter_t;

//  Writes one line for node_id (0: not known yet, printed as "-").
void diagnostic_line (uint32_t node_id, diagnostic_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  True when a line may be written now (at most one per period_ms); then
//  *suppressed says how many earlier complaints were swallowed.
bool diagnostic_limiter_allow (diagnostic_limiter_t *limiter, int64_t now_ms, int64_t period_ms,
                               size_t *suppressed);

//  Reports input dropped on a socket (where: "peer port", what: the kind of
//  garbage) through limiter, so a flood of bad input costs one line a period.
void diagnostic_dropped (diagnostic_limiter_t *limiter, int64_t now_ms, int64_t period_ms,
                         uint32_t node_id, const char *where, const char *what);

#ifdef __cplusplus
}
#endif

#endif
