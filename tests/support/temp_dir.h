/*  temp_dir — fresh scratch directories for tests, and their removal.  */
#ifndef TEMP_DIR_H_INCLUDED
#define TEMP_DIR_H_INCLUDED

#include <stddef.h>

//  Creates a new empty directory /tmp/raftq-<name>-XXXXXX and writes its path
//  into path (size bytes). Returns 0 or -1.
int temp_dir_make (char *path, size_t size, const char *name);

//  Removes path and everything below it. Returns 0 or -1.
int temp_dir_remove (const char *path);

#endif
