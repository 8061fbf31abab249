/*  test_subscription — raftq_subscription_t against an in-process fake
    cluster: two fake nodes in one actor, each an XPUB (its pub port: XPUB,
    so the fake knows when a subscriber has joined) and a ROUTER (its client
    port: Status and Replay). The fake holds one stream's history; the test
    tells it which seqs to publish on which node (in any order, twice, or
    not at all), which events it no longer retains, which node is dead or
    knows no leader, and checks what the subscription delivers: every
    event once, in order, holes filled by replay, lost events reported.
    By default the stream is the private user/bob, served as the broker
    serves it (notes/private-streams.md): only to the subscription
    "user/bob#tok-bob", each event under that first frame, the subscription
    confirmed by a seq-0 "subscribed", replays only with the token.
*/
#include "fake_router.h"

#define FAKE_NODES  2
#define STREAM      "user/bob"
#define TOKEN       "tok-bob"
#define TOPIC       STREAM "#" TOKEN //  the subscription the fake serves user/bob to
#define DEADLINE_MS 5000             //  longest wait for anything that should happen
#define QUIET_MS    30000            //  silence for tests that must see no probe

typedef struct {
    zsock_t *publisher; //  XPUB: its pub port
    zsock_t *router;    //  its client port
    bool alive;         //  answers requests (a dead node is silent)
    uint32_t leader_id; //  leader its status names, 0 for none
    bool subscribed;    //  a subscriber to the cluster's topic has joined its XPUB
    int subscribes;     //  subscribe messages for that topic it has read
} fake_node_t;

//  The whole fake cluster, owned by its actor.
typedef struct {
    fake_node_t nodes[FAKE_NODES];
    uint64_t last_seq;       //  events 1..last_seq exist
    uint64_t oldest_seq;     //  replays from below this get NOT_FOUND
    uint64_t hole_seq;       //  replays leave this one out (0: none)
    int refuse_code;         //  replays get this code (0: served)
    char required_token[32]; //  replays without it get UNAUTHENTICATED ("": none needed)
    char stream[32];         //  the stream it holds
    char topic[64];          //  the subscription it serves it to, and first frame of its events
    bool confirm;            //  answers a subscription with "subscribed" (private streams)
    zlist_t *replays;        //  "node from limit" of each replay served or refused
} fake_cluster_t;

//  Fills event with the stream's event seq; its text goes into text.
static void
s_fake_event (Raftq__Event *event, const char *stream, uint64_t seq, char *text, size_t text_size)
{
    raftq__event__init (event);
    snprintf (text, text_size, "m%" PRIu64, seq);
    event->stream = (char *)stream;
    event->seq = seq;
    event->index = 1000 + seq;
    event->kind = "message";
    event->id = 100 + seq;
    event->from = "alice";
    event->to = "bob";
    event->text = text;
    event->ts = 1700000000000 + (int64_t)seq;
}

//  Publishes [key][packed event][JSON stand-in] on node's XPUB.
static void
s_fake_publish (fake_node_t *node, const char *key, const Raftq__Event *event)
{
    zframe_t *packed = zframe_new (NULL, raftq__event__get_packed_size (event));
    raftq__event__pack (event, zframe_data (packed));
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, key);
    zmsg_append (message, &packed);
    zmsg_addstr (message, "{}");
    zmsg_send (&message, node->publisher);
}

//  What a confused network could carry: a longer stream with our prefix,
//  an undecodable body, a message of one frame.
static void
s_fake_junk (fake_node_t *node, uint64_t seq)
{
    char text[32];
    Raftq__Event event;
    s_fake_event (&event, STREAM "by", seq, text, sizeof (text));
    s_fake_publish (node, STREAM "by", &event);
    zmsg_t *garbage = zmsg_new ();
    zmsg_addstr (garbage, STREAM);
    zmsg_addmem (garbage, "\xff\xff\xff", 3);
    zmsg_send (&garbage, node->publisher);
    zstr_send (node->publisher, STREAM);
}

static void
s_fake_replay (fake_cluster_t *cluster, int index, zframe_t **identity_p,
               const Raftq__Request *request)
{
    const Raftq__Replay *replay = request->replay;
    uint64_t from = replay->from_seq ? replay->from_seq : 1;
    uint32_t limit = replay->limit ? replay->limit : 100;
    zlist_append (cluster->replays, zsys_sprintf ("%d %" PRIu64 " %u", index, from, limit));

    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.seq = request->seq;
    reply.next_seq = cluster->last_seq + 1;
    Raftq__EventList list = RAFTQ__EVENT_LIST__INIT;
    Raftq__Event *events = (Raftq__Event *)calloc (limit, sizeof (Raftq__Event));
    Raftq__Event **pointers = (Raftq__Event **)calloc (limit, sizeof (Raftq__Event *));
    char (*texts)[32] = calloc (limit, 32);
    assert (events && pointers && texts);
    if (cluster->refuse_code)
        reply.code = (Raftq__Code)cluster->refuse_code;
    else if (*cluster->required_token && !streq (request->token, cluster->required_token))
        reply.code = RAFTQ__CODE__UNAUTHENTICATED;
    else if (from < cluster->oldest_seq) {
        reply.code = RAFTQ__CODE__NOT_FOUND;
        reply.oldest_seq = cluster->oldest_seq;
    } else {
        for (uint64_t seq = from; seq <= cluster->last_seq && list.n_events < limit; seq++) {
            if (seq == cluster->hole_seq)
                continue;
            s_fake_event (&events[list.n_events], cluster->stream, seq, texts[list.n_events], 32);
            pointers[list.n_events] = &events[list.n_events];
            list.n_events++;
        }
        list.events = pointers;
        reply.result_case = RAFTQ__REPLY__RESULT_EVENTS;
        reply.events = &list;
    }
    fake_router_send (cluster->nodes[index].router, identity_p, &reply);
    free (events);
    free (pointers);
    free (texts);
}

