/* chat — the chat page: log in or register (name availability while
   typing), the users list with search and paging, conversations with
   unread counts, a conversation with history paging, live messages from
   the gateway's event stream, send, delete a message, delete the account,
   log out.

   Nothing shows twice: every message is kept by its id, whatever brought
   it (the history, the stream, the answer to a send, a replay after a
   leader change). Unread counts: the unread messages the cluster hands
   over at login (which it then counts as read) plus the messages that
   arrive live while their conversation is not open; kept per user in
   sessionStorage so a reload keeps them. */
"use strict";

(() => {
  const { el, say, api } = raftq;
  const PAGE_SIZE = 20;
  const USERS_PAGE_SIZE = 10;
  const $ = (id) => document.getElementById(id);

  const state = {
    me: "",
    conversations: new Map(), // partner -> {last: message}
    unread: new Map(),        // partner -> Set of message ids
    partner: "",              // the open conversation
    shown: new Map(),         // id -> <li> of the open conversation
    oldestPage: 0,            // lowest history page loaded for it
    usersPage: 1,
    usersTotal: 0,
    events: null,             // the EventSource
    liveSince: 0,             // gateway clock (ms) when the stream started
    searchTimer: 0,
    availabilityTimer: 0,
  };

  // --- views --------------------------------------------------------------

  function showAuth(message) {
    state.me = "";
    raftq.csrf = "";
    if (state.events) state.events.close();
    state.events = null;
    $("chat").hidden = true;
    $("account").hidden = true;
    $("auth").hidden = false;
    $("password").value = "";
    if (message) say(message, "error");
    $("user").focus();
  }

  function showChat(session) {
    state.me = session.user;
    raftq.csrf = session.csrf;
    $("me").textContent = session.user;
    $("auth").hidden = true;
    $("account").hidden = false;
    $("chat").hidden = false;
    state.conversations.clear();
    loadUnreadCounts();
    renderConversations();
    closeConversation();
    loadUsers(1);
    fetchUnread().then(connectEvents);
  }

  function failed(error) {
    if (error.status === 401) showAuth(error.message);
    else say(error.message, "error");
  }

  // --- login and registration -----------------------------------------------

  function credentials() {
    return { user: $("user").value.trim(), password: $("password").value };
  }

  async function login(event) {
    event.preventDefault();
    try {
      const session = await api("POST", "/api/login", credentials());
      say("Logged in as " + session.user + (session.unread ? " (" + session.unread + " unread)" : ""));
      showChat(session);
    } catch (error) {
      say(error.message, "error");
    }
  }

  async function register() {
    try {
      const session = await api("POST", "/api/register", credentials());
      say("Welcome, " + session.user);
      showChat(session);
    } catch (error) {
      say(error.message, "error");
    }
  }

  function checkAvailability() {
    clearTimeout(state.availabilityTimer);
    const name = $("user").value.trim();
    const hint = $("availability");
    if (!name) {
      hint.textContent = "";
      return;
    }
    state.availabilityTimer = setTimeout(async () => {
      try {
        const answer = await api("GET", "/api/available?user=" + encodeURIComponent(name));
        if ($("user").value.trim() !== name) return;
        hint.textContent = answer.available ? name + " is available" : name + ": " + answer.reason;
        hint.className = "hint " + (answer.available ? "good" : "bad");
      } catch (error) {
        hint.textContent = error.message;
        hint.className = "hint bad";
      }
    }, 250);
  }

  async function logout() {
    try {
      await api("POST", "/api/logout", {});
      sessionStorage.removeItem("raftq-unread-" + state.me);
      showAuth();
      say("Logged out");
    } catch (error) {
      failed(error);
    }
  }

  async function deleteAccount() {
    try {
      const name = state.me;
      await api("DELETE", "/api/account");
      sessionStorage.removeItem("raftq-unread-" + name);
      $("confirm-delete").hidden = true;
      showAuth();
      say("Account " + name + " deleted");
    } catch (error) {
      failed(error);
    }
  }

  // --- users ------------------------------------------------------------------

  async function loadUsers(page) {
    const query = $("search").value.trim();
    try {
      const answer = await api("GET", "/api/users?page=" + page + "&page_size=" + USERS_PAGE_SIZE +
                                      "&q=" + encodeURIComponent(query));
      state.usersPage = page;
      state.usersTotal = answer.total;
      const list = $("users");
      list.replaceChildren();
      for (const name of answer.users) {
        const label = name === state.me ? name + " (you)" : name;
        list.append(el("li", {}, el("button", { type: "button", className: "link",
          dataset: { user: name }, onclick: () => openConversation(name) }, label)));
      }
      if (!answer.users.length) list.append(el("li", { className: "hint" }, "No user matches"));
      const pages = Math.max(1, Math.ceil(answer.total / USERS_PAGE_SIZE));
      $("users-page").textContent = "Page " + page + " of " + pages;
      $("users-prev").disabled = page <= 1;
      $("users-next").disabled = page >= pages;
    } catch (error) {
      failed(error);
    } finally {
      if ($("search").value.trim() === query) $("users").removeAttribute("aria-busy");
    }
  }

  // --- conversations and unread counts ---------------------------------------

  function unreadKey() {
    return "raftq-unread-" + state.me;
  }

  function loadUnreadCounts() {
    state.unread.clear();
    try {
      const saved = JSON.parse(sessionStorage.getItem(unreadKey()) || "{}");
      for (const [partner, ids] of Object.entries(saved)) state.unread.set(partner, new Set(ids));
    } catch (error) {
      sessionStorage.removeItem(unreadKey());
    }
  }

  function saveUnreadCounts() {
    const saved = {};
    for (const [partner, ids] of state.unread) if (ids.size) saved[partner] = [...ids];
    sessionStorage.setItem(unreadKey(), JSON.stringify(saved));
  }

  function markUnread(partner, id) {
    if (!state.unread.has(partner)) state.unread.set(partner, new Set());
    state.unread.get(partner).add(id);
    saveUnreadCounts();
  }

  // The cluster's unread messages: counted here, read there from now on.
  async function fetchUnread() {
    try {
      for (let page = 1; page <= 50; page += 1) {
        const answer = await api("GET", "/api/unread?page=1&page_size=200");
        for (const message of answer.messages) {
          noteConversation(message);
          if (message.from !== state.partner) markUnread(message.from, message.id);
        }
        if (!answer.remaining) break;
      }
      renderConversations();
    } catch (error) {
      failed(error);
    }
  }

  function partnerOf(message) {
    return message.from === state.me ? message.to : message.from;
  }

  function noteConversation(message) {
    const partner = partnerOf(message);
    const known = state.conversations.get(partner);
    if (!known || known.last.id < message.id) state.conversations.set(partner, { last: message });
  }

  function renderConversations() {
    const list = $("conversations");
    list.replaceChildren();
    const partners = new Set([...state.conversations.keys(), ...state.unread.keys()]);
    if (state.partner) partners.add(state.partner);
    const ordered = [...partners].sort((one, other) => {
      const a = state.conversations.get(one);
      const b = state.conversations.get(other);
      return (b ? b.last.id : 0) - (a ? a.last.id : 0);
    });
    for (const partner of ordered) {
      const count = state.unread.has(partner) ? state.unread.get(partner).size : 0;
      const known = state.conversations.get(partner);
      const button = el("button", { type: "button", className: "link conversation-link",
        dataset: { partner }, onclick: () => openConversation(partner) }, el("span", {}, partner));
      if (count) {
        button.append(el("span", { className: "unread", "aria-label": count + " unread" }, String(count)));
      }
      if (known) button.append(el("span", { className: "preview" }, known.last.text));
      if (partner === state.partner) button.setAttribute("aria-current", "true");
      list.append(el("li", {}, button));
    }
    $("no-conversations").hidden = ordered.length > 0;
  }

  // --- the open conversation -------------------------------------------------

  function closeConversation() {
    state.partner = "";
    state.shown.clear();
    $("messages").replaceChildren();
    $("partner").textContent = "Pick a conversation";
    $("compose").hidden = true;
    $("older").hidden = true;
  }

  function messageItem(message) {
    const mine = message.from === state.me;
    const when = new Date(message.ts);
    const item = el("li", { className: mine ? "message mine" : "message", dataset: { id: message.id } },
      el("span", { className: "from" }, message.from),
      el("time", { datetime: when.toISOString() }, when.toLocaleTimeString()),
      el("p", { className: "text" }, message.text));
    item.append(el("button", { type: "button", className: "delete",
      "aria-label": "Delete message " + message.id, onclick: () => deleteMessage(message.id) }, "Delete"));
    return item;
  }

  // Puts a message in the open conversation in id order, once.
  function showMessage(message) {
    if (state.shown.has(message.id)) return;
    const item = messageItem(message);
    const list = $("messages");
    let before = null;
    for (const [id, other] of state.shown) {
      if (id > message.id && (!before || Number(before.dataset.id) > id)) before = other;
    }
    list.insertBefore(item, before);
    state.shown.set(message.id, item);
    if (!before) item.scrollIntoView({ block: "nearest" });
  }

  async function openConversation(partner) {
    closeConversation();
    state.partner = partner;
    $("partner").textContent = "Conversation with " + partner;
    $("compose").hidden = false;
    state.unread.delete(partner);
    saveUnreadCounts();
    renderConversations();
    await loadPage(0);
    $("text").focus();
  }

  async function loadPage(page) {
    const partner = state.partner;
    try {
      const answer = await api("GET", "/api/conversations/" + encodeURIComponent(partner) +
                                      "?page=" + page + "&page_size=" + PAGE_SIZE);
      if (partner !== state.partner) return;
      for (const message of answer.messages) {
        showMessage(message);
        noteConversation(message);
      }
      state.oldestPage = answer.page;
      $("older").hidden = answer.page <= 1;
      renderConversations();
    } catch (error) {
      failed(error);
    }
  }

  async function send(event) {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    const to = state.partner;
    $("send").disabled = true;
    try {
      const answer = await api("POST", "/api/messages", { to, text });
      $("text").value = "";
      const message = { id: answer.id, from: state.me, to, text, ts: answer.ts, read: false };
      noteConversation(message);
      if (to === state.partner) showMessage(message);
      renderConversations();
      say("");
    } catch (error) {
      // The text stays in the box: nothing is sent twice behind the user's back.
      failed(error);
    } finally {
      $("send").disabled = false;
    }
  }

  async function deleteMessage(id) {
    try {
      await api("DELETE", "/api/messages/" + id);
      forget([id]);
    } catch (error) {
      failed(error);
    }
  }

  function forget(ids) {
    for (const id of ids) {
      const item = state.shown.get(id);
      if (item) item.remove();
      state.shown.delete(id);
      for (const [partner, unread] of state.unread) if (unread.delete(id) && !unread.size) state.unread.delete(partner);
    }
    saveUnreadCounts();
    renderConversations();
  }

  // --- live events --------------------------------------------------------------

  function connectEvents() {
    if (!state.me || state.events) return;
    const events = new EventSource("/api/events?from=1");
    state.events = events;
    events.addEventListener("hello", (event) => {
      state.liveSince = state.liveSince || JSON.parse(event.data).now;
      say("");
    });
    events.addEventListener("chat", (event) => onChat(JSON.parse(event.data)));
    events.addEventListener("gap", () => {
      say("Some older events are no longer kept by the cluster", "info");
      if (state.partner) loadPage(0);
    });
    events.addEventListener("problem", (event) => say(JSON.parse(event.data).error, "error"));
    events.addEventListener("revoked", () => showAuth("Your session has ended: log in again"));
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) {
        // The gateway refused the stream (expired session) or is gone: ask
        // again in a second.
        state.events = null;
        setTimeout(() => api("GET", "/api/session").then(connectEvents, failed), 1000);
      } else {
        say("Reconnecting to the live stream\u2026", "info");
      }
    });
  }

  function onChat(event) {
    if (event.kind === "delete") {
      forget(event.ids || []);
      return;
    }
    if (event.kind !== "message") return;
    const partner = partnerOf(event);
    noteConversation(event);
    if (partner === state.partner) showMessage(event);
    else if (event.from !== state.me && state.liveSince && event.ts >= state.liveSince) markUnread(partner, event.id);
    renderConversations();
  }

  // --- start ----------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", async () => {
    $("auth-form").addEventListener("submit", login);
    $("register").addEventListener("click", register);
    $("user").addEventListener("input", checkAvailability);
    $("logout").addEventListener("click", logout);
    $("delete-account").addEventListener("click", () => {
      $("confirm-delete").hidden = false;
      $("confirm-delete-no").focus();
    });
    $("confirm-delete-no").addEventListener("click", () => {
      $("confirm-delete").hidden = true;
    });
    $("confirm-delete-yes").addEventListener("click", deleteAccount);
    $("search").addEventListener("input", () => {
      // Busy until the answer is shown: what is listed now is stale.
      $("users").setAttribute("aria-busy", "true");
      clearTimeout(state.searchTimer);
      state.searchTimer = setTimeout(() => loadUsers(1), 250);
    });
    $("users-prev").addEventListener("click", () => loadUsers(state.usersPage - 1));
    $("users-next").addEventListener("click", () => loadUsers(state.usersPage + 1));
    $("older").addEventListener("click", () => loadPage(state.oldestPage - 1));
    $("compose").addEventListener("submit", send);
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) send(event);
    });
    try {
      showChat(await api("GET", "/api/session"));
    } catch (error) {
      showAuth(error.status === 401 ? "" : error.message);
    }
  });
})();
