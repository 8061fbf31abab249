/*  gateway_call — one API request as its handler sees it (the connection,
    its cluster client, the parsed body, the session from the cookie), and
    the replies every handler sends: JSON, a JSON error the page shows, or
    JSON that sets or clears the session cookie. Every reply carries the
    security headers (CSP, nosniff, no referrer, no framing, no caching
    of API answers).
*/
#ifndef GATEWAY_CALL_H_INCLUDED
#define GATEWAY_CALL_H_INCLUDED

#include <stdbool.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gateway_options.h"
#include "gateway_seal.h"
#include "raftq.h"

//  What the connection threads share, each behind its own lock: the
//  cluster page's latest answer (gateway_cluster.h) and the count of event
//  streams per user (gateway_events.h).
typedef struct _gateway_cluster_t gateway_cluster_t;
typedef struct _gateway_streams_t gateway_streams_t;

//  One request in the hands of its handler. Lives for the handler's call.
typedef struct {
    const gateway_options_t *options;  //  the gateway's settings
    gateway_seal_t *seal;              //  seals and opens session cookies
    gateway_cluster_t *cluster;        //  the cluster page's shared answer
    gateway_streams_t *streams;        //  event streams open per user
    struct MHD_Connection *connection; //  the HTTP connection
    raftq_client_t *client;            //  this connection's cluster client
    const char *argument;              //  the path after the route's prefix ("" if none)
    json_t *body;                      //  a POST's JSON object, NULL otherwise
    gateway_session_t session;         //  the cookie's session, if has_session
    bool has_session;                  //  a valid session cookie came
} gateway_call_t;

//  A handler: queues one reply and returns what MHD_queue_response said.
typedef enum MHD_Result (*gateway_handler_fn) (gateway_call_t *call);

//  Sends object (taken; NULL means out of memory: a 500) with status.
enum MHD_Result gateway_reply (gateway_call_t *call, unsigned status, json_t *object);

//  text as a JSON string, NULL when out of memory. What came in a request
//  (its path, its query) may be any bytes: when text is not UTF-8, each
//  byte above ASCII becomes '?'.
json_t *gateway_json_text (const char *text);

//  Sends {"error": text, "code": code} with status (text through
//  gateway_json_text).
enum MHD_Result gateway_reply_error (gateway_call_t *call, unsigned status, const char *code,
                                     const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Sends the cluster's refusal of code (the client's error text) with the
//  HTTP status that fits it. A refused session also clears the cookie:
//  the page then asks the user to log in again.
enum MHD_Result gateway_reply_failure (gateway_call_t *call, raftq_code_t code);

//  Sends object (taken) with status 200 and a cookie holding session, or
//  clearing the cookie when session is NULL.
enum MHD_Result gateway_reply_session (gateway_call_t *call, json_t *object,
                                       const gateway_session_t *session);

//  The security headers of every answer; api adds no-store caching.
void gateway_add_headers (struct MHD_Response *response, bool api);

//  The query parameter key, NULL when absent.
const char *gateway_query (gateway_call_t *call, const char *key);

//  The body's string at key, NULL when absent or not a string.
const char *gateway_body_string (gateway_call_t *call, const char *key);

//  Whether text is a whole unsigned decimal number (no sign, nothing
//  after it), stored in *value.
bool gateway_parse_u64 (const char *text, uint64_t *value);

//  A page number from the query (key absent: fallback); -1 when it is not
//  an integer from 0 to max.
long gateway_query_number (gateway_call_t *call, const char *key, long fallback, long max);

#endif
