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

  async function cards(params) {
    const q = new URLSearchParams(params);
    const form = el(
      "form",
      { class: "filters", id: "filters" },
      el("label", {}, "级别 ", select("level", [["", "全部"], ["yellow", "黄牌"], ["red", "红牌"]], q.get("level") || "")),
      el("label", {}, "规则 ", select("rule", [["", "全部"], ...meta.rules.map((r) => [r.id, r.title])], q.get("rule") || "")),
      el("label", {}, "窗口 ", select("window", [["", "全部"], ...meta.windows.map((w) => [w.id, w.id + " " + w.name])], q.get("window") || "")),
      el("label", {}, "人员 ", select("staff", [["", "全部"], ...meta.staff.map((s) => [s.id, s.name + "(" + s.id + ")"])], q.get("staff") || "")),
      el("label", {}, "日期 ", el("input", { type: "date", name: "day", value: q.get("day") || "" })),
      el(
        "label",
        {},
        "状态 ",
        select(
          "state",
          [["open", "未关闭"], ["all", "全部"], ["raised", "已亮牌"], ["escalated", "逾期未申辩"], ["answered", "已申辩"], ["upheld", "已维持"], ["revoked", "已撤销"], ["closed", "已关闭"]],
          q.get("state") || "open",
        ),
      ),
      el("label", { title: "作废：迟到的证据表明条件从未成立，不是对任何人的认定" }, el("input", { type: "checkbox", name: "include_voided", value: "1", checked: q.get("include_voided") === "1" }), " 包括作废"),
      el("button", { type: "submit" }, "筛选"),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
      location.hash = "#/cards?" + next.toString();
    });
    const doc = await api("/api/cards?" + q.toString());
    const rows = doc.cards.map((c) =>
      el(
        "tr",
        { class: c.voided ? "voided" : "level-" + c.level },
        el("td", {}, el("a", { href: "#/card/" + encodeURIComponent(c.card) }, c.card)),
        el("td", {}, el("span", { class: "badge " + (c.voided ? "void" : c.level) }, c.level_zh)),
        el("td", {}, c.title),
        el("td", {}, c.subject.window ? c.subject.window + " " + (c.subject.window_name || "") : "—"),
        el("td", {}, c.subject.staff_name || "—"),
        el("td", {}, c.subject.case || "—"),
        el("td", {}, time(c.raised_at)),
        stateCell(c),
        el("td", {}, c.voided ? "—" : time(c.answer_by)),
      ),
    );
    const voids = doc.cards.filter((c) => c.voided).length;
    show(
      el("h2", {}, "卡片"),
      form,
      el("p", { id: "count" }, "共 " + doc.total + " 张" + (voids ? "(本页含作废 " + voids + " 张，不计入考评)" : "")),
      table(["编号", "级别", "规则", "窗口", "人员", "办件", "亮牌时间", "状态", "申辩期限"], rows),
    );
  }

  // A voided card is not a closed one: late evidence showed its condition never held.
  function stateText(c) {
    return c.voided ? "作废" : c.state_zh + (c.holds ? "" : "(条件已结束)");
  }

  function stateCell(c) {
    if (!c.voided) return el("td", {}, stateText(c));
    return el("td", {}, el("span", { class: "badge void" }, "作废"), " ", el("span", { class: "hint" }, c.void_reason + "（" + time(c.voided_at) + " 作废，不计入考评）"));
  }

  async function card(id) {
    const c = await api("/api/cards/" + encodeURIComponent(id));
    const history = c.history.map((t) =>
      el("tr", {}, el("td", {}, time(t.ts)), el("td", {}, t.state_zh), el("td", {}, t.reason_zh), el("td", {}, t.by_name || "—"), el("td", {}, t.text || "")),
    );
    const evidence = c.evidence.map((e) =>
      el("tr", {}, el("td", {}, e.seq), el("td", {}, e.kind), el("td", {}, time(e.ts)), el("td", {}, el("code", {}, e.id)), el("td", {}, el("pre", {}, JSON.stringify(e.payload, null, 1)))),
    );
    const parts = [
      el("h2", {}, el("span", { class: "badge " + c.level }, c.level_zh), " ", c.title, " ", el("code", {}, c.card)),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "状态"), el("dd", { id: "card-state" }, stateText(c)),
        c.voided ? [el("dt", {}, "作废原因"), el("dd", { id: "void-reason" }, c.void_reason + "（" + time(c.voided_at) + " 作废，不计入考评、日报和月报）")] : null,
        el("dt", {}, "窗口"), el("dd", {}, c.subject.window ? c.subject.window + " " + (c.subject.window_name || "") : "—"),
        el("dt", {}, "人员"), el("dd", {}, c.subject.staff_name || "—"),
        el("dt", {}, "办件"), el("dd", {}, c.subject.case || "—"),
        el("dt", {}, "责任人"), el("dd", {}, c.owner_name || "—"),
        el("dt", {}, "亮牌时间"), el("dd", {}, time(c.raised_at)),
        el("dt", {}, "申辩期限"), el("dd", {}, time(c.answer_by)),
        el("dt", {}, "依据"), el("dd", {}, c.source),
      ),
      el("h3", {}, "经过"),
      table(["时间", "状态", "原因", "处理人", "说明"], history),
      el("h3", {}, "通知记录"),
      noticeLog(c),
      el("h3", {}, "证据事件"),
      table(["序号", "类型", "时间", "编号", "内容"], evidence),
    ];
    if (c.evidence_missing.length) parts.push(el("p", {}, "日志中未找到：" + c.evidence_missing.join(", ")));
    if (c.voided) parts.push(el("p", { class: "hint", id: "void-note" }, "此牌已作废，无需申辩或处理。"));
    else if (may("decide_cards")) parts.push(decisionForm(c));
    show(...parts);
  }

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

  function decisionForm(c) {
    const message = el("p", { id: "decision-message", role: "alert" });
    const text = el("textarea", { name: "text", id: "decision-text", required: true, maxlength: "2000", rows: "3" });
    const form = el(
      "form",
      { id: "decision", class: "decision" },
      el("h3", {}, "处理"),
      el(
        "label",
        {},
        "操作 ",
        select("action", [["answer", "录入申辩(陈述申辩)"], ["uphold", "维持"], ["revoke", "撤销"]], "answer"),
      ),
      el("label", {}, "说明(必填) ", text),
      el("button", { type: "submit" }, "提交"),
      message,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      message.className = "";
      message.textContent = "提交中…";
      const data = new FormData(form);
      try {
        await api("/api/cards/" + encodeURIComponent(c.card) + "/decision", {
          method: "POST",
          body: JSON.stringify({ action: data.get("action"), text: data.get("text") }),
        });
        await card(c.card);
        const done = document.getElementById("decision-message");
        done.className = "ok";
        done.textContent = "已记录。";
      } catch (err) {
        message.className = "error";
        message.textContent = err.message;
      }
    });
    return form;
  }

  // --- complaints, attendance, report, audit, admin ----------------------------------------

  async function complaints() {
    const doc = await api("/api/complaints");
    const due = (at, done) => el("td", { class: !done && at && new Date(at) < new Date() ? "late" : null }, time(at));
    const rows = doc.complaints.map((k) =>
      el(
        "tr",
        { class: k.overdue ? "overdue" : null },
        el("td", {}, k.complaint),
        el("td", {}, k.state_zh),
        el("td", {}, [k.window, k.staff_name, k.case].filter(Boolean).join(" / ") || "—"),
        el("td", {}, time(k.received_at)),
        due(k.accept_by, k.accepted_at),
        due(k.result_by, k.decided_at),
        due(k.handle_by, k.closed_at),
        el("td", {}, k.overdue ? "超期" : "正常"),
        el("td", {}, k.cards.map((c) => el("a", { href: "#/card/" + encodeURIComponent(c.card), class: "badge " + c.level }, c.title))),
      ),
    );
    show(
      el("h2", {}, "投诉及期限"),
      el("p", { class: "hint" }, "受理：收到后5个工作日内；答复：受理后10个工作日内；查实的违规：查实后1个月内处理完毕。"),
      table(["编号", "状态", "对象", "收到", "受理期限", "答复期限", "处理期限", "是否超期", "卡片"], rows),
    );
  }

  async function attendance(params) {
    const q = new URLSearchParams(params);
    const doc = await api("/api/attendance?" + q.toString());
    const input = el("input", { type: "date", name: "date", value: doc.day });
    input.addEventListener("change", () => (location.hash = "#/attendance?date=" + input.value));
    const rows = doc.staff.map((s) =>
      el("tr", {}, el("td", {}, s.staff), el("td", {}, s.name), el("td", {}, s.department),
        s.sessions.map((x) => el("td", {}, x.check_in + " / " + x.check_out + " → " + x.verdict_zh))),
    );
    show(
      el("h2", {}, "考勤日报 ", doc.day),
      el("p", {}, el("label", {}, "日期 ", input), " ",
        el("a", { href: "/console/attendance/sheet?date=" + doc.day, target: "_blank" }, "打印版(签字用)"), " ",
        download("/console/attendance/sheet.pdf?date=" + doc.day, "下载 PDF")),
      table(["工号", "姓名", "部门", "上午", "下午"], rows),
    );
  }

  function report(params) {
    const q = new URLSearchParams(params);
    const now = new Date();
    const month = q.get("month") || now.getFullYear() + "-" + String(now.getMonth() + 1).padStart(2, "0");
    const input = el("input", { type: "month", value: month });
    input.addEventListener("change", () => (location.hash = "#/report?month=" + input.value));
    const note = el("span", { class: "busy", role: "status" }, "生成中…");
    const frame = el("iframe", { class: "report", src: "/console/report?month=" + month, title: "月报",
      onload: () => note.remove() });
    show(
      el("h2", {}, "效能考评月报"),
      el("p", {}, el("label", {}, "月份 ", input), " ",
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
    ["cards", "卡片", "read_cards", cards],
    ["complaints", "投诉", "read_complaints", complaints],
    ["attendance", "考勤日报", "read_attendance", attendance],
    ["report", "月报", "read_report", report],
    ["audit", "审计", "read_audit", audit],
    ["notices", "通知失败", "read_audit", notices],
    ["admin", "配置", "configure", admin],
  ];

  async function route() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    const [name, arg] = path.split("/");
    try {
      if (name === "card" && arg && may("read_cards")) return await card(decodeURIComponent(arg));
      const found = VIEWS.find(([n, , p]) => n === name && may(p)) || VIEWS.find(([, , p]) => may(p));
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
  }

  start();
})();