static void
s_fake_status (fake_cluster_t *cluster, int index, zframe_t **identity_p,
               const Raftq__Request *request)
{
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.id = (uint32_t)index + 1;
    status.leader_id = cluster->nodes[index].leader_id;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.seq = request->seq;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;
    fake_router_send (cluster->nodes[index].router, identity_p, &reply);
}

//  One request on node's client port: answered if the node is alive.
static void
s_fake_serve (fake_cluster_t *cluster, int index)
{
    fake_node_t *node = &cluster->nodes[index];
    zmsg_t *message = zmsg_recv (node->router);
    zframe_t *identity = message ? zmsg_pop (message) : NULL;
    zframe_t *body = message ? zmsg_last (message) : NULL;
    Raftq__Request *request =
        body ? raftq__request__unpack (NULL, zframe_size (body), zframe_data (body)) : NULL;
    if (request && node->alive) {
        if (request->op_case == RAFTQ__REQUEST__OP_REPLAY)
            s_fake_replay (cluster, index, &identity, request);
        else if (request->op_case == RAFTQ__REQUEST__OP_STATUS)
            s_fake_status (cluster, index, &identity, request);
    }
    raftq__request__free_unpacked (request, NULL);
    zframe_destroy (&identity);
    zmsg_destroy (&message);
}

//  Publishes a seq-0 control event (subscribed, revoked) on node.
static void
s_fake_control (fake_cluster_t *cluster, fake_node_t *node, const char *kind)
{
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = cluster->stream;
    event.kind = (char *)kind;
    s_fake_publish (node, cluster->topic, &event);
}

//  A subscription message on node's XPUB: 1 and the topic to join.
static void
s_fake_subscription (fake_cluster_t *cluster, fake_node_t *node)
{
    zframe_t *frame = zframe_recv (node->publisher);
    size_t length = strlen (cluster->topic);
    if (frame && zframe_size (frame) == 1 + length && zframe_data (frame)[0] == 1 &&
        memcmp (zframe_data (frame) + 1, cluster->topic, length) == 0) {
        node->subscribed = true;
        node->subscribes++;
        if (cluster->confirm)
            s_fake_control (cluster, node, "subscribed");
    }
    zframe_destroy (&frame);
}

//  Commands: [name][node][number] (TOKEN and STREAM: [name][text][0]).
//  Every command but REPLAYS, SUBSCRIBED and SUBSCRIBES is answered "OK".
static int
s_fake_command (zsock_t *pipe, fake_cluster_t *cluster)
{
    char *name = NULL, *node_text = NULL, *number_text = NULL;
    zstr_recvx (pipe, &name, &node_text, &number_text, NULL);
    if (!name || streq (name, "$TERM")) {
        zstr_free (&name);
        return -1;
    }
    fake_node_t *node = &cluster->nodes[node_text ? abs (atoi (node_text)) % FAKE_NODES : 0];
    uint64_t number = number_text ? strtoull (number_text, NULL, 10) : 0;
    if (streq (name, "PUBLISH")) {
        //  Publishing seq commits everything up to it.
        char text[32];
        Raftq__Event event;
        s_fake_event (&event, cluster->stream, number, text, sizeof (text));
        if (number > cluster->last_seq)
            cluster->last_seq = number;
        s_fake_publish (node, cluster->topic, &event);
    } else if (streq (name, "COMMIT"))
        cluster->last_seq = number;
    else if (streq (name, "JUNK"))
        s_fake_junk (node, number);
    else if (streq (name, "ALIVE"))
        node->alive = number != 0;
    else if (streq (name, "LEADER"))
        node->leader_id = (uint32_t)number;
    else if (streq (name, "OLDEST"))
        cluster->oldest_seq = number;
    else if (streq (name, "HOLE"))
        cluster->hole_seq = number;
    else if (streq (name, "REFUSE"))
        cluster->refuse_code = (int)number;
    else if (streq (name, "TOKEN"))
        snprintf (cluster->required_token, sizeof (cluster->required_token), "%s", node_text);
    else if (streq (name, "STREAM")) {
        //  A public stream: served to its own name, no token, no confirmation.
        snprintf (cluster->stream, sizeof (cluster->stream), "%s", node_text);
        snprintf (cluster->topic, sizeof (cluster->topic), "%s", node_text);
        *cluster->required_token = 0;
        cluster->confirm = false;
    } else if (streq (name, "CONFIRM"))
        cluster->confirm = number != 0;
    else if (streq (name, "CONTROL"))
        s_fake_control (cluster, node, number == 1 ? "subscribed" : "revoked");
    if (streq (name, "SUBSCRIBED"))
        zstr_send (pipe, node->subscribed ? "1" : "0");
    else if (streq (name, "SUBSCRIBES"))
        zstr_sendf (pipe, "%d", node->subscribes);
    else if (streq (name, "REPLAYS")) {
        zmsg_t *reply = zmsg_new ();
        zmsg_addstr (reply, "REPLAYS");
        char *entry;
        while ((entry = (char *)zlist_pop (cluster->replays))) {
            zmsg_addstr (reply, entry);
            free (entry);
        }
        zmsg_send (&reply, pipe);
    } else
        zstr_send (pipe, "OK");
    zstr_free (&name);
    zstr_free (&node_text);
    zstr_free (&number_text);
    return 0;
}

