"""The gateway's pages in headless Chromium (Selenium), against a real
cluster, in one test (two browsers take seconds to start on a busy
machine): two people register (name availability shown while typing) and
chat, each message showing live in the other's page within a second, with
an unread count on a conversation not open; a message that looks like
HTML shows as text; a deletion reaches the other page; the leader is
killed (SIGKILL) mid-conversation and both pages carry on with every
message once, in order; the cluster page shows the new leader and the dead
node.

A failure saves a screenshot of every page (paths printed).
RAFTQ_GATEWAY_SCREENSHOTS=DIR also saves the README's pictures there
(chat.png, chat-phone.png, cluster.png).
"""

import os

from gateway_support import Browsers, cluster_and_gateway, screenshot_dir
from harness import check, check_equal, wait_until

LIVE_S = 1.0        # a message shows in the other page within this
SEND_S = 12.0       # a send is answered within this (a registration: two password hashes)
FAILOVER_S = 12.0   # a send or delivery across a leader change, within this

MESSAGES_JS = """return [...document.querySelectorAll('#messages li')].map(li =>
    [Number(li.dataset.id), li.querySelector('.from').textContent,
     li.querySelector('.text').textContent]);"""
UNREAD_JS = """const badge = document.querySelector(
    '#conversations button[data-partner="' + arguments[0] + '"] .unread');
return badge ? badge.textContent : '';"""


def _visible(driver, element_id):
    return driver.execute_script("const e = document.getElementById(arguments[0]);"
                                 "return !!e && !e.hidden;", element_id)


def _type(driver, element_id, text):
    element = driver.find_element("id", element_id)
    element.clear()
    element.send_keys(text)


def _register(driver, user):
    wait_until(lambda: _visible(driver, "auth"), 5.0, "the login form")
    _type(driver, "user", user)
    wait_until(lambda: driver.find_element("id", "availability").text == user + " is available",
               3.0, "%s shown available while typing" % user)
    _type(driver, "password", "pw-" + user)
    driver.find_element("id", "register").click()
    wait_until(lambda: _visible(driver, "chat"), SEND_S, "%s's chat page" % user)


def _open(driver, partner):
    """Opens the conversation with partner, found by searching the users."""
    _type(driver, "search", partner[:3])
    # Not the list from before the search: it is replaced under the click
    selector = '#users:not([aria-busy]) button[data-user="%s"]' % partner
    wait_until(lambda: driver.find_elements("css selector", selector), 3.0,
               "%s in the users list" % partner)
    driver.find_element("css selector", selector).click()
    wait_until(lambda: driver.find_element("id", "partner").text == "Conversation with " + partner,
               3.0, "the conversation with %s" % partner)


def _messages(driver):
    return [tuple(row) for row in driver.execute_script(MESSAGES_JS)]


def _texts(driver):
    return [row[2] for row in _messages(driver)]


def _send(driver, text, within):
    """Sends text and waits until the page shows it as sent."""
    _type(driver, "text", text)
    driver.find_element("id", "send").click()
    wait_until(lambda: text in _texts(driver), within, "%r sent" % text)


def _live(driver, text, what):
    wait_until(lambda: text in _texts(driver), LIVE_S, what)


