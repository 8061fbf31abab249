/*  test_codec_status — the JSON replies of the node's own operations:
    status (plain, with the state hash, with the detail keys) and
    TakeSnapshot.
*/

#include "test_codec_checks.h"

//  Node 2 leading term 7 with commit 100, applied 99, last 101, and
//  members; reply carries it.
static void
s_leader_status (Raftq__NodeStatus *status, uint32_t *members, size_t count, Raftq__Reply *reply)
{
    raftq__node_status__init (status);
    status->id = 2;
    status->role = RAFTQ__ROLE__LEADER;
    status->term = 7;
    status->leader_id = 2;
    status->commit_index = 100;
    status->applied_index = 99;
    status->last_index = 101;
    status->members = members;
    status->n_members = count;
    raftq__reply__init (reply);
    reply->result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply->status = status;
}

static void
test_status_reply (void **state)
{
    (void)state;
    codec_request_t decoded;
    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                     &decoded);
    Raftq__Reply reply;
    Raftq__NodeStatus status;
    uint32_t members[] = {1, 2, 3, 4, 5};
    s_leader_status (&status, members, 5, &reply);
    check_encoded (&decoded, &reply,
                   "{\"role\":\"Leader\",\"term\":7,\"id\":2,\"leader\":2,"
                   "\"commit_index\":100,\"applied_index\":99,\"last_index\":101,"
                   "\"members\":[1,2,3,4,5]}");

    const struct {
        Raftq__Role role;
        const char *name;
    } roles[] = {
        {RAFTQ__ROLE__FOLLOWER, "Follower"},
        {RAFTQ__ROLE__CANDIDATE, "Candidate"},
        {RAFTQ__ROLE__LEADER, "Leader"},
    };
    status.leader_id = 0;
    status.n_members = 0;
    for (size_t index = 0; index < 3; index++) {
        status.role = roles[index].role;
        json_t *object = check_encode_json (&decoded, &reply);
        check_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                                  "last_index", "members"));
        check_string (object, "role", roles[index].name);
        assert_true (json_is_null (json_object_get (object, "leader")));
        assert_int_equal (json_array_size (json_object_get (object, "members")), 0);
        json_decref (object);
    }

    //  A failed status answer is the generic failure.
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAVAILABLE;
    failure.error = "shutting down";
    json_t *object = check_encode_json (&decoded, &failure);
    check_keys (object, KEYS ("success", "code", "error"));
    check_string (object, "code", "UNAVAILABLE");
    check_string (object, "error", "shutting down");
    json_decref (object);

    //  "OK" without a status is the server's bug, said so, not a fake status.
    Raftq__Reply hollow = RAFTQ__REPLY__INIT;
    object = check_encode_json (&decoded, &hollow);
    check_keys (object, KEYS ("success", "code", "error"));
    check_string (object, "code", "INTERNAL");
    json_decref (object);
    codec_request_clear (&decoded);
}

//  A leader's status with the detail: node 2 leads node 1 (a voter, 3
//  behind) and learner 3 (not heard of), and the reply carrying it.
typedef struct {
    Raftq__MemberStatus members[3];   //  the configuration
    Raftq__MemberStatus *pointers[3]; //  the same, as the detail lists them
    Raftq__StatusDetail detail;       //  the node's detail
    uint32_t ids[2];                  //  the voters, as NodeStatus lists them
    Raftq__NodeStatus status;         //  the node's status
    Raftq__Reply reply;               //  the reply carrying it
    Raftq__TopicStatus topic;         //  one topic of the detail
    Raftq__TopicStatus *topics[1];    //  and the pointer to it
} detailed_status_t;

