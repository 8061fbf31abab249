/*  config_limits — the "limits" object of config.json; see
    config_limits.h for the keys, defaults and ranges.

    Strict in both config forms: an unknown key is refused, because a typo
    ("max_topic") would otherwise leave a quota at its default unnoticed.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/config_limits.h"

#define MiB (1024ull * 1024)

//  One key: where its value lives in config_limits_t, its default and range.
typedef struct {
    const char *key;   //  name in config.json
    size_t offset;     //  of its uint64_t in config_limits_t
    uint64_t fallback; //  default
    uint64_t min, max; //  accepted range
} s_key_t;

#define S_KEY(name, fallback, min, max)                                                            \
    {                                                                                              \
#name, offsetof(config_limits_t, name), fallback, min, max                                 \
    }

static const s_key_t s_keys[] = {
    S_KEY (max_state_bytes, CONFIG_LIMITS_STATE_BYTES_MAX, 4096, CONFIG_LIMITS_STATE_BYTES_MAX),
    S_KEY (max_topics, 10000, 1, 1ull << 40),
    S_KEY (max_topic_messages, 1000000, 1, 1ull << 40),
    S_KEY (max_topic_bytes, 256 * MiB, 1, 1ull << 40),
    S_KEY (max_accounts, 100000, 1, 1ull << 40),
    S_KEY (max_inbox_messages, 10000, 1, 1ull << 40),
    S_KEY (max_connections, 1024, 1, 1000000),
    S_KEY (min_free_disk_bytes, 64 * MiB, 0, 1ull << 50),
    S_KEY (max_connection_reply_bytes, 16 * MiB, 64 * 1024, 1024 * MiB),
    S_KEY (max_subscriber_lag_bytes, 64 * MiB, MiB, 1ull << 40),
};
#define S_KEY_COUNT (sizeof s_keys / sizeof s_keys[0])

static uint64_t *
s_field (config_limits_t *limits, const s_key_t *key)
{
    return (uint64_t *)((char *)limits + key->offset);
}

static const s_key_t *
s_key_find (const char *name)
{
    for (size_t index = 0; index < S_KEY_COUNT; index++)
        if (strcmp (s_keys[index].key, name) == 0)
            return &s_keys[index];
    return NULL;
}

int
config_limits_parse (json_t *object, config_limits_t *limits, char *place, size_t place_size,
                     char *problem, size_t problem_size)
{
    for (size_t index = 0; index < S_KEY_COUNT; index++)
        *s_field (limits, &s_keys[index]) = s_keys[index].fallback;
    if (!object)
        return 0;
    if (!json_is_object (object)) {
        snprintf (place, place_size, "limits");
        snprintf (problem, problem_size, "must be an object");
        return -1;
    }
    const char *name;
    json_t *value;
    json_object_foreach (object, name, value)
    {
        //  The key came from the file: capped so the message stays one line
        snprintf (place, place_size, "limits.%.40s", name);
        const s_key_t *key = s_key_find (name);
        if (!key) {
            char list[256] = "";
            for (size_t index = 0; index < S_KEY_COUNT; index++) {
                size_t used = strlen (list);
                snprintf (list + used, sizeof list - used, "%s%s", index ? ", " : "",
                          s_keys[index].key);
            }
            snprintf (problem, problem_size, "unknown key (known keys: %s)", list);
            return -1;
        }
        if (!json_is_integer (value) || json_integer_value (value) < 0 ||
            (uint64_t)json_integer_value (value) < key->min ||
            (uint64_t)json_integer_value (value) > key->max) {
            snprintf (problem, problem_size, "must be an integer from %" PRIu64 " to %" PRIu64 "%s",
                      key->min, key->max,
                      key->offset == offsetof (config_limits_t, max_state_bytes)
                          ? " (a snapshot is one protobuf message, under 2 GiB)"
                          : "");
            return -1;
        }
        *s_field (limits, key) = (uint64_t)json_integer_value (value);
    }
    return 0;
}