def _chat(alice, bob):
    """Registration done: the conversation, live, unread, XSS, deletion."""
    _open(alice, "bob")
    _send(alice, "hello bob", SEND_S)
    wait_until(lambda: bob.execute_script(UNREAD_JS, "alice") == "1", LIVE_S,
               "alice's conversation with 1 unread in bob's page")
    bob.find_element("css selector", '#conversations button[data-partner="alice"]').click()
    wait_until(lambda: _texts(bob) == ["hello bob"], 3.0, "the history in bob's page")
    check_equal(bob.execute_script(UNREAD_JS, "alice"), "", "the unread count once opened")

    for sender, receiver, text in ((bob, alice, "hi alice"), (alice, bob, "how are you?"),
                                   (bob, alice, "fine, thanks")):
        _send(sender, text, SEND_S)
        _live(receiver, text, "%r live in the other page" % text)

    payload = '<img src=x onerror="document.title=\'pwned\'">'
    _send(alice, payload, SEND_S)
    _live(bob, payload, "the HTML-like text in bob's page")
    for driver in (alice, bob):
        check(not driver.find_elements("css selector", "#messages img, #conversations img"),
              "a message's text became markup")
        check_equal(driver.title, "raftq chat", "the page title (the payload would change it)")

    doomed = [row[0] for row in _messages(alice) if row[2] == "how are you?"][0]
    alice.find_element("css selector", '#messages li[data-id="%d"] .delete' % doomed).click()
    wait_until(lambda: all(row[0] != doomed for row in _messages(bob)), 3.0,
               "the deleted message gone from bob's page")
    check_equal(_texts(alice), _texts(bob), "both pages show the same conversation")


def _leader_kill(cluster, alice, bob):
    """Kills the leader mid-conversation: both pages go on with every
    message once, in order."""
    expected = _texts(alice)
    leader = cluster.wait_leader(3.0)
    cluster.kill(leader)
    for position in range(2):
        for sender, name in ((alice, "alice"), (bob, "bob")):
            text = "%s after the kill %d" % (name, position)
            _send(sender, text, FAILOVER_S)
            expected.append(text)
    for name, driver in (("alice", alice), ("bob", bob)):
        wait_until(lambda: _texts(driver) == expected, FAILOVER_S,
                   "every message once, in order, in %s's page" % name)
        ids = [row[0] for row in _messages(driver)]
        check(len(set(ids)) == len(ids) and ids == sorted(ids),
              "%s's page shows each id once, in order: %r", name, ids)
    # And live again on the new leader.
    _send(bob, "still here", SEND_S)
    _live(alice, "still here", "a message live after the failover")
    return leader


def test_gateway_browser(ctx):
    cluster, gateway = cluster_and_gateway(ctx)
    pictures = screenshot_dir()
    with Browsers(ctx) as browsers:
        bob, alice = browsers.open_all(["bob", "alice"], gateway.url + "/")
        # For the README's picture, a page that watches the whole run
        operator = browsers.open("operator", gateway.url + "/cluster") if pictures else None
        _register(bob, "bob")
        _type(alice, "user", "bob")
        wait_until(lambda: alice.find_element("id", "availability").text == "bob: taken", 3.0,
                   "a taken name shown while typing")
        _register(alice, "alice")

        _chat(alice, bob)
        if pictures:
            from selenium.webdriver.common.keys import Keys  # only where selenium is needed
            search = alice.find_element("id", "search")
            search.send_keys(Keys.BACKSPACE * len(search.get_attribute("value")))
            wait_until(lambda: len(alice.find_elements("css selector", "#users button")) == 2, 3.0,
                       "both users listed")
            alice.save_screenshot(os.path.join(pictures, "chat.png"))
        killed = _leader_kill(cluster, alice, bob)

        new_leader = cluster.wait_leader(3.0, other_than=killed)
        alice.get(gateway.url + "/cluster")
        wait_until(lambda: alice.execute_script(
            "return document.getElementById('summary').dataset.leader") == str(new_leader),
            5.0, "the cluster page naming node %d as leader" % new_leader)
        wait_until(lambda: alice.find_elements(
            "css selector", 'article[data-node="%d"][data-role="unreachable"]' % killed)
            or alice.find_elements("css selector", 'article[data-role="unreachable"]'),
            5.0, "the killed node's card marked unreachable")
        if pictures:
            wait_until(lambda: "1 leader change" in operator.find_element("id", "chart-text").text,
                       5.0, "the leader change on the operator's chart")
            operator.save_screenshot(os.path.join(pictures, "cluster.png"))
            bob.set_window_size(400, 860)
            bob.save_screenshot(os.path.join(pictures, "chat-phone.png"))
        check(gateway.process.poll() is None, "the gateway still runs")
