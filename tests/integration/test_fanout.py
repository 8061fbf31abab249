"""Fan-out follows what subscribers ask for (DESIGN 6): a node builds the
events of a stream only while some subscriber's prefix covers it, so these
check that no event is lost when subscribers come, share a prefix, leave
and come back, on a follower as well as on the leader."""

import json

import zmq

from harness import check_equal, wait_until

EVENT_WAIT_S = 5.0    # how long a subscriber may take to see a batch
WARM_TIMEOUT_S = 5.0  # how long a new subscription may take to reach the node


class Subscriber:
    """A SUB socket on one node's PUB port for one prefix."""

    def __init__(self, cluster, node_id, prefix):
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.socket.connect("tcp://127.0.0.1:%d" % cluster.config.nodes[node_id].pub_port)

    def events(self, wait_ms):
        """Every event that arrives within wait_ms of the last one, decoded."""
        events = []
        while self.socket.poll(wait_ms):
            frames = self.socket.recv_multipart()
            check_equal(len(frames), 3, "frames of an event")
            event = json.loads(frames[2].decode("utf-8"))
            check_equal(event.get("stream"), frames[0].decode("utf-8"), "stream of an event")
            events.append(event)
            wait_ms = 0
        return events

    def collect(self, topic, messages):
        """Waits for the publish events of messages on topic, in order; checks
        that their per-stream seqs follow each other without a gap."""
        seen = []

        def complete():
            for event in self.events(50):
                if event.get("topic") == topic and event.get("message") in messages:
                    seen.append(event)
            return len(seen) >= len(messages)
        wait_until(complete, EVENT_WAIT_S, "events of %r (got %d of %d)" % (topic, len(seen), len(messages)))
        check_equal([event["message"] for event in seen], messages, "messages of the events on %r" % topic)
        seqs = [event["seq"] for event in seen]
        check_equal(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seqs of the events on %r" % topic)

    def close(self):
        self.socket.close(0)


def _warm(cluster, leader, subscribers, topic):
    """Publishes to topic until every subscriber has seen one of its events:
    only then is each subscription known to the node (SUB connects and
    subscribes asynchronously)."""
    warm = set()

    def all_warm():
        cluster.publish(leader, topic, ["warm-up"])
        for position, subscriber in enumerate(subscribers):
            if any(event.get("topic") == topic for event in subscriber.events(50)):
                warm.add(position)
        return len(warm) == len(subscribers)
    wait_until(all_warm, WARM_TIMEOUT_S, "every subscriber to see a %r event" % topic)


def _check_node(cluster, leader, node_id):
    cluster.put_topic(leader, "news")
    cluster.put_topic(leader, "nest")
    # published while nobody listens: nothing is built, nothing is owed
    cluster.publish(leader, "news", ["unheard %d" % number for number in range(5)])

    # a prefix shorter than the stream key, held by two subscribers
    first = Subscriber(cluster, node_id, "topic/n")
    second = Subscriber(cluster, node_id, "topic/n")
    late = None
    try:
        _warm(cluster, leader, [first, second], "nest")
        batch = ["both %d" % number for number in range(5)]
        cluster.publish(leader, "news", batch)
        first.collect("news", batch)
        second.collect("news", batch)

        # one of them leaving must not end the prefix for the other; a third
        # subscription warmed up after the close gives the node time to see it
        first.close()
        first = None
        other = Subscriber(cluster, node_id, "topic/nest")
        try:
            _warm(cluster, leader, [other], "nest")
        finally:
            other.close()
        batch = ["one left %d" % number for number in range(5)]
        cluster.publish(leader, "news", batch)
        second.collect("news", batch)

        # nobody left: events go unbuilt, then a new subscriber gets them again
        second.close()
        second = None
        cluster.publish(leader, "news", ["unheard again %d" % number for number in range(5)])
        late = Subscriber(cluster, node_id, "topic/news")
        _warm(cluster, leader, [late], "news")
        batch = ["back %d" % number for number in range(5)]
        cluster.publish(leader, "news", batch)
        late.collect("news", batch)
    finally:
        for subscriber in (first, second, late):
            if subscriber:
                subscriber.close()


def test_fanout_follows_subscriptions_on_a_follower(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    _check_node(cluster, leader, cluster.followers(leader)[0])


def test_fanout_follows_subscriptions_on_the_leader(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    _check_node(cluster, leader, leader)