static int
s_on_command (zsock_t *pipe, void *cluster)
{
    return s_fake_command (pipe, (fake_cluster_t *)cluster);
}

static void
s_on_readable (void *cluster, void *socket)
{
    fake_cluster_t *self = (fake_cluster_t *)cluster;
    for (int index = 0; index < FAKE_NODES; index++) {
        if (socket == self->nodes[index].router)
            s_fake_serve (self, index);
        if (socket == self->nodes[index].publisher)
            s_fake_subscription (self, &self->nodes[index]);
    }
}

//  args: the endpoint prefix. Node i binds inproc://<prefix>-pub-<i> and
//  inproc://<prefix>-client-<i>; nodes start alive, with leader 1,
//  serving STREAM as a private stream to TOPIC.
static void
s_fake_cluster (zsock_t *pipe, void *args)
{
    const char *prefix = (const char *)args;
    fake_cluster_t cluster;
    memset (&cluster, 0, sizeof (cluster));
    cluster.replays = zlist_new ();
    snprintf (cluster.stream, sizeof (cluster.stream), "%s", STREAM);
    snprintf (cluster.topic, sizeof (cluster.topic), "%s", TOPIC);
    snprintf (cluster.required_token, sizeof (cluster.required_token), "%s", TOKEN);
    cluster.confirm = true;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    for (int index = 0; index < FAKE_NODES; index++) {
        fake_node_t *node = &cluster.nodes[index];
        node->alive = true;
        node->leader_id = 1;
        node->publisher = zsock_new (ZMQ_XPUB);
        node->router = zsock_new (ZMQ_ROUTER);
        assert (node->publisher && node->router);
        zsock_set_linger (node->publisher, 0);
        zsock_set_linger (node->router, 0);
        zsock_set_xpub_verbose (node->publisher, 1);
        int rc = zsock_bind (node->publisher, "inproc://%s-pub-%d", prefix, index);
        assert (rc == 0);
        rc = zsock_bind (node->router, "inproc://%s-client-%d", prefix, index);
        assert (rc == 0);
        zpoller_add (poller, node->publisher);
        zpoller_add (poller, node->router);
    }
    zsock_signal (pipe, 0);

    fake_actor_loop (pipe, poller, &cluster, s_on_command, s_on_readable);
    fake_strings_destroy (&cluster.replays);
    zpoller_destroy (&poller);
    for (int index = 0; index < FAKE_NODES; index++) {
        zsock_destroy (&cluster.nodes[index].publisher);
        zsock_destroy (&cluster.nodes[index].router);
    }
}

//  --- test helpers

typedef struct {
    zactor_t *actor;                     //  the fake cluster
    char clients[FAKE_NODES][64];        //  client endpoints
    char pubs[FAKE_NODES][64];           //  pub endpoints
    const char *client_list[FAKE_NODES]; //  as raftq_subscription_new takes them
    const char *pub_list[FAKE_NODES];
} fake_t;

static void
s_fake_start (fake_t *fake, const char *prefix)
{
    for (int index = 0; index < FAKE_NODES; index++) {
        snprintf (fake->clients[index], sizeof (fake->clients[index]), "inproc://%s-client-%d",
                  prefix, index);
        snprintf (fake->pubs[index], sizeof (fake->pubs[index]), "inproc://%s-pub-%d", prefix,
                  index);
        fake->client_list[index] = fake->clients[index];
        fake->pub_list[index] = fake->pubs[index];
    }
    fake->actor = zactor_new (s_fake_cluster, (void *)prefix);
    assert_non_null (fake->actor);
    zsock_set_rcvtimeo (zactor_sock (fake->actor), DEADLINE_MS);
}

//  Sends a command and returns the fake's one-string answer (caller frees).
static char *
s_fake_ask (fake_t *fake, const char *name, int node, uint64_t number)
{
    char node_text[16], number_text[32];
    snprintf (node_text, sizeof (node_text), "%d", node);
    snprintf (number_text, sizeof (number_text), "%" PRIu64, number);
    zstr_sendx (fake->actor, name, node_text, number_text, NULL);
    char *answer = zstr_recv (fake->actor);
    assert_non_null (answer);
    return answer;
}

