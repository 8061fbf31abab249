/* cluster — the cluster page: asks the gateway for every node's status
   about once a second, draws one card per node and a chart of commits per
   second (from the highest commit index any node reports) with a red line
   at each leader change. */
"use strict";

(() => {
  const { el, say, api, bytes } = raftq;
  const PERIOD_MS = 1000;
  const HISTORY = 120; // samples on the chart: two minutes
  const samples = [];  // {rate, leaderChange}
  let previous = null; // {commit, ms, leader, term}
  let changes = 0;

  function field(name, value) {
    return [el("dt", {}, name), el("dd", {}, value)];
  }

  function card(node, leader) {
    const title = node.id ? "Node " + node.id : node.endpoint;
    const article = el("article", { className: "card " + (node.reachable ? node.role : "down"),
      dataset: { node: node.id || "", role: node.reachable ? node.role : "unreachable" },
      "aria-label": title });
    article.append(el("h3", {}, title, el("span", { className: "badge" },
      node.reachable ? node.role : "unreachable")));
    const list = el("dl", {});
    if (node.reachable) {
      list.append(...field("Term", node.term),
        ...field("Leader", node.leader ? "node " + node.leader : "none known"),
        ...field("Commit / applied", node.commit_index + " / " + node.applied_index),
        ...field("Last index", node.last_index),
        ...field("Lag", node.lag !== undefined ? node.lag + " entries" : (node.id === leader ? "0 (leads)" : "?")),
        ...field("Snapshot", node.snapshot_index !== undefined ? "up to " + node.snapshot_index : "?"),
        ...field("Log size", bytes(node.log_bytes)));
    } else {
      list.append(...field("Endpoint", node.endpoint), ...field("Reachable", "no: " + (node.error || "no answer")));
    }
    article.append(list);
    return article;
  }

  function draw() {
    const canvas = document.getElementById("chart");
    const context = canvas.getContext("2d");
    const width = canvas.width;
    const height = canvas.height;
    context.clearRect(0, 0, width, height);
    const top = Math.max(10, ...samples.map((sample) => sample.rate));
    const step = width / (HISTORY - 1);
    const x = (index) => width - (samples.length - 1 - index) * step;
    const y = (rate) => height - 18 - (rate / top) * (height - 30);
    context.strokeStyle = "#c9ced6";
    context.lineWidth = 1;
    context.beginPath();
    context.moveTo(0, y(0));
    context.lineTo(width, y(0));
    context.stroke();
    context.strokeStyle = "#d2212d";
    context.lineWidth = 2;
    samples.forEach((sample, index) => {
      if (!sample.leaderChange) return;
      context.beginPath();
      context.moveTo(x(index), 0);
      context.lineTo(x(index), height - 18);
      context.stroke();
    });
    context.strokeStyle = "#1f6feb";
    context.beginPath();
    samples.forEach((sample, index) => {
      if (index === 0) context.moveTo(x(index), y(sample.rate));
      else context.lineTo(x(index), y(sample.rate));
    });
    context.stroke();
    context.fillStyle = "#444";
    context.font = "12px sans-serif";
    context.fillText(Math.round(top) + " commits/s", 4, 12);
    context.fillText("now", width - 28, height - 4);
    const last = samples.length ? samples[samples.length - 1].rate : 0;
    document.getElementById("chart-text").textContent =
      "Now " + last.toFixed(1) + " commits/s; " + changes + " leader change" + (changes === 1 ? "" : "s") + " seen.";
  }

  async function refresh() {
    try {
      const answer = await api("GET", "/api/cluster");
      // The gateway shares one answer a second among viewers: one seen
      // already is no new sample
      if (previous && answer.ms === previous.ms) return;
      const nodes = answer.nodes;
      const commit = Math.max(0, ...nodes.filter((node) => node.reachable).map((node) => node.commit_index));
      let leaderChange = false;
      let rate = 0;
      if (previous) {
        rate = Math.max(0, (commit - previous.commit) * 1000 / Math.max(1, answer.ms - previous.ms));
        leaderChange = answer.leader !== 0 && (answer.leader !== previous.leader || answer.term !== previous.term);
      }
      if (leaderChange) changes += 1;
      if (answer.leader || !previous) previous = { commit, ms: answer.ms, leader: answer.leader, term: answer.term };
      else previous = Object.assign(previous, { commit, ms: answer.ms });
      samples.push({ rate, leaderChange });
      while (samples.length > HISTORY) samples.shift();
      const summary = document.getElementById("summary");
      summary.textContent = answer.leader
        ? "Leader: node " + answer.leader + " (term " + answer.term + ")"
        : "No leader known right now";
      summary.dataset.leader = answer.leader;
      document.getElementById("nodes").replaceChildren(...nodes.map((node) => card(node, answer.leader)));
      draw();
      say("Updated " + new Date(answer.ms).toLocaleTimeString());
    } catch (error) {
      say(error.message, "error");
    } finally {
      setTimeout(refresh, PERIOD_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", refresh);
})();
