/*  gateway_assets — the web pages, built into the binary: the make rule
    runs embed_assets.py over clients/gateway/web/ and compiles the table
    it writes, so the gateway serves no file from disk.
*/
#ifndef GATEWAY_ASSETS_H_INCLUDED
#define GATEWAY_ASSETS_H_INCLUDED

#include <stddef.h>

//  One file of web/.
typedef struct {
    const char *path;          //  its URL path: /static/<file name>
    const char *content_type;  //  its Content-Type
    const unsigned char *data; //  its bytes
    size_t size;               //  how many
} gateway_asset_t;

//  Every file, then an entry with a NULL path.
extern const gateway_asset_t gateway_assets[];

#endif
