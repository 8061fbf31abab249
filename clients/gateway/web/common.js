/* common — what both pages share: JSON calls to the gateway with the
   session's CSRF token, the status line, and building elements with
   textContent only (never innerHTML), so no text from the cluster can
   become markup. */
"use strict";

const raftq = {
  csrf: "",

  // Builds an element: attributes as properties, children as nodes or text.
  el(tag, properties, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(properties || {})) {
      if (key === "className") element.className = value;
      else if (key === "dataset") Object.assign(element.dataset, value);
      else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value);
    }
    for (const child of children) {
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  },

  // Shows a line for the user; kind "error" stays until the next line.
  say(text, kind) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.className = "status " + (kind || "info");
  },

  // A gateway call: resolves with the JSON answer, rejects with an Error
  // carrying the gateway's message, its code and the HTTP status.
  async api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
    if (raftq.csrf) options.headers["X-CSRF-Token"] = raftq.csrf;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (failure) {
      throw Object.assign(new Error("the gateway cannot be reached"), { code: "NETWORK", status: 0 });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (failure) {
      data = null;
    }
    if (!response.ok) {
      const message = (data && data.error) || response.statusText || "request failed";
      throw Object.assign(new Error(message), { code: data && data.code, status: response.status });
    }
    return data;
  },

  // Bytes for people.
  bytes(count) {
    if (count === undefined || count === null) return "?";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = count;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit ? value.toFixed(1) : String(value)) + " " + units[unit];
  },
};
