/*  node_dir — the on-disk layout of one node, and the only place that knows
    its paths and file names:

        <data_dir>/node-<id>/            the node directory
            meta                         term and vote (meta_store)
            cluster                      the cluster it belongs to (cluster_identity)
            log/<index, 20 digits>.seg   log segments, named by their first index
            snap/snapshot-<index, 20 digits>.snap
                                         snapshot files, named by their index
            snap/snapshot-<index>.snap.tmp       a snapshot job's temporary
            snap/snapshot-<index>.snap.recv.tmp  a received snapshot's temporary

    Index-named files (segments, snapshots) share one name format and one
    parser: 20 decimal digits, so names sort as their indexes do, and index
    0 never names a file (the log starts at 1).
*/
#ifndef NODE_DIR_H_INCLUDED
#define NODE_DIR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Room for any file name below (with its NUL).
#define NODE_DIR_NAME_SIZE 48

//  The kinds of index-named files.
typedef enum {
    NODE_DIR_SEGMENT = 0,           //  log/<index>.seg
    NODE_DIR_SNAPSHOT = 1,          //  snap/snapshot-<index>.snap
    NODE_DIR_SNAPSHOT_WRITING = 2,  //  snap/snapshot-<index>.snap.tmp
    NODE_DIR_SNAPSHOT_RECEIVING = 3 //  snap/snapshot-<index>.snap.recv.tmp
} node_dir_file_t;

//  Writes <data_dir>/node-<id> into path. Returns 0, or -1 when it does not
//  fit.
int node_dir_path (char *path, size_t path_size, const char *data_dir, uint32_t node_id);

//  Writes the cluster identity file, <node_dir>/cluster, into path.
//  Returns 0 or -1.
int node_dir_identity_path (char *path, size_t path_size, const char *node_dir);

//  Writes the log directory, <node_dir>/log, into path. Returns 0 or -1.
int node_dir_log_path (char *path, size_t path_size, const char *node_dir);

//  Writes the snapshot directory, <node_dir>/snap, into path. Returns 0 or -1.
int node_dir_snapshot_path (char *path, size_t path_size, const char *node_dir);

//  Writes the name of the file of kind for index into name
//  (NODE_DIR_NAME_SIZE bytes).
void node_dir_file_name (char *name, node_dir_file_t kind, uint64_t index);

//  Writes <directory>/<name of the file of kind for index> into path.
//  Returns 0, or -1 when it does not fit.
int node_dir_file_path (char *path, size_t path_size, const char *directory, node_dir_file_t kind,
                        uint64_t index);

//  The index name stands for as a file of kind, or 0 when it is not one.
uint64_t node_dir_parse_file_name (const char *name, node_dir_file_t kind);

//  True for a snapshot temporary (either kind): what a crash may leave.
bool node_dir_is_snapshot_temporary (const char *name);

//  Indexes of the files of kind in the open directory, in ascending order.
//  Caller frees *indexes. Returns 0, or -1 with errno.
int node_dir_list (int directory_fd, node_dir_file_t kind, uint64_t **indexes, size_t *count);

//  Removes every snapshot temporary from the open directory (best effort).
void node_dir_remove_snapshot_temporaries (int directory_fd);

#ifdef __cplusplus
}
#endif

#endif
