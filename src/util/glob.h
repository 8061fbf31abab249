/*  glob — shell-style name patterns: '*' any run, '?' any byte, "[...]" a
    set (ranges; a leading '!' or '^' negates; a ']' right after the opening
    is a member), '\' escapes the next byte. A '[' without its closing ']'
    stands for itself. Bytes, not characters: no locale, no case folding.

    Matching is linear in the name for a given pattern (the two-pointer walk
    that only ever returns to the last '*'): a pattern built to make a
    backtracking matcher explode would stall every node applying it.
*/
#ifndef GLOB_H_INCLUDED
#define GLOB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  True when the whole of name matches pattern.
bool glob_match (const char *pattern, const char *name);

//  Length of the literal start of pattern (before its first special
//  character): every name that matches begins with those bytes, which
//  narrows the scan of a sorted list.
size_t glob_literal_prefix (const char *pattern);

#endif