static void
s_detailed_status (detailed_status_t *self)
{
    for (size_t index = 0; index < 3; index++) {
        Raftq__MemberStatus *member = &self->members[index];
        raftq__member_status__init (member);
        member->id = (uint32_t)index + 1;
        member->voter = index < 2;
        member->host = "127.0.0.1";
        member->client_port = 5501 + (uint32_t)index;
        member->peer_port = 5601 + (uint32_t)index;
        member->pub_port = index == 2 ? 0 : 5701 + (uint32_t)index;
        self->pointers[index] = member;
    }
    self->members[0].replication_known = true;
    self->members[0].match_index = 98;
    self->members[0].lag = 3;
    self->members[1].replication_known = true;
    self->members[1].match_index = 101;
    raftq__status_detail__init (&self->detail);
    self->detail.members = self->pointers;
    self->detail.n_members = 3;
    self->detail.config_index = 12;
    self->detail.snapshot_index = 80;
    self->detail.snapshot_term = 6;
    self->detail.first_index = 41;
    self->detail.log_bytes = 123456;
    self->detail.snapshot_bytes = 7890;
    self->detail.state_bytes = 4242;
    self->detail.max_state_bytes = 1 << 20;
    self->detail.free_disk_bytes = 3 << 20;
    self->detail.min_free_disk_bytes = 4 << 20;
    raftq__topic_status__init (&self->topic);
    self->topic.name = "jobs";
    self->topic.ready = 5;
    self->topic.reserved = 2;
    self->topic.delayed = 1;
    self->topic.dead_lettered = 3;
    self->topic.max_deliveries = 4;
    self->topic.dead_letter = "jobs.dead";
    self->topics[0] = &self->topic;
    self->detail.topics = self->topics;
    self->detail.n_topics = 1;
    self->detail.disk_low = true;
    self->ids[0] = 1;
    self->ids[1] = 2;
    s_leader_status (&self->status, self->ids, 2, &self->reply);
    self->status.detail = &self->detail;
}

//  A status request asked with "detail":true.
static void
s_decode_detailed (codec_request_t *decoded)
{
    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":true,\"hash\":false}",
                     RAFTQ__REQUEST__OP_STATUS, false, decoded);
}

static void
test_status_detail_request (void **state)
{
    (void)state;
    codec_request_t plain, detailed;
    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                     &plain);
    assert_false (plain.request->status->detail);
    s_decode_detailed (&detailed);
    assert_true (detailed.request->status->detail);
    Raftq__Request *copy = check_repack (detailed.request);
    assert_true (copy->status->detail);
    raftq__request__free_unpacked (copy, NULL);
    check_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":\"yes\"}", "detail");
    check_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":1}", "detail");
    check_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":null}", "detail");

    //  Not asked: exactly the contract's keys, whatever the node sent
    detailed_status_t fixture;
    s_detailed_status (&fixture);
    json_t *object = check_encode_json (&plain, &fixture.reply);
    check_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                              "last_index", "members"));
    json_decref (object);
    codec_request_clear (&plain);
    codec_request_clear (&detailed);
}

static void
test_status_detail_reply (void **state)
{
    (void)state;
    codec_request_t detailed;
    s_decode_detailed (&detailed);
    detailed_status_t fixture;
    s_detailed_status (&fixture);
    json_t *object = check_encode_json (&detailed, &fixture.reply);
    check_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                              "last_index", "members", "config_index", "snapshot_index",
                              "snapshot_term", "first_index", "log_bytes", "snapshot_bytes",
                              "state_bytes", "max_state_bytes", "free_disk_bytes",
                              "min_free_disk_bytes", "disk_low", "member_detail", "topics"));
    check_integer (object, "config_index", 12);
    check_integer (object, "snapshot_index", 80);
    check_integer (object, "snapshot_term", 6);
    check_integer (object, "first_index", 41);
    check_integer (object, "log_bytes", 123456);
    check_integer (object, "snapshot_bytes", 7890);
    check_integer (object, "state_bytes", 4242);
    check_integer (object, "max_state_bytes", 1 << 20);
    check_integer (object, "free_disk_bytes", 3 << 20);
    check_integer (object, "min_free_disk_bytes", 4 << 20);
    assert_true (json_is_true (json_object_get (object, "disk_low")));
    json_t *listed = json_object_get (object, "member_detail");
    assert_int_equal (json_array_size (listed), 3);
    for (size_t index = 0; index < 3; index++) {
        json_t *member = json_array_get (listed, index);
        check_keys (member, KEYS ("id", "role", "host", "client_port", "peer_port", "pub_port",
                                  "match_index", "lag"));
        check_integer (member, "id", (json_int_t)index + 1);
        check_string (member, "role", index < 2 ? "voter" : "learner");
        check_string (member, "host", "127.0.0.1");
        check_integer (member, "client_port", 5501 + (json_int_t)index);
        check_integer (member, "peer_port", 5601 + (json_int_t)index);
        check_integer (member, "pub_port", index == 2 ? 0 : 5701 + (json_int_t)index);
    }
    check_integer (json_array_get (listed, 0), "match_index", 98);
    check_integer (json_array_get (listed, 0), "lag", 3);
    check_integer (json_array_get (listed, 1), "match_index", 101);
    check_integer (json_array_get (listed, 1), "lag", 0);
    assert_true (json_is_null (json_object_get (json_array_get (listed, 2), "match_index")));
    assert_true (json_is_null (json_object_get (json_array_get (listed, 2), "lag")));
    json_t *topics = json_object_get (object, "topics");
    assert_int_equal (json_array_size (topics), 1);
    json_t *topic = json_array_get (topics, 0);
    check_keys (topic, KEYS ("name", "ready", "reserved", "delayed", "dead_lettered",
                             "max_deliveries", "dead_letter"));
    check_string (topic, "name", "jobs");
    check_integer (topic, "ready", 5);
    check_integer (topic, "reserved", 2);
    check_integer (topic, "delayed", 1);
    check_integer (topic, "dead_lettered", 3);
    check_integer (topic, "max_deliveries", 4);
    check_string (topic, "dead_letter", "jobs.dead");
    json_decref (object);
    codec_request_clear (&detailed);
}