static void
s_fake_do (fake_t *fake, const char *name, int node, uint64_t number)
{
    char *answer = s_fake_ask (fake, name, node, number);
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
}

//  A command whose argument is text (TOKEN, STREAM).
static void
s_fake_set (fake_t *fake, const char *name, const char *text)
{
    zstr_sendx (fake->actor, name, text, "0", NULL);
    char *answer = zstr_recv (fake->actor);
    assert_non_null (answer);
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
}

//  Subscribe messages for the served topic node has read.
static int
s_fake_subscribes (fake_t *fake, int node)
{
    char *answer = s_fake_ask (fake, "SUBSCRIBES", node, 0);
    int count = atoi (answer);
    zstr_free (&answer);
    return count;
}

//  Replays the fake served since the last call: their from seqs, in order
//  (up to max); returns how many.
static size_t
s_fake_replays (fake_t *fake, uint64_t *froms, size_t max)
{
    zstr_sendx (fake->actor, "REPLAYS", "0", "0", NULL);
    zmsg_t *reply = fake_listing_receive (fake->actor, "REPLAYS");
    size_t count = 0;
    char *entry;
    while ((entry = zmsg_popstr (reply))) {
        int node;
        uint64_t from;
        assert_int_equal (sscanf (entry, "%d %" SCNu64, &node, &from), 2);
        if (count < max)
            froms[count] = from;
        count++;
        zstr_free (&entry);
    }
    zmsg_destroy (&reply);
    return count;
}

//  Waits until node's XPUB has a subscriber: a PUB drops what it sends
//  before that, and most tests need to know what the SUB can see.
static void
s_wait_subscribed (fake_t *fake, int node)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        char *answer = s_fake_ask (fake, "SUBSCRIBED", node, 0);
        bool subscribed = streq (answer, "1");
        zstr_free (&answer);
        if (subscribed)
            return;
        assert_true (zclock_mono () < deadline);
        zclock_sleep (5);
    }
}

//  Reads from the subscription until it has nothing at hand: lets the
//  start-up catch-up finish before a test stages what comes next.
static void
s_settle (raftq_subscription_t *subscription)
{
    raftq_event_t event;
    raftq_gap_t gap;
    assert_int_equal (raftq_subscription_next (subscription, 50, &event, &gap),
                      RAFTQ_SUBSCRIPTION_NONE);
}

//  Waits for the next event and checks it is stream's seq, as the fake
//  made it.
static void
s_expect_event_of (raftq_subscription_t *subscription, const char *stream, uint64_t seq)
{
    raftq_event_t event;
    raftq_gap_t gap;
    raftq_subscription_result_t result =
        raftq_subscription_next (subscription, DEADLINE_MS, &event, &gap);
    if (result != RAFTQ_SUBSCRIPTION_EVENT || event.seq != seq)
        print_error ("expected event %" PRIu64 ", got result %d seq %" PRIu64 " (%s)\n", seq,
                     (int)result, result == RAFTQ_SUBSCRIPTION_EVENT ? event.seq : 0,
                     raftq_subscription_error (subscription));
    assert_int_equal (result, RAFTQ_SUBSCRIPTION_EVENT);
    assert_true (event.seq == seq);
    char text[32];
    snprintf (text, sizeof (text), "m%" PRIu64, seq);
    assert_string_equal (event.stream, stream);
    assert_string_equal (event.kind, "message");
    assert_string_equal (event.text, text);
    assert_string_equal (event.from, "alice");
    assert_string_equal (event.to, "bob");
    assert_true (event.id == 100 + seq && event.index == 1000 + seq);
    assert_true (event.ts == 1700000000000 + (int64_t)seq);
}

static void
s_expect_event (raftq_subscription_t *subscription, uint64_t seq)
{
    s_expect_event_of (subscription, STREAM, seq);
}

static void
s_expect_gap (raftq_subscription_t *subscription, uint64_t first, uint64_t last)
{
    raftq_event_t event;
    raftq_gap_t gap;
    raftq_subscription_result_t result =
        raftq_subscription_next (subscription, DEADLINE_MS, &event, &gap);
    assert_int_equal (result, RAFTQ_SUBSCRIPTION_GAP);
    assert_true (gap.first == first);
    assert_true (gap.last == last);
    assert_non_null (strstr (raftq_subscription_error (subscription), "no longer retained"));
}

//  A subscription to STREAM with bob's token, as the fake serves it.
static raftq_subscription_t *
s_subscription (fake_t *fake, uint64_t from_seq, int silence_ms)
{
    raftq_subscription_t *subscription =
        raftq_subscription_new (fake->client_list, fake->pub_list, FAKE_NODES, STREAM, from_seq);
    assert_non_null (subscription);
    raftq_subscription_set_silence (subscription, silence_ms);
    assert_int_equal (raftq_subscription_set_token (subscription, TOKEN), 0);
    return subscription;
}

