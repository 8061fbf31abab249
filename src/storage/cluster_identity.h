/*  cluster_identity — binds a node directory to the cluster it belongs to.

    The identity is a cluster name and a 64-bit id, written "NAME/ID" (ID in
    16 hex digits); the broker derives both from the config: the name, and a
    digest of the name with this node's place in it (config.h).
    The node directory keeps it in one small file (node_dir names it),
    written atomically (temporary, fsync, rename, directory fsync) the
    first time a node starts with that directory, and compared on every
    later start: a node must never run another cluster's state (it would
    join that cluster with it, or start from a membership that is not its
    own). A directory with state but no identity file (made by an older
    build) takes the config's identity: there is nothing to compare with.
*/
#ifndef CLUSTER_IDENTITY_H_INCLUDED
#define CLUSTER_IDENTITY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Room for an identity's text: a name of up to 128 bytes, "/", the id.
#define CLUSTER_IDENTITY_TEXT_SIZE 160

//  What cluster_identity_bind found.
typedef enum {
    CLUSTER_IDENTITY_MATCHED = 0,  //  the directory holds this identity
    CLUSTER_IDENTITY_WRITTEN = 1,  //  it held none: it holds this one now
    CLUSTER_IDENTITY_MISMATCH = 2, //  it belongs to another cluster: do not start
} cluster_identity_result_t;

//  Writes "NAME/ID" into text (CLUSTER_IDENTITY_TEXT_SIZE bytes); a name's
//  control characters become '?' and a long name is cut, so the text is
//  always one printable line.
void cluster_identity_format (char *text, const char *name, uint64_t id);

//  Binds the node directory node_dir (created with its parents if
//  missing) to the identity name/id. Returns a cluster_identity_result_t;
//  on MISMATCH, error is one line naming the directory and both
//  identities. Returns -1 with error when the file cannot be read or
//  written.
int cluster_identity_bind (const char *node_dir, const char *name, uint64_t id, char *error,
                           size_t error_size);

#endif
