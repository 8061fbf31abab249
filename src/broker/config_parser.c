/*  config_parser — typed reads of config keys with one-line errors.
 */
#include "broker/config_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
config_streq (const char *one, const char *other)
{
    return strcmp (one, other) == 0;
}

//  Messages quote the file (a key, jansson's "near '...'"), which may hold
//  control characters ("\n" escapes, raw bytes): blank them out so that the
//  message stays one line.
void
config_parser_one_line (char *message)
{
    for (char *at = message; *at; at++)
        if ((unsigned char)*at < 0x20 || *at == 0x7f)
            *at = '?';
}

//  Writes "NAME: PLACE: problem" (PLACE omitted when NULL) into the caller's
//  buffer. Always returns -1 so that callers can `return config_fail (...)`.
int
config_fail (config_parser_t *parser, const char *place, const char *format, ...)
{
    if (!parser->error || parser->error_size == 0)
        return -1;
    char problem[512];
    va_list args;
    va_start (args, format);
    vsnprintf (problem, sizeof problem, format, args);
    va_end (args);
    if (place)
        snprintf (parser->error, parser->error_size, "%s: %s: %s", parser->name, place, problem);
    else
        snprintf (parser->error, parser->error_size, "%s: %s", parser->name, problem);
    config_parser_one_line (parser->error);
    return -1;
}

//  Joins a parent path and a key: "nodes[2]" + "host" -> "nodes[2].host".
void
config_path (char *path, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf (path, CONFIG_PATH_MAX, "%s.%s", parent, key);
    else
        snprintf (path, CONFIG_PATH_MAX, "%s", key);
}

//  Reads an integer in [min, max]. An absent key leaves *value untouched
//  unless the key is required.
int
config_get_integer (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                    bool required, json_int_t min, json_int_t max, json_int_t *value)
{
    char path[CONFIG_PATH_MAX];
    config_path (path, parent, key);
    json_t *item = json_object_get (object, key);
    if (!item) {
        if (required)
            return config_fail (parser, path, "missing (an integer from %lld to %lld)",
                                (long long)min, (long long)max);
        return 0;
    }
    if (!json_is_integer (item) || json_integer_value (item) < min ||
        json_integer_value (item) > max)
        return config_fail (parser, path, "must be an integer from %lld to %lld", (long long)min,
                            (long long)max);
    *value = json_integer_value (item);
    return 0;
}

int
config_get_u32 (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                bool required, uint32_t min, uint32_t max, uint32_t *value)
{
    json_int_t wide = *value;
    if (config_get_integer (parser, object, parent, key, required, min, max, &wide))
        return -1;
    *value = (uint32_t)wide;
    return 0;
}

int
config_get_port (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                 bool required, uint16_t *port)
{
    json_int_t wide = *port;
    //  An optional port may be 0, meaning "none".
    if (config_get_integer (parser, object, parent, key, required, required ? 1 : 0, 65535, &wide))
        return -1;
    *port = (uint16_t)wide;
    return 0;
}

//  Replaces *value with a copy of a non-empty string key when present.
int
config_get_string (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                   char **value)
{
    json_t *item = json_object_get (object, key);
    if (!item)
        return 0;
    char path[CONFIG_PATH_MAX];
    config_path (path, parent, key);
    if (!json_is_string (item) || json_string_length (item) == 0)
        return config_fail (parser, path, "must be a non-empty string");
    char *copy = strdup (json_string_value (item));
    if (!copy)
        return config_fail (parser, path, "out of memory");
    free (*value);
    *value = copy;
    return 0;
}

//  Refuses keys outside the known list, naming the first one found.
int
config_check_keys (config_parser_t *parser, json_t *object, const char *parent,
                   const char *const *known)
{
    const char *key;
    json_t *item;
    json_object_foreach (object, key, item)
    {
        size_t index;
        for (index = 0; known[index]; index++)
            if (config_streq (key, known[index]))
                break;
        if (!known[index]) {
            char path[CONFIG_PATH_MAX];
            char list[512] = "";
            for (index = 0; known[index]; index++) {
                size_t used = strlen (list);
                snprintf (list + used, sizeof list - used, "%s%s", index ? ", " : "", known[index]);
            }
            //  The key came from the file: cap it so the message stays one readable line.
            snprintf (path, sizeof path, "%s%s%.40s", parent, *parent ? "." : "", key);
            return config_fail (parser, path, "unknown key (known keys: %s)", list);
        }
    }
    return 0;
}