//  A fake cluster started under prefix and a subscription on it that has
//  joined node 0 and finished its start-up.
static raftq_subscription_t *
s_started (fake_t *fake, const char *prefix, uint64_t from_seq, int silence_ms)
{
    s_fake_start (fake, prefix);
    raftq_subscription_t *subscription = s_subscription (fake, from_seq, silence_ms);
    s_wait_subscribed (fake, 0);
    s_settle (subscription);
    return subscription;
}

static raftq_subscription_result_t
s_next (raftq_subscription_t *subscription, int timeout_ms)
{
    raftq_event_t event;
    raftq_gap_t gap;
    return raftq_subscription_next (subscription, timeout_ms, &event, &gap);
}

//  --- tests

static void
test_in_order_once_with_holes_filled (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "order");
    raftq_subscription_t *subscription = s_subscription (&fake, 1, QUIET_MS);
    assert_string_equal (raftq_subscription_endpoint (subscription), fake.pubs[0]);
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);
    uint64_t froms[16];
    //  The start from seq 1 asked for the history, which was empty.
    assert_int_equal (s_fake_replays (&fake, froms, 16), 1);
    assert_true (froms[0] == 1);

    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    s_fake_do (&fake, "JUNK", 0, 3);
    s_fake_do (&fake, "PUBLISH", 0, 5);
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_expect_event (subscription, seq);
    //  3 and 4 never came on PUB: one replay from 3 brought them.
    assert_int_equal (s_fake_replays (&fake, froms, 16), 1);
    assert_true (froms[0] == 3);
    assert_true (raftq_subscription_next_seq (subscription) == 6);

    //  Old news again, then the next one: only the next one is delivered.
    s_fake_do (&fake, "PUBLISH", 0, 4);
    s_fake_do (&fake, "PUBLISH", 0, 6);
    s_expect_event (subscription, 6);
    s_settle (subscription);
    assert_int_equal (s_fake_replays (&fake, froms, 16), 0);

    raftq_subscription_destroy (&subscription);
    assert_null (subscription);
    zactor_destroy (&fake.actor);
}

static void
test_catches_up_in_pages (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "pages");
    s_fake_do (&fake, "COMMIT", 0, 10);
    raftq_subscription_t *subscription = s_subscription (&fake, 3, QUIET_MS);
    raftq_subscription_set_replay_limit (subscription, 3);
    for (uint64_t seq = 3; seq <= 10; seq++)
        s_expect_event (subscription, seq);
    s_settle (subscription);
    uint64_t froms[16];
    //  Pages of 3 from 3: 3-5, 6-8, 9-10, then an empty one: caught up.
    assert_int_equal (s_fake_replays (&fake, froms, 16), 4);
    assert_true (froms[0] == 3 && froms[1] == 6 && froms[2] == 9 && froms[3] == 11);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_lost_events_are_reported (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "lost");
    s_fake_do (&fake, "COMMIT", 0, 8);
    s_fake_do (&fake, "OLDEST", 0, 6);
    raftq_subscription_t *subscription = s_subscription (&fake, 1, QUIET_MS);
    //  1-5 were trimmed: reported, then delivery goes on.
    s_expect_gap (subscription, 1, 5);
    for (uint64_t seq = 6; seq <= 8; seq++)
        s_expect_event (subscription, seq);
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);

    //  A replay that silently starts later than asked is a loss too.
    s_fake_do (&fake, "HOLE", 0, 9);
    s_fake_do (&fake, "COMMIT", 0, 9);
    s_fake_do (&fake, "PUBLISH", 0, 10);
    s_expect_gap (subscription, 9, 9);
    s_expect_event (subscription, 10);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_live_start_and_polling (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "live");
    s_fake_do (&fake, "COMMIT", 0, 6);
    raftq_subscription_t *subscription = s_subscription (&fake, 0, QUIET_MS);
    //  Live: it starts where the stream is when the token is given...
    assert_true (raftq_subscription_next_seq (subscription) == 7);
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);
    //  ...which one replay from past the end told; the past is not replayed
    uint64_t froms[16];
    int replays = s_fake_replays (&fake, froms, 16);
    assert_true (replays >= 1);
    assert_true (froms[0] == INT64_MAX);
    for (int replay = 1; replay < replays; replay++)
        assert_true (froms[replay] == 7);

    s_fake_do (&fake, "PUBLISH", 0, 7);
    s_fake_do (&fake, "PUBLISH", 0, 8);
    //  The caller's own poll loop: the socket, for the time it may wait.
    raftq_event_t event;
    raftq_gap_t gap;
    uint64_t expected = 7;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (expected <= 8 && zclock_mono () < deadline) {
        zmq_pollitem_t item = {raftq_subscription_socket (subscription), 0, ZMQ_POLLIN, 0};
        int wait = raftq_subscription_wait_ms (subscription);
        assert_true (wait >= 0 && wait <= QUIET_MS);
        assert_true (zmq_poll (&item, 1, wait) >= 0);
        raftq_subscription_result_t result;
        while ((result = raftq_subscription_next (subscription, 0, &event, &gap)) ==
               RAFTQ_SUBSCRIPTION_EVENT) {
            assert_true (event.seq == expected);
            expected++;
        }
        assert_int_equal (result, RAFTQ_SUBSCRIPTION_NONE);
    }
    assert_true (expected == 9);
    assert_true (raftq_subscription_next_seq (subscription) == 9);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

