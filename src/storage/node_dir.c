/*  node_dir — owns the paths and file names of a node's directory: the
    node, log and snapshot directories, the index-named files in them, and
    listing those files. See node_dir.h for the layout.
*/
#include "storage/node_dir.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file_io.h"

#define NODE_DIR_INDEX_DIGITS 20

//  How each kind of index-named file is spelled around its index.
typedef struct {
    const char *prefix; //  before the digits
    const char *suffix; //  after them
} name_format_t;

static const name_format_t s_formats[] = {
    [NODE_DIR_SEGMENT] = {"", ".seg"},
    [NODE_DIR_SNAPSHOT] = {"snapshot-", ".snap"},
    [NODE_DIR_SNAPSHOT_WRITING] = {"snapshot-", ".snap.tmp"},
    [NODE_DIR_SNAPSHOT_RECEIVING] = {"snapshot-", ".snap.recv.tmp"},
};

//  0 when snprintf's length says the path fit in path_size bytes, else -1.
static int
s_fits (int length, size_t path_size)
{
    return length < 0 || (size_t)length >= path_size ? -1 : 0;
}

int
node_dir_path (char *path, size_t path_size, const char *data_dir, uint32_t node_id)
{
    return s_fits (snprintf (path, path_size, "%s/node-%u", data_dir, node_id), path_size);
}

int
node_dir_log_path (char *path, size_t path_size, const char *node_dir)
{
    return s_fits (snprintf (path, path_size, "%s/log", node_dir), path_size);
}

int
node_dir_identity_path (char *path, size_t path_size, const char *node_dir)
{
    return s_fits (snprintf (path, path_size, "%s/cluster", node_dir), path_size);
}

int
node_dir_snapshot_path (char *path, size_t path_size, const char *node_dir)
{
    return s_fits (snprintf (path, path_size, "%s/snap", node_dir), path_size);
}

void
node_dir_file_name (char *name, node_dir_file_t kind, uint64_t index)
{
    snprintf (name, NODE_DIR_NAME_SIZE, "%s%0*" PRIu64 "%s", s_formats[kind].prefix,
              NODE_DIR_INDEX_DIGITS, index, s_formats[kind].suffix);
}

int
node_dir_file_path (char *path, size_t path_size, const char *directory, node_dir_file_t kind,
                    uint64_t index)
{
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, kind, index);
    return s_fits (snprintf (path, path_size, "%s/%s", directory, name), path_size);
}

uint64_t
node_dir_parse_file_name (const char *name, node_dir_file_t kind)
{
    const name_format_t *format = &s_formats[kind];
    size_t prefix = strlen (format->prefix);
    if (strlen (name) != prefix + NODE_DIR_INDEX_DIGITS + strlen (format->suffix) ||
        strncmp (name, format->prefix, prefix) ||
        strcmp (name + prefix + NODE_DIR_INDEX_DIGITS, format->suffix))
        return 0;
    uint64_t index = 0;
    for (size_t at = prefix; at < prefix + NODE_DIR_INDEX_DIGITS; at++) {
        if (name[at] < '0' || name[at] > '9')
            return 0;
        uint64_t digit = (uint64_t)(name[at] - '0');
        if (index > (UINT64_MAX - digit) / 10)
            return 0;
        index = index * 10 + digit;
    }
    return index;
}

bool
node_dir_is_snapshot_temporary (const char *name)
{
    //  Any name of the snapshot prefix that ends like a temporary: a crash
    //  may leave one of an older naming too
    const char *prefix = s_formats[NODE_DIR_SNAPSHOT].prefix;
    size_t length = strlen (name);
    size_t suffix = strlen (".tmp");
    return strncmp (name, prefix, strlen (prefix)) == 0 && length > suffix &&
           strcmp (name + length - suffix, ".tmp") == 0;
}

static int
s_index_ascending (const void *first, const void *second)
{
    uint64_t a = *(const uint64_t *)first;
    uint64_t b = *(const uint64_t *)second;
    return a < b ? -1 : a > b;
}

//  Appends index to *indexes, growing it. Returns 0, or -1 (ENOMEM).
static int
s_add_index (uint64_t **indexes, size_t *count, size_t *capacity, uint64_t index)
{
    if (*count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 8;
        uint64_t *grown = (uint64_t *)realloc (*indexes, grown_capacity * sizeof (uint64_t));
        if (!grown) {
            errno = ENOMEM;
            return -1;
        }
        *indexes = grown;
        *capacity = grown_capacity;
    }
    (*indexes)[(*count)++] = index;
    return 0;
}

//  Opens a stream over the open directory, from its start.
static DIR *
s_open_stream (int directory_fd)
{
    int fd = dup (directory_fd);
    DIR *directory = fd < 0 ? NULL : fdopendir (fd);
    if (!directory && fd >= 0)
        file_io_close_keeping_errno (fd);
    if (directory)
        rewinddir (directory);
    return directory;
}

int
node_dir_list (int directory_fd, node_dir_file_t kind, uint64_t **indexes, size_t *count)
{
    *indexes = NULL;
    *count = 0;
    DIR *directory = s_open_stream (directory_fd);
    if (!directory)
        return -1;
    size_t capacity = 0;
    int rc = 0;
    while (rc == 0) {
        errno = 0;
        struct dirent *item = readdir (directory);
        if (!item) {
            rc = errno ? -1 : 0;
            break;
        }
        uint64_t index = node_dir_parse_file_name (item->d_name, kind);
        if (index)
            rc = s_add_index (indexes, count, &capacity, index);
    }
    int saved = errno;
    closedir (directory);
    errno = saved;
    if (rc) {
        free (*indexes);
        *indexes = NULL;
        *count = 0;
        return -1;
    }
    if (*count > 1)
        qsort (*indexes, *count, sizeof (uint64_t), s_index_ascending);
    return 0;
}

void
node_dir_remove_snapshot_temporaries (int directory_fd)
{
    DIR *directory = s_open_stream (directory_fd);
    if (!directory)
        return;
    struct dirent *item;
    while ((item = readdir (directory)))
        if (node_dir_is_snapshot_temporary (item->d_name))
            unlinkat (directory_fd, item->d_name, 0);
    closedir (directory);
}
