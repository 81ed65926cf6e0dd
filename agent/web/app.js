// The Autodidact agent's page: polls the JSON API every two seconds with the admin token and
// redraws what changed. Data is only ever inserted as text (never as HTML), so a customer's
// message cannot run script here.
"use strict";
(() => {
  const POLL_MS = 2000;
  const TOKEN_KEY = "autodidact-admin-token";
  const $ = (sel, root = document) => root.querySelector(sel);
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let timer = null;
  let activeIntents = [];
  let events = [];
  const charts = {};

  // ---- small helpers ----
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(c);
    }
    return node;
  }
  const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + " %");
  const num = (x, d = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
  const time = (ms) => new Date(ms).toLocaleString();

  function describe(status, body) {
    if (status === 401) return "The admin token was refused (HTTP 401). Check it and enter it again.";
    if (status === 403) return "That is a client token; this page needs the admin token (HTTP 403).";
    if (body && body.error) {
      return body.error + (body.field ? " (field: " + body.field + ")" : "") + " — HTTP " + status;
    }
    return "The agent answered HTTP " + status + ".";
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      const err = new Error("The agent cannot be reached (" + e.message + "). Retrying.");
      err.status = 0;
      throw err;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const err = new Error(describe(response.status, data));
      err.status = response.status;
      throw err;
    }
    return data;
  }

  function showError(message) {
    const box = $("#error");
    box.textContent = message;
    box.hidden = false;
  }
  function clearError() {
    const box = $("#error");
    box.textContent = "";
    box.hidden = true;
  }

  // A form's own message line (role=alert), so its errors outlive the next refresh.
  function formNote(form, message, ok) {
    let note = form.querySelector(".note");
    if (!note) {
      note = el("p", { class: "note", role: "alert" });
      form.append(note);
    }
    note.textContent = message;
    note.className = "note " + (ok ? "done" : "wrong");
  }

  // Replaces only the rows whose data changed, and never a row the operator is using, so a
  // refresh does not steal focus or discard a half-chosen correction.
  function syncRows(tbody, items, keyOf, build) {
    const current = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
    const rows = items.map((item) => {
      const key = String(keyOf(item));
      const sig = JSON.stringify(item) + "|" + activeIntents.join(",");
      let row = current.get(key);
      // A row is busy while the operator edits in it or has a field in it focused (a focused
      // button does not count: it is what they just pressed).
      const field = document.activeElement;
      const busy =
        row &&
        (row.dataset.editing === "1" ||
          (row.contains(field) && ["INPUT", "SELECT", "TEXTAREA"].includes(field.tagName)));
      if (!row || (row.dataset.sig !== sig && !busy)) {
        const fresh = build(item);
        fresh.dataset.key = key;
        fresh.dataset.sig = sig;
        if (row) row.replaceWith(fresh);
        row = fresh;
      }
      current.delete(key);
      return row;
    });
    for (const r of current.values()) r.remove();
    // Insert only where the order differs: moving a row would blur a control inside it.
    rows.forEach((row, i) => {
      if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] || null);
    });
  }

  // ---- stats and charts ----
  function renderStats(stats) {
    $("#stat-accuracy").textContent = pct(stats.accuracy.last_100);
    $("#stat-handoff").textContent = pct(stats.handoff_rate.last_100);
    $("#stat-reward").textContent = num(stats.mean_reward.last_100);
    $("#stat-messages").textContent = String(stats.messages);
    $("#stat-feedback").textContent = String(stats.feedback);
    $("#stat-model").textContent = "v" + stats.model_version;
  }

  const EVENT_COLOURS = { bootstrap: "#1a7f37", accepted: "#1a7f37", refused: "#b42318", rollback: "#0b5cad" };

  // Draws each model event as a dashed vertical line labelled with its version.
  const eventLines = {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.font = Math.round(11 * devicePixelRatio) + "px system-ui, sans-serif";
          for (const ev of events) {
            const x = Math.round(u.valToPos(ev.created_ms / 1000, "x", true));
            if (!(x >= left && x <= left + width)) continue;
            ctx.strokeStyle = EVENT_COLOURS[ev.event] || "#57606a";
            ctx.fillStyle = ctx.strokeStyle;
            ctx.setLineDash([5, 4]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillText("v" + ev.version + (ev.event === "refused" ? " ✗" : ""), x + 3, top + 12 * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };

  function chart(id, series, scales, axes) {
    const box = document.getElementById(id);
    const opts = {
      width: Math.max(box.clientWidth, 280),
      height: 240,
      scales: Object.assign({ x: { time: true } }, scales),
      series: [{}].concat(series),
      axes: [{}].concat(axes),
      legend: { live: false },
      plugins: [eventLines],
    };
    const data = [[]].concat(series.map(() => []));
    const u = new uPlot(opts, data, box);
    new ResizeObserver(() => u.setSize({ width: Math.max(box.clientWidth, 280), height: 240 })).observe(box);
    return u;
  }

  function renderCharts(tl) {
    if (typeof uPlot === "undefined") return;
    events = tl.events;
    if (!charts.accuracy) {
      // Wide enough for "100 %".
      const unit = { scale: "%", size: 60, values: (u, v) => v.map((x) => x + " %") };
      charts.accuracy = chart(
        "chart-accuracy",
        [
          // Points too, so a curve of a single observation still shows.
          { label: "All intents", stroke: "#1b1f24", width: 2, scale: "%", points: { show: true, size: 5 } },
          { label: "Oldest intents", stroke: "#0b5cad", width: 2, scale: "%" },
          { label: "Newest intents", stroke: "#c2410c", width: 2, scale: "%" },
        ],
        { "%": { range: [0, 100] } },
        [unit],
      );
      charts.policy = chart(
        "chart-policy",
        [
          { label: "Hand-off rate", stroke: "#6d28d9", width: 2, scale: "%" },
          { label: "Mean reward", stroke: "#1a7f37", width: 2, scale: "reward" },
        ],
        { "%": { range: [0, 100] }, reward: { auto: true } },
        [unit, { scale: "reward", side: 1, grid: { show: false } }],
      );
    }
    const xs = tl.points.map((p) => p.t_ms / 1000);
    const p100 = (k) => tl.points.map((p) => (p[k] === null ? null : 100 * p[k]));
    charts.accuracy.setData([xs, p100("accuracy"), p100("accuracy_oldest"), p100("accuracy_newest")]);
    charts.policy.setData([xs, p100("handoff_rate"), tl.points.map((p) => p.mean_reward)]);

    const list = $("#events");
    list.replaceChildren(
      ...tl.events
        .slice(-50)
        .reverse()
        .map((e) =>
          el("li", {
            class: e.event,
            text: time(e.created_ms) + " — v" + e.version + " " + e.event + (e.detail ? ": " + e.detail : ""),
          }),
        ),
    );
  }

  // ---- conversations ----
  async function sendFeedback(id, body, cell) {
    try {
      await api("POST", "/v1/messages/" + id + "/feedback", body);
      await refresh();
    } catch (e) {
      cell.querySelector(".note")?.remove();
      cell.append(el("p", { class: "note wrong", role: "alert", text: e.message }));
    }
  }

  function feedbackCell(m) {
    const cell = el("td", { class: "feedback" });
    if (m.resolved !== null && m.resolved !== undefined) {
      if (m.correct_intent && m.correct_intent !== m.intent) {
        cell.append(el("span", { class: "wrong", text: "wrong → " + m.correct_intent }));
      } else if (m.correct_intent || m.resolved) {
        cell.append(el("span", { class: "done", text: m.resolved ? "resolved ✓" : "right, not resolved" }));
      } else {
        cell.append(el("span", { class: "wrong", text: "not resolved" }));
      }
      return cell;
    }
    const selectId = "fix-" + m.id;
    const select = el(
      "select",
      { id: selectId, class: "fix" },
      el("option", { value: "", text: "right intent unknown" }),
      ...activeIntents.filter((n) => n !== m.intent).map((n) => el("option", { value: n, text: n })),
    );
    cell.append(
      el(
        "div",
        { class: "row-actions" },
        el("button", {
          type: "button",
          class: "resolved",
          text: "Resolved",
          onclick: () => sendFeedback(m.id, { resolved: true }, cell),
        }),
        el("label", { for: selectId, class: "visually-hidden", text: "Right intent for message " + m.id }),
        select,
        el("button", {
          type: "button",
          class: "secondary wrong-button",
          text: "Wrong",
          onclick: () => {
            const body = { resolved: false };
            if (select.value) body.correct_intent = select.value;
            sendFeedback(m.id, body, cell);
          },
        }),
      ),
    );
    return cell;
  }

  function renderConversations(messages) {
    syncRows($("#conversations tbody"), messages, (m) => m.id, (m) =>
      el(
        "tr",
        { "data-id": m.id },
        el("td", { class: "num", text: String(m.id) }),
        el("td", { class: "message-text", text: m.text }),
        el("td", { class: "intent", text: m.intent }),
        el("td", { class: "num", text: pct(m.confidence) }),
        el("td", { class: "action", text: m.action }),
        el("td", { class: "answer-text", text: m.answer }),
        feedbackCell(m),
      ),
    );
  }

  // ---- intents ----
  function answerCell(it) {
    const cell = el("td", { class: "answer-text" });
    const text = el("span", { text: it.answer });
    cell.append(text);
    return cell;
  }

  function editAnswer(row, it) {
    const cell = row.querySelector(".answer-text");
    const id = "answer-" + it.name;
    row.dataset.editing = "1";
    const area = el("textarea", { id, rows: 3 });
    area.value = it.answer;
    const form = el(
      "form",
      { class: "stack" },
      el("label", { for: id, text: "New answer for " + it.name }),
      area,
      el(
        "div",
        { class: "row-actions" },
        el("button", { type: "submit", text: "Save" }),
        el("button", {
          type: "button",
          class: "secondary",
          text: "Cancel",
          onclick: () => {
            row.dataset.editing = "";
            refresh();
          },
        }),
      ),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("PUT", "/v1/intents/" + encodeURIComponent(it.name), { answer: area.value });
        row.dataset.editing = "";
        row.dataset.sig = "";
        await refresh();
      } catch (e) {
        formNote(form, e.message, false);
      }
    });
    cell.replaceChildren(form);
    area.focus();
  }

  function renderIntents(intents) {
    activeIntents = intents.filter((i) => i.active).map((i) => i.name);
    syncRows($("#intents tbody"), intents, (i) => i.name, (it) => {
      const row = el("tr", { "data-name": it.name });
      const actions = el("div", { class: "row-actions" });
      if (it.active) {
        actions.append(
          el("button", { type: "button", class: "secondary", text: "Edit answer", onclick: () => editAnswer(row, it) }),
          el("button", {
            type: "button",
            class: "secondary retire",
            text: "Retire",
            onclick: async () => {
              if (!window.confirm("Retire " + it.name + "? It will no longer be predicted.")) return;
              try {
                await api("PUT", "/v1/intents/" + encodeURIComponent(it.name), { active: false });
                await refresh();
              } catch (e) {
                showError(e.message);
              }
            },
          }),
        );
      }
      const acc = it.recent_accuracy === null ? "—" : pct(it.recent_accuracy) + " of " + it.recent_feedback;
      row.append(
        el("td", { class: it.active ? "name" : "name retired", text: it.name + (it.active ? "" : " (retired)") }),
        el("td", { class: "num examples", text: String(it.examples) }),
        el("td", { class: "num accuracy", text: acc }),
        answerCell(it),
        el("td", {}, actions),
      );
      return row;
    });
  }

  // ---- models ----
  function perIntent(metrics) {
    const per = metrics && metrics.held_out && metrics.held_out.per_intent;
    if (!per || Object.keys(per).length === 0) return document.createTextNode("—");
    const rows = Object.entries(per).map(([name, s]) =>
      el(
        "tr",
        {},
        el("th", { scope: "row", text: name }),
        el("td", { class: "num", text: pct(s.before) }),
        el("td", { class: "num", text: pct(s.after) }),
        el("td", { class: "num", text: String(s.held_out) }),
      ),
    );
    return el(
      "details",
      {},
      el("summary", { text: Object.keys(per).length + " intents" }),
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["Intent", "Before", "After", "Held out"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...rows),
      ),
    );
  }

  function renderModels(models) {
    const list = [...models.versions].reverse();
    syncRows($("#models tbody"), list, (v) => v.version, (v) => {
      const held = v.metrics && v.metrics.held_out;
      const actions = el("div", { class: "row-actions" });
      if (v.status === "accepted" && !v.served) {
        actions.append(
          el("button", {
            type: "button",
            class: "secondary",
            text: "Roll back to v" + v.version,
            onclick: async () => {
              try {
                await api("POST", "/v1/admin/rollback", { version: v.version });
                await refresh();
              } catch (e) {
                showError(e.message);
              }
            },
          }),
        );
      }
      const status = v.status + (v.served ? " (served)" : "") + (v.reason ? ": " + v.reason : "");
      return el(
        "tr",
        { "data-version": v.version },
        el("td", { class: "num", text: "v" + v.version }),
        el("td", { class: v.status === "refused" ? "wrong" : v.served ? "done" : "", text: status }),
        el("td", { text: time(v.created_ms) }),
        el("td", { class: "num", text: held ? pct(held.before) + " → " + pct(held.after) : "—" }),
        el("td", {}, perIntent(v.metrics)),
        el("td", {}, actions),
      );
    });
  }

  // ---- the loop ----
  async function refresh() {
    if (!token) return;
    try {
      const [stats, tl, messages, intents, models] = await Promise.all([
        api("GET", "/v1/stats"),
        api("GET", "/v1/admin/timeline?points=120&window=100"),
        api("GET", "/v1/admin/messages?limit=50"),
        api("GET", "/v1/intents"),
        api("GET", "/v1/admin/models"),
      ]);
      clearError();
      renderIntents(intents);
      renderStats(stats);
      renderCharts(tl);
      renderConversations(messages);
      renderModels(models);
      $("#status").textContent = "Updated " + new Date().toLocaleTimeString() + "; refreshing every " + POLL_MS / 1000 + " s.";
    } catch (e) {
      showError(e.message);
      if (e.status === 401 || e.status === 403) {
        stop();
        sessionStorage.removeItem(TOKEN_KEY);
        token = "";
        $("#status").textContent = "Not connected: enter the admin token.";
      }
    }
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  function start() {
    stop();
    refresh();
    timer = setInterval(refresh, POLL_MS);
  }

  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("#token");
    token = input.value.trim();
    input.value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("#status").textContent = "Connecting…";
    start();
  });

  $("#forget").addEventListener("click", () => {
    stop();
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    clearError();
    $("#status").textContent = "Token forgotten. Enter the admin token to start.";
  });

  $("#add-intent").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const name = $("#new-name").value.trim();
    const examples = $("#new-examples")
      .value.split("\n")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const answer = $("#new-answer").value.trim();
    if (!token) {
      formNote(form, "Enter the admin token first.", false);
      return;
    }
    try {
      const made = await api("POST", "/v1/intents", { name, examples, answer });
      formNote(form, "Added " + made.name + " with " + made.examples + " examples.", true);
      form.reset();
      await refresh();
    } catch (e) {
      formNote(form, e.message, false);
    }
  });

  if (token) start();
})();
