#!/usr/bin/python3
"""example — two people chat through a raftq cluster, from Python, with
nothing but pyzmq and raftq_client.py (the JSON dialect).

    /usr/bin/python3 clients/python/example.py --config config.json
    /usr/bin/python3 clients/python/example.py -e tcp://127.0.0.1:5501 -e tcp://127.0.0.1:5502

Registers two users (an existing account with the same password is fine),
logs both in, sends a message each way, and prints what each one reads.
Exit status 0, or 1 with the failure on stderr.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from raftq_client import RaftqClient, RaftqError, config_endpoints  # noqa: E402


def register(client, user, password):
    try:
        client.create_account(user, password)
        print("registered %s" % user)
    except RaftqError as error:
        if error.code != "ALREADY_EXISTS":
            raise
        print("%s was registered already" % user)


def main():
    parser = argparse.ArgumentParser(description="raftq chat example")
    parser.add_argument("-c", "--config", help="cluster config (default ./config.json without -e)")
    parser.add_argument("-e", "--endpoint", action="append", default=[], help="node client endpoint, repeatable")
    parser.add_argument("--alice", default="alice", help="first user's name")
    parser.add_argument("--bob", default="bob", help="second user's name")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a request keeps trying")
    args = parser.parse_args()
    endpoints = args.endpoint or config_endpoints(args.config or "config.json")

    alice = RaftqClient(endpoints, timeout=args.timeout)
    bob = RaftqClient(endpoints, timeout=args.timeout)
    try:
        register(alice, args.alice, "alice-password")
        register(bob, args.bob, "bob-password")

        _, unread = alice.login(args.alice, "alice-password")
        print("%s logged in (%d unread)" % (args.alice, unread))
        text = "hello %s, this is %s" % (args.bob, args.alice)
        message_id = alice.send_message(args.bob, text)
        print("%s -> %s: message #%d" % (args.alice, args.bob, message_id))

        _, unread = bob.login(args.bob, "bob-password")
        print("%s logged in (%d unread)" % (args.bob, unread))
        for message in bob.read_messages()["messages"]:
            print("%s read #%d from %s: %s" % (args.bob, message["id"], message["from"], message["text"]))
        reply_id = bob.send_message(args.alice, "hi %s, %s here" % (args.alice, args.bob))
        print("%s -> %s: message #%d" % (args.bob, args.alice, reply_id))

        conversation = alice.read_messages(partner=args.bob)
        print("conversation of %s with %s (%d message(s)):" % (args.alice, args.bob, conversation["total"]))
        for message in conversation["messages"]:
            print("  #%d %s -> %s: %s" % (message["id"], message["from"], message["to"], message["text"]))
        alice.logout()
        bob.logout()
    except RaftqError as error:
        print("example: %s" % error, file=sys.stderr)
        return 1
    finally:
        alice.close()
        bob.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