static void
test_status_detail_protobuf (void **state)
{
    (void)state;
    codec_request_t detailed;
    s_decode_detailed (&detailed);
    detailed_status_t fixture;
    s_detailed_status (&fixture);
    //  The detail travels in protobuf too
    size_t size;
    detailed.dialect = CODEC_PROTOBUF;
    uint8_t *body = codec_reply_encode (&detailed, &fixture.reply, &size);
    assert_non_null (body);
    Raftq__Reply *unpacked = raftq__reply__unpack (NULL, size, body);
    free (body);
    assert_non_null (unpacked);
    assert_non_null (unpacked->status->detail);
    assert_int_equal (unpacked->status->detail->n_members, 3);
    assert_true (unpacked->status->detail->members[1]->replication_known);
    assert_false (unpacked->status->detail->members[2]->voter);
    assert_int_equal (unpacked->status->detail->log_bytes, 123456);
    raftq__reply__free_unpacked (unpacked, NULL);
    detailed.dialect = CODEC_JSON;

    //  A node that sent no detail (older) leaves the keys out
    fixture.status.detail = NULL;
    json_t *object = check_encode_json (&detailed, &fixture.reply);
    check_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                              "last_index", "members"));
    json_decref (object);
    codec_request_clear (&detailed);
}

//  Status with the state hash: 16 hex digits, as a string
static void
test_status_hash (void **state)
{
    (void)state;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    json_t *object;
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.id = 1;
    status.state_hash = 0x00ab00cd00ef0012ULL;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;
    object = check_reply_json ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}", &reply,
                               KEYS ("role", "term", "id", "leader", "commit_index",
                                     "applied_index", "last_index", "members", "state_hash"));
    check_string (object, "state_hash", "00ab00cd00ef0012");
    json_decref (object);
    object = check_reply_json ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":false}", &reply,
                               KEYS ("role", "term", "id", "leader", "commit_index",
                                     "applied_index", "last_index", "members"));
    json_decref (object);
}

static void
test_take_snapshot (void **state)
{
    (void)state;
    codec_request_t decoded;
    check_decode_ok ("{\"type\":\"snapshot\",\"method\":\"POST\",\"client_id\":5,\"seq\":2}",
                     RAFTQ__REQUEST__OP_TAKE_SNAPSHOT, false, &decoded);
    assert_non_null (decoded.request->take_snapshot);
    Raftq__Request *copy = check_repack (decoded.request);
    assert_non_null (copy->take_snapshot);
    raftq__request__free_unpacked (copy, NULL);

    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.index = 4242;
    check_encoded (&decoded, &reply, "{\"success\":true,\"index\":4242}");

    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAVAILABLE;
    failure.error = "a snapshot is being written";
    json_t *object = check_encode_json (&decoded, &failure);
    check_keys (object, KEYS ("success", "code", "error"));
    assert_true (json_is_false (json_object_get (object, "success")));
    check_string (object, "code", "UNAVAILABLE");
    json_decref (object);
    codec_request_clear (&decoded);

    //  Other methods are no operation at all
    const char *wrong[] = {"{\"type\":\"snapshot\",\"method\":\"GET\"}",
                           "{\"type\":\"snapshot\",\"method\":\"post\"}",
                           "{\"type\":\"snapshot\",\"method\":7}"};
    for (size_t index = 0; index < sizeof (wrong) / sizeof (wrong[0]); index++) {
        assert_int_equal (check_decode_text (wrong[index], &decoded), -1);
        assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
        codec_request_clear (&decoded);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_status_reply),        cmocka_unit_test (test_status_detail_request),
        cmocka_unit_test (test_status_detail_reply), cmocka_unit_test (test_status_detail_protobuf),
        cmocka_unit_test (test_status_hash),         cmocka_unit_test (test_take_snapshot),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
