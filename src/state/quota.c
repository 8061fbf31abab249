/*  quota — the one refusal every state quota shares; see quota.h.
 */
#include <inttypes.h>

#include "state/quota.h"
#include "state/reply.h"

int
quota_check (uint64_t used, uint64_t adding, uint64_t limit, const char *limit_name,
             const char *what, Raftq__Code *code, char *error, size_t error_size)
{
    //  Written so that it cannot overflow: adding may be a huge payload
    if (limit == 0 || (used <= limit && adding <= limit - used))
        return 0;
    return reply_refuse (RAFTQ__CODE__RESOURCE_EXHAUSTED, code, error, error_size,
                         "%s reached: %s holds %" PRIu64 ", %" PRIu64
                         " more would pass the limit of %" PRIu64,
                         limit_name, what, used, adding, limit);
}

int
quota_check_item (uint64_t count, uint64_t count_limit, const char *count_name, const char *what,
                  uint64_t state_bytes, uint64_t cost, uint64_t max_state_bytes, Raftq__Code *code,
                  char *error, size_t error_size)
{
    if (quota_check (count, 1, count_limit, count_name, what, code, error, error_size))
        return -1;
    return quota_check (state_bytes, cost, max_state_bytes, "max_state_bytes", "the state", code,
                        error, error_size);
}
