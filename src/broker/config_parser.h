/*  config_parser — the pieces every config reader shares: a parse in
    progress and its one-line errors ("FILE: place: problem"), and typed
    reads of JSON keys that fail with such a line. config.c reads the node
    list and settings with them, config_keys.c the CurveZMQ settings.
*/
#ifndef CONFIG_PARSER_H_INCLUDED
#define CONFIG_PARSER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

//  Room for a full JSON path of a setting ("nodes[12].client_port").
#define CONFIG_PATH_MAX 96

//  One parse in progress: where errors go and what they are prefixed with.
typedef struct {
    const char *name;  //  file name that starts every message
    char *error;       //  caller's buffer, may be NULL
    size_t error_size; //  its size
} config_parser_t;

bool config_streq (const char *one, const char *other);

//  Blanks control characters out of a message, which quotes the file.
void config_parser_one_line (char *message);

//  Writes "NAME: PLACE: problem" (PLACE omitted when NULL) into the
//  parser's buffer. Always returns -1 so that callers can return it.
int config_fail (config_parser_t *parser, const char *place, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Joins a parent path and a key into path (CONFIG_PATH_MAX bytes):
//  "nodes[2]" + "host" -> "nodes[2].host".
void config_path (char *path, const char *parent, const char *key);

//  Reads an integer in [min, max]. An absent key leaves *value untouched
//  unless the key is required.
int config_get_integer (config_parser_t *parser, json_t *object, const char *parent,
                        const char *key, bool required, json_int_t min, json_int_t max,
                        json_int_t *value);
int config_get_u32 (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                    bool required, uint32_t min, uint32_t max, uint32_t *value);
//  An optional port may be 0, meaning "none".
int config_get_port (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                     bool required, uint16_t *port);

//  Replaces *value with a copy of a non-empty string at parent.key when
//  present (parent names the place in messages, "" for the top level).
int config_get_string (config_parser_t *parser, json_t *object, const char *parent, const char *key,
                       char **value);

//  Refuses keys outside the known list, naming the first one found.
int config_check_keys (config_parser_t *parser, json_t *object, const char *parent,
                       const char *const *known);

#endif