//  A node that has not applied the login confirms a private subscription
//  only when it is made again, a second later: a live start still gets
//  what was published meanwhile, and only that.
static void
test_live_start_misses_nothing_before_confirmation (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "unconfirmed");
    s_fake_do (&fake, "COMMIT", 0, 4);
    s_fake_do (&fake, "CONFIRM", 0, 0);
    raftq_subscription_t *subscription = s_subscription (&fake, 0, QUIET_MS);
    assert_true (raftq_subscription_next_seq (subscription) == 5);
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);
    //  Committed while the subscription is not applied: never on the PUB
    s_fake_do (&fake, "COMMIT", 0, 6);
    s_settle (subscription);
    assert_false (raftq_subscription_confirmed (subscription));
    s_fake_do (&fake, "CONFIRM", 0, 1);
    s_expect_event (subscription, 5);
    s_expect_event (subscription, 6);
    assert_true (raftq_subscription_confirmed (subscription));
    s_fake_do (&fake, "PUBLISH", 0, 7);
    s_expect_event (subscription, 7);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

//  A topic stream's live start asks at once; when no node can tell, it
//  asks again later.
static void
test_live_start_of_a_topic_asks_until_told (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "topic-live");
    s_fake_set (&fake, "STREAM", "topic/news");
    s_fake_do (&fake, "COMMIT", 0, 9);
    raftq_subscription_t *subscription =
        raftq_subscription_new (fake.client_list, fake.pub_list, FAKE_NODES, "topic/news", 0);
    assert_non_null (subscription);
    assert_true (raftq_subscription_next_seq (subscription) == 10);
    raftq_subscription_destroy (&subscription);

    s_fake_do (&fake, "ALIVE", 0, 0);
    s_fake_do (&fake, "ALIVE", 1, 0);
    subscription =
        raftq_subscription_new (fake.client_list, fake.pub_list, FAKE_NODES, "topic/news", 0);
    assert_non_null (subscription);
    assert_true (raftq_subscription_next_seq (subscription) == 0);
    assert_non_null (strstr (raftq_subscription_error (subscription), "where topic/news is now"));
    s_fake_do (&fake, "ALIVE", 0, 1);
    s_fake_do (&fake, "ALIVE", 1, 1);
    s_settle (subscription);
    assert_true (raftq_subscription_next_seq (subscription) == 10);
    s_fake_do (&fake, "PUBLISH", 0, 11);
    s_expect_event_of (subscription, "topic/news", 10);
    s_expect_event_of (subscription, "topic/news", 11);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_fails_over_when_node_dies (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "failover");
    const int silence_ms = 200;
    raftq_subscription_t *subscription = s_subscription (&fake, 1, silence_ms);
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    s_expect_event (subscription, 1);
    s_expect_event (subscription, 2);

    //  Node 0 dies; 3 and 4 are committed and published by node 1 while
    //  nobody listens there.
    s_fake_do (&fake, "ALIVE", 0, 0);
    s_fake_do (&fake, "PUBLISH", 1, 3);
    s_fake_do (&fake, "PUBLISH", 1, 4);
    int64_t started = zclock_mono ();
    s_expect_event (subscription, 3);
    s_expect_event (subscription, 4);
    //  Silence, one probe, the move and a replay: a few silences, with
    //  room for a loaded machine.
    assert_true (zclock_mono () - started < 15 * silence_ms);
    assert_string_equal (raftq_subscription_endpoint (subscription), fake.pubs[1]);
    assert_non_null (strstr (raftq_subscription_error (subscription), "silent"));
    s_wait_subscribed (&fake, 1);
    s_fake_do (&fake, "PUBLISH", 1, 5);
    s_expect_event (subscription, 5);

    //  Node 0 is back; node 1 loses its leader: the subscription moves back.
    s_fake_do (&fake, "ALIVE", 0, 1);
    s_fake_do (&fake, "LEADER", 1, 0);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (strcmp (raftq_subscription_endpoint (subscription), fake.pubs[0]) != 0) {
        assert_true (zclock_mono () < deadline);
        raftq_event_t event;
        raftq_gap_t gap;
        assert_int_equal (raftq_subscription_next (subscription, 20, &event, &gap),
                          RAFTQ_SUBSCRIPTION_NONE);
    }
    assert_non_null (strstr (raftq_subscription_error (subscription), "no leader"));
    //  What was committed meanwhile comes by the catch-up on node 0.
    s_fake_do (&fake, "COMMIT", 0, 6);
    s_expect_event (subscription, 6);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_refused_replay_is_reported (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "refused");
    s_fake_do (&fake, "COMMIT", 0, 2);
    raftq_subscription_t *subscription =
        raftq_subscription_new (fake.client_list, fake.pub_list, FAKE_NODES, STREAM, 1);
    assert_non_null (subscription);
    raftq_subscription_set_silence (subscription, QUIET_MS);

    //  A private stream without a token: said once, then the replay's refusal.
    assert_int_equal (s_next (subscription, DEADLINE_MS), RAFTQ_SUBSCRIPTION_ERROR);
    assert_non_null (strstr (raftq_subscription_error (subscription), "needs a session token"));
    assert_int_equal (s_next (subscription, DEADLINE_MS), RAFTQ_SUBSCRIPTION_ERROR);
    assert_non_null (strstr (raftq_subscription_error (subscription), "UNAUTHENTICATED"));
    //  The bare stream is not what the broker serves.
    assert_int_equal (s_fake_subscribes (&fake, 0), 0);
    //  Nothing is skipped meanwhile; with the token the hole fills.
    assert_int_equal (raftq_subscription_set_token (subscription, TOKEN), 0);
    s_expect_event (subscription, 1);
    s_expect_event (subscription, 2);
    s_wait_subscribed (&fake, 0);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_private_stream_with_token (void **state)
{
    (void)state;
    fake_t fake;
    raftq_subscription_t *subscription = s_started (&fake, "private", 1, QUIET_MS);
    assert_true (raftq_subscription_confirmed (subscription));
    assert_string_equal (raftq_subscription_error (subscription), "");

    //  Control events on the topic are never data; 3 is replayed with the token.
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_fake_do (&fake, "CONTROL", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    s_fake_do (&fake, "JUNK", 0, 3);
    s_fake_do (&fake, "PUBLISH", 0, 4);
    for (uint64_t seq = 1; seq <= 4; seq++)
        s_expect_event (subscription, seq);
    uint64_t froms[16];
    //  Start-up, the catch-up after the confirmation, and the hole at 3.
    size_t replays = s_fake_replays (&fake, froms, 16);
    assert_true (replays >= 2 && froms[replays - 1] == 3);
    s_settle (subscription);
    assert_int_equal (s_fake_subscribes (&fake, 0), 1);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_resubscribes_until_confirmed (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "confirm");
    s_fake_do (&fake, "CONFIRM", 0, 0);
    s_fake_do (&fake, "COMMIT", 0, 6);
    raftq_subscription_t *subscription = s_subscription (&fake, 0, QUIET_MS);
    s_wait_subscribed (&fake, 0);
    assert_false (raftq_subscription_confirmed (subscription));
    //  No "subscribed": unsubscribe and subscribe again, after 50 ms, then
    //  after waits that double (100, 200, ...) up to a second
    int64_t started = zclock_mono ();
    while (s_fake_subscribes (&fake, 0) < 5) {
        assert_true (zclock_mono () - started < DEADLINE_MS);
        assert_int_equal (s_next (subscription, 20), RAFTQ_SUBSCRIPTION_NONE);
    }
    int64_t elapsed = zclock_mono () - started;
    assert_true (elapsed >= 50 + 100 + 200 + 400 - 50);
    assert_true (elapsed < 50 + 100 + 200 + 400 + 800);
    assert_true (raftq_subscription_wait_ms (subscription) <= 1000);

    //  Confirmed: no more subscribing, and events flow.
    s_fake_do (&fake, "CONTROL", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 7);
    s_expect_event (subscription, 7);
    assert_true (raftq_subscription_confirmed (subscription));
    int subscribes = s_fake_subscribes (&fake, 0);
    assert_int_equal (s_next (subscription, 1300), RAFTQ_SUBSCRIPTION_NONE);
    assert_int_equal (s_fake_subscribes (&fake, 0), subscribes);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_revoked_ends_subscription (void **state)
{
    (void)state;
    fake_t fake;
    raftq_subscription_t *subscription = s_started (&fake, "revoked", 1, QUIET_MS);
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    s_fake_do (&fake, "CONTROL", 0, 2);
    //  What came before the revocation is delivered, then the end.
    s_expect_event (subscription, 1);
    s_expect_event (subscription, 2);
    assert_int_equal (s_next (subscription, DEADLINE_MS), RAFTQ_SUBSCRIPTION_REVOKED);
    assert_non_null (strstr (raftq_subscription_error (subscription), "revoked"));
    s_fake_do (&fake, "PUBLISH", 0, 3);
    assert_int_equal (s_next (subscription, 100), RAFTQ_SUBSCRIPTION_REVOKED);
    uint64_t froms[4];
    s_fake_replays (&fake, froms, 4);
    assert_int_equal (s_next (subscription, 100), RAFTQ_SUBSCRIPTION_REVOKED);
    //  Over: no replay asks for what the token no longer allows.
    assert_int_equal (s_fake_replays (&fake, froms, 4), 0);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

//  A token that ended while no node could say "revoked" (the subscriber
//  was moving between nodes): the replay's refusal ends it the same way.
static void
test_refused_token_ends_subscription (void **state)
{
    (void)state;
    fake_t fake;
    raftq_subscription_t *subscription = s_started (&fake, "tokenend", 1, QUIET_MS);
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_expect_event (subscription, 1);
    s_fake_do (&fake, "REFUSE", 0, RAFTQ__CODE__PERMISSION_DENIED);
    //  Seq 3 without 2: the hole is asked for, and refused
    s_fake_do (&fake, "COMMIT", 0, 2);
    s_fake_do (&fake, "PUBLISH", 0, 3);
    assert_int_equal (s_next (subscription, DEADLINE_MS), RAFTQ_SUBSCRIPTION_REVOKED);
    assert_non_null (strstr (raftq_subscription_error (subscription), "PERMISSION_DENIED"));
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_private_failover_resubscribes_with_token (void **state)
{
    (void)state;
    fake_t fake;
    raftq_subscription_t *subscription = s_started (&fake, "privfail", 1, 200);
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_expect_event (subscription, 1);
    //  Node 0 dies; node 1 publishes 2 and 3 before anyone subscribed there.
    s_fake_do (&fake, "ALIVE", 0, 0);
    s_fake_do (&fake, "PUBLISH", 1, 2);
    s_fake_do (&fake, "PUBLISH", 1, 3);
    s_expect_event (subscription, 2);
    s_expect_event (subscription, 3);
    assert_string_equal (raftq_subscription_endpoint (subscription), fake.pubs[1]);
    //  Node 1 got <stream>#<token>, confirmed it, and serves live events.
    s_wait_subscribed (&fake, 1);
    s_fake_do (&fake, "PUBLISH", 1, 4);
    s_expect_event (subscription, 4);
    assert_true (raftq_subscription_confirmed (subscription));
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_topic_stream_needs_no_token (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "topic");
    s_fake_set (&fake, "STREAM", "topic/news");
    raftq_subscription_t *subscription =
        raftq_subscription_new (fake.client_list, fake.pub_list, FAKE_NODES, "topic/news", 1);
    assert_non_null (subscription);
    raftq_subscription_set_silence (subscription, QUIET_MS);
    assert_true (raftq_subscription_confirmed (subscription));
    s_wait_subscribed (&fake, 0);
    s_settle (subscription);
    s_fake_do (&fake, "PUBLISH", 0, 1);
    s_fake_do (&fake, "PUBLISH", 0, 2);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        raftq_event_t event;
        raftq_gap_t gap;
        assert_int_equal (raftq_subscription_next (subscription, DEADLINE_MS, &event, &gap),
                          RAFTQ_SUBSCRIPTION_EVENT);
        assert_true (event.seq == seq);
        assert_string_equal (event.stream, "topic/news");
    }
    //  A token changes nothing for a public stream's subscription.
    assert_int_equal (raftq_subscription_set_token (subscription, TOKEN), 0);
    s_fake_do (&fake, "PUBLISH", 0, 3);
    raftq_event_t event;
    raftq_gap_t gap;
    assert_int_equal (raftq_subscription_next (subscription, DEADLINE_MS, &event, &gap),
                      RAFTQ_SUBSCRIPTION_EVENT);
    assert_true (event.seq == 3);
    assert_int_equal (s_fake_subscribes (&fake, 0), 1);
    raftq_subscription_destroy (&subscription);
    zactor_destroy (&fake.actor);
}

static void
test_new_refuses_bad_arguments (void **state)
{
    (void)state;
    const char *clients[] = {"inproc://none-client-0", "inproc://none-client-1"};
    const char *pubs[] = {"", NULL};
    assert_null (raftq_subscription_new (clients, pubs, 2, STREAM, 0));
    const char *one_pub[] = {"", "inproc://none-pub-1"};
    assert_null (raftq_subscription_new (clients, one_pub, 2, "", 0));
    assert_null (raftq_subscription_new (clients, one_pub, 0, STREAM, 0));
    assert_null (raftq_subscription_new (clients, NULL, 2, STREAM, 0));
    const char *bogus[] = {"", "bogus"};
    assert_null (raftq_subscription_new (clients, bogus, 2, STREAM, 0));
    assert_null (raftq_subscription_new_from_config ("/nonexistent/raftq.json", STREAM, 0));

    //  A node without a PUB port is skipped, but serves replays.
    raftq_subscription_t *subscription = raftq_subscription_new (clients, one_pub, 2, STREAM, 0);
    assert_non_null (subscription);
    assert_string_equal (raftq_subscription_endpoint (subscription), "inproc://none-pub-1");
    raftq_subscription_destroy (&subscription);
    raftq_subscription_destroy (&subscription);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_in_order_once_with_holes_filled),
        cmocka_unit_test (test_catches_up_in_pages),
        cmocka_unit_test (test_lost_events_are_reported),
        cmocka_unit_test (test_live_start_and_polling),
        cmocka_unit_test (test_live_start_misses_nothing_before_confirmation),
        cmocka_unit_test (test_live_start_of_a_topic_asks_until_told),
        cmocka_unit_test (test_fails_over_when_node_dies),
        cmocka_unit_test (test_refused_replay_is_reported),
        cmocka_unit_test (test_private_stream_with_token),
        cmocka_unit_test (test_resubscribes_until_confirmed),
        cmocka_unit_test (test_revoked_ends_subscription),
        cmocka_unit_test (test_refused_token_ends_subscription),
        cmocka_unit_test (test_private_failover_resubscribes_with_token),
        cmocka_unit_test (test_topic_stream_needs_no_token),
        cmocka_unit_test (test_new_refuses_bad_arguments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
