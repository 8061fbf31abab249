/*  glob — shell-style name patterns, matched in linear time; see glob.h.  */

#include <string.h>

#include "util/glob.h"

//  Matches the set that starts after the '[' at cursor against character.
//  Returns false with *closed false when the set has no closing ']'.
static bool
s_set_matches (const char *cursor, unsigned char character, const char **next, bool *closed)
{
    bool negate = *cursor == '!' || *cursor == '^';
    if (negate)
        cursor++;
    bool matched = false;
    //  A ']' right after the opening is a member, not the end
    const char *start = cursor;
    while (*cursor && (*cursor != ']' || cursor == start)) {
        unsigned char low = (unsigned char)*cursor, high = (unsigned char)*cursor;
        if (cursor[1] == '-' && cursor[2] && cursor[2] != ']') {
            high = (unsigned char)cursor[2];
            cursor += 3;
        } else
            cursor++;
        if (character >= low && character <= high)
            matched = true;
    }
    *closed = *cursor == ']';
    *next = cursor + 1;
    return *closed && matched != negate;
}

//  Matches one pattern element at pattern against character; *next is
//  where the following element starts. False at the end of the pattern.
static bool
s_element_matches (const char *pattern, char character, const char **next)
{
    if (*pattern == 0)
        return false;
    if (*pattern == '?') {
        *next = pattern + 1;
        return true;
    }
    if (*pattern == '\\' && pattern[1]) {
        *next = pattern + 2;
        return pattern[1] == character;
    }
    if (*pattern == '[') {
        bool closed;
        bool matched = s_set_matches (pattern + 1, (unsigned char)character, next, &closed);
        if (closed)
            return matched;
        //  No closing bracket: the '[' stands for itself
    }
    *next = pattern + 1;
    return *pattern == character;
}

bool
glob_match (const char *pattern, const char *name)
{
    const char *star = NULL;      //  element after the last '*' seen
    const char *star_name = NULL; //  where that '*' stopped matching in name
    while (*name) {
        const char *next;
        if (*pattern == '*') {
            while (*pattern == '*')
                pattern++;
            star = pattern;
            star_name = name;
        } else if (s_element_matches (pattern, *name, &next)) {
            pattern = next;
            name++;
        } else if (star) {
            //  Let the last '*' swallow one more character and retry
            pattern = star;
            name = ++star_name;
        } else
            return false;
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == 0;
}

size_t
glob_literal_prefix (const char *pattern)
{
    size_t length = 0;
    while (pattern[length] && !strchr ("*?[\\", pattern[length]))
        length++;
    return length;
}
