"use strict";
// The supervisor console: one page, views by location.hash, everything from the JSON API
// (/api/openapi.json). Data is put into the page with textContent only, never as HTML.
(function () {
  const view = document.getElementById("view");
  let session = null;
  let meta = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.method === "POST") {
      opts.headers["X-CSRF-Token"] = session ? session.csrf : "";
      opts.headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401) {
      location.href = "/console/login?next=" + encodeURIComponent(location.pathname + location.hash);
      throw new Error("请先登录");
    }
    const doc = await resp.json();
    if (!resp.ok) throw new Error(doc.message || "请求失败 (" + resp.status + ")");
    return doc;
  }

  const may = (p) => session && session.permissions.includes(p);
  const time = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) : "—");
  const staffName = (id) => {
    const s = meta && meta.staff.find((x) => x.id === id);
    return s ? s.name + "(" + id + ")" : id || "—";
  };

  function show(...nodes) {
    view.replaceChildren(...nodes);
  }

  function failed(err) {
    show(el("p", { class: "error", role: "alert" }, String(err.message || err)));
  }

  function table(head, rows) {
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows),
    );
  }

  // --- cards ------------------------------------------------------------------------------

  function select(name, options, value) {
    return el(
      "select",
      { name },
      options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)),
    );
  }

  // The card list, the card page, the window and officer pages: cards.js.
  const kit = () => ({ api, el, show, table, select, time, may, meta, noticeLog, download, session });

  // --- notices: who was told, and what did not go out (docs/notify.md) ----------------------

  const seconds = (iso) => (iso ? iso.replace("T", " ").slice(0, 19) : "—");
  const badge = (status, text) => el("span", { class: "notice " + status }, text);

  // What is known of one notice beyond its state: when it leaves, how often it was tried.
  function noticeDetail(n) {
    if (n.status === "waiting") return (n.channel_ok === false ? "渠道故障，" : "") + "预计 " + seconds(n.next_try) + " 发出";
    if (n.status === "failed") return "已尝试 " + n.attempts + " 次，" + seconds(n.next_try) + " 重试";
    if (n.status === "cancelled") return "卡片已先关闭，不再发送";
    if (n.status === "not_told") return n.error;
    return null;
  }

  function noticeStatus(n) {
    const detail = noticeDetail(n);
    return el(
      "td",
      {},
      badge(n.status, n.status_zh),
      detail ? el("span", { class: "hint" }, " " + detail) : null,
      n.status === "failed" && n.error ? el("div", { class: "error-text" }, "错误：" + n.error) : null,
    );
  }

  function noticeLog(c) {
    if (!c.notices.length) {
      const why = c.notify_enabled ? "" : "(本厅未配置通知渠道)";
      return el("p", { class: "hint", id: "notices-empty" }, "未发送通知" + why);
    }
    const rows = c.notices.map((n) =>
      el("tr", { class: "notice-" + n.status }, el("td", {}, time(n.sent_at || n.created_at)), el("td", {}, n.staff_name || "—"),
        el("td", {}, n.channel_zh || "—"), el("td", {}, n.title || "—"), noticeStatus(n)),
    );
    return el("div", { id: "notices" }, table(["时间", "对象", "渠道", "通知", "状态"], rows));
  }

  function channelState(ch) {
    const since = ch.ok ? null : "自 " + time(ch.failing_since) + " 起" + (ch.retry_at ? "，" + seconds(ch.retry_at) + " 重试" : "");
    return el(
      "tr",
      { class: ch.ok ? null : "notice-failed" },
      el("td", {}, ch.channel_zh + "(" + ch.channel + ")"),
      el("td", {}, badge(ch.ok ? "sent" : "failed", ch.ok ? "正常" : "发送失败"), since ? el("span", { class: "hint" }, " " + since) : null),
      el("td", {}, ch.sent),
      el("td", {}, ch.failures),
      el("td", { class: ch.ok ? null : "error-text" }, ch.ok ? "—" : ch.last_error || "—"),
    );
  }

  async function notices(params) {
    const q = new URLSearchParams(params);
    const status = q.get("status") || "unsent";
    const limit = 50;
    const offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
    const doc = await api("/api/notices?" + new URLSearchParams({ status, limit, offset }).toString());
    const pick = select("status", [["unsent", "全部未发出"], ["failed", "发送失败"], ["waiting", "待发送"]], status);
    pick.addEventListener("change", () => (location.hash = "#/notices?status=" + pick.value));
    const cardCell = (n) => el("td", {}, may("read_cards") ? el("a", { href: "#/card/" + encodeURIComponent(n.card) }, n.card) : el("code", {}, n.card));
    const rows = doc.notices.map((n) =>
      el(
        "tr",
        { class: "notice-" + n.status },
        el("td", {}, time(n.created_at)),
        cardCell(n),
        el("td", {}, n.title || "—"),
        el("td", {}, n.staff_name || "—"),
        el("td", {}, n.channel_zh || "—"),
        el("td", {}, n.attempts),
        el("td", { class: n.error ? "error-text" : null }, n.error || "—"),
        el("td", {}, seconds(n.next_try)),
        el("td", {}, badge(n.status, n.status_zh), n.status === "waiting" && n.channel_ok === false ? el("span", { class: "hint" }, " 渠道故障") : null),
      ),
    );
    const page = (at, label) => el("a", { href: "#/notices?" + new URLSearchParams({ status, offset: at }).toString() }, label);
    const last = Math.min(offset + doc.notices.length, doc.total);
    const parts = [
      el("h2", {}, "通知失败"),
      doc.notify_enabled ? null : el("p", { class: "hint" }, "本厅未配置通知渠道，不发送通知。"),
      doc.channels.length ? el("h3", {}, "渠道状态") : null,
      doc.channels.length ? table(["渠道", "状态", "已发送", "失败次数", "最后错误"], doc.channels.map(channelState)) : null,
      el("h3", {}, "未发出的通知"),
      el("p", { class: "filters" }, el("label", {}, "显示 ", pick),
        el("span", { id: "notices-count" }, doc.total ? "共 " + doc.total + " 条，第 " + (offset + 1) + "–" + last + " 条" : "没有未发出的通知")),
      el("p", { class: "hint" }, "发送失败的通知按退避间隔自动重试，不会丢失，也不会重复发送；待发送的通知在发送时段内或限频解除后发出。"),
      doc.notices.length ? table(["产生时间", "卡片", "通知", "对象", "渠道", "尝试次数", "最后错误", "下次尝试", "状态"], rows) : null,
      el("p", { class: "pager" }, offset > 0 ? page(Math.max(0, offset - limit), "上一页") : null, " ", offset + limit < doc.total ? page(offset + limit, "下一页") : null),
    ];
    show(...parts.filter(Boolean));
  }

  // --- attendance, report, audit, admin (complaints, 督办: complaints.js) ---------------

  async function attendance(params) {
    const q = new URLSearchParams(params);
    const doc = await api("/api/attendance?" + q.toString());
    const [input, today] = window.HallwatchCards.dateInput(el, "date", doc.day);
    input.addEventListener("change", () => input.checkValidity() && (location.hash = "#/attendance?date=" + input.value));
    const rows = doc.staff.map((s) =>
      el("tr", {}, el("td", {}, s.window_name), el("td", {}, s.name), el("td", {}, s.department_name),
        s.sessions.map((x) => el("td", {}, x.check_in + " / " + x.check_out + " → " + x.verdict_zh))),
    );
    show(
      el("h2", {}, "考勤日报 ", doc.day),
      el("p", {}, el("label", {}, "日期 ", input, today), " ",
        el("a", { href: "/console/attendance/sheet?date=" + doc.day, target: "_blank" }, "打印版(签字用)"), " ",
        download("/console/attendance/sheet.pdf?date=" + doc.day, "下载 PDF")),
      table(["窗口", "姓名", "部门", "上午", "下午"], rows),
    );
  }

  function report(params) {
    const q = new URLSearchParams(params);
    const now = new Date();
    const month = q.get("month") || now.getFullYear() + "-" + String(now.getMonth() + 1).padStart(2, "0");
    const [input, thisMonth] = window.HallwatchCards.dateInput(el, "month", month, true);
    input.addEventListener("change", () => input.checkValidity() && (location.hash = "#/report?month=" + input.value));
    const note = el("span", { class: "busy", role: "status" }, "生成中…");
    const frame = el("iframe", { class: "report", src: "/console/report?month=" + month, title: "月报",
      onload: () => note.remove() });
    show(
      el("h2", {}, "效能考评月报"),
      el("p", {}, el("label", {}, "月份 ", input, thisMonth), " ",
        download("/console/report.pdf?month=" + month, "下载 PDF"), " ",
        download("/console/report.xlsx?month=" + month, "下载 XLSX"), " ", note),
      frame,
    );
  }

  // A file the server renders on request (seconds for a month): a note says so until it is saved.
  function download(url, label) {
    const note = el("span", { class: "busy", role: "status" });
    const link = el("a", { href: url, onclick: async (ev) => {
      ev.preventDefault();
      note.textContent = " 生成中…";
      try {
        const resp = await fetch(url, { credentials: "same-origin" });
        if (!resp.ok) throw new Error((await resp.json()).message || "生成失败 (" + resp.status + ")");
        const name = decodeURIComponent((resp.headers.get("Content-Disposition") || "").split("''")[1] || "");
        const a = el("a", { href: URL.createObjectURL(await resp.blob()), download: name || true });
        a.click();
        URL.revokeObjectURL(a.href);
        note.textContent = "";
      } catch (err) {
        note.textContent = " " + String(err.message || err);
      }
    } }, label);
    return el("span", {}, link, note);
  }

  async function audit() {
    const doc = await api("/api/audit?limit=500");
    const via = { console: "控制台", mqtt: "MQTT", unverified: "未验证(签名不符)" };
    const rows = doc.entries.map((a) =>
      el(
        "tr",
        { class: a.result === "refused" ? "refused" : null },
        el("td", {}, time(a.received_at)),
        el("td", {}, el("a", { href: "#/card/" + encodeURIComponent(a.card) }, a.card)),
        el("td", {}, a.action_zh),
        el("td", {}, a.by_name || a.by),
        el("td", {}, a.user ? a.user + "(" + a.role + ")" : "—"),
        el("td", {}, a.client || "—"),
        el("td", {}, via[a.via]),
        el("td", {}, a.text || ""),
        el("td", {}, a.result === "refused" ? "被拒绝：" + a.refusal_zh : "已生效"),
      ),
    );
    show(el("h2", {}, "处理记录(审计)"), table(["时间", "卡片", "操作", "人员", "账号", "来源地址", "途径", "说明", "结果"], rows));
  }

  async function admin() {
    const doc = await api("/api/config");
    const message = el("p", { role: "alert" });
    const button = el("button", { type: "button" }, "重新加载配置");
    button.addEventListener("click", async () => {
      try {
        const r = await api("/api/config/reload", { method: "POST", body: "{}" });
        message.textContent = r.message;
      } catch (err) {
        message.textContent = err.message;
      }
    });
    show(el("h2", {}, "配置"), button, message, el("pre", { class: "config" }, JSON.stringify(doc, null, 2)));
  }

  // --- frame ------------------------------------------------------------------------------

  const VIEWS = [
    ["cards", "卡片", "read_cards", (q) => window.HallwatchCards.list(q, kit())],
    ["complaints", "投诉", "read_complaints", (q) => window.HallwatchComplaints.complaints(q, { api, el, show, table, select, time, may, meta })],
    ["supervision", "督办", "read_cards", (q) => window.HallwatchComplaints.supervision(q, { api, el, show, table, time })],
    ["register", "否定报备", "read_cards", (q) => window.HallwatchRegister.show(q, kit())],
    ["attendance", "考勤日报", "read_attendance", attendance],
    ["board", "值班看板", "read_attendance", (q) => window.HallwatchBoard.show(q, { api, el, show, table, view })],
    ["report", "月报", "read_report", report],
    ["audit", "审计", "read_audit", audit],
    ["notices", "通知失败", "read_audit", notices],
    ["admin", "配置", "configure", admin],
    ["system", "系统提示", "configure", (q) => window.HallwatchCards.systemCards(q, kit())],
  ];

  async function route() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    const [name, arg] = path.split("/");
    try {
      if (name === "card" && arg && may("read_cards")) return await window.HallwatchCards.card(decodeURIComponent(arg), kit());
      if ((name === "window" || name === "staff") && arg && may("read_cards")) return await window.HallwatchCards.subject(name === "window" ? "window" : "officer", decodeURIComponent(arg), kit());
      const found = VIEWS.find(([n, , p]) => n === name && may(p)) || (session.role === "leader" && VIEWS.find(([n]) => n === "board")) || VIEWS.find(([, , p]) => may(p));
      if (!found) return show(el("p", {}, "您的账号(" + session.role_zh + ")在控制台中没有可用的功能。"), el("p", {}, el("a", { href: "/display" }, "大厅显示屏")));
      await found[3](query || "");
    } catch (err) {
      failed(err);
    }
  }

  async function start() {
    try {
      session = await api("/api/session");
      meta = await api("/api/meta");
    } catch (err) {
      return failed(err);
    }
    document.getElementById("hall").textContent = session.hall + " · 电子监察";
    document.getElementById("user").textContent = session.user + "(" + session.role_zh + ")";
    document.getElementById("nav").replaceChildren(
      ...VIEWS.filter(([, , p]) => may(p)).map(([n, label]) => el("a", { href: "#/" + n }, label)),
    );
    document.getElementById("logout").addEventListener("click", async () => {
      try {
        await api("/api/logout", { method: "POST", body: "{}" });
      } finally {
        location.href = "/console/login";
      }
    });
    window.addEventListener("hashchange", route);
    route();
    window.HallwatchCards.watch(kit()); // the live feed: the list refreshes, new reds are told
  }

  start();
})();
