/*  gateway_chat — the chat API of the page over the cluster: accounts,
    sessions, the users list, conversations and messages. Each handler
    makes one or two synchronous libraftq calls on the connection's client,
    which follows the leader and retries across a leader change.
*/
#ifndef GATEWAY_CHAT_H_INCLUDED
#define GATEWAY_CHAT_H_INCLUDED

#include "gateway_call.h"

//  GET /api/session: who is logged in, and the CSRF token to echo.
enum MHD_Result gateway_chat_session (gateway_call_t *call);
//  GET /api/available?user=NAME: whether NAME can be registered.
enum MHD_Result gateway_chat_available (gateway_call_t *call);
//  POST /api/register {user, password}: creates the account, logs in.
enum MHD_Result gateway_chat_register (gateway_call_t *call);
//  POST /api/login {user, password}
enum MHD_Result gateway_chat_login (gateway_call_t *call);
//  POST /api/logout
enum MHD_Result gateway_chat_logout (gateway_call_t *call);
//  GET /api/users?q=TEXT&page=N&page_size=M: names containing TEXT.
enum MHD_Result gateway_chat_users (gateway_call_t *call);
//  GET /api/unread: the unread messages (the cluster marks them read).
enum MHD_Result gateway_chat_unread (gateway_call_t *call);
//  GET /api/conversations/NAME?page=N&page_size=M (page 0: the last page)
enum MHD_Result gateway_chat_conversation (gateway_call_t *call);
//  POST /api/messages {to, text}
enum MHD_Result gateway_chat_send (gateway_call_t *call);
//  DELETE /api/messages/ID
enum MHD_Result gateway_chat_delete_message (gateway_call_t *call);
//  DELETE /api/account
enum MHD_Result gateway_chat_delete_account (gateway_call_t *call);

#endif
