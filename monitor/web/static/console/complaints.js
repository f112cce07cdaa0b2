"use strict";
// The complaint desk (投诉受理) and the 督办 queue: views of console.js (it hands each a kit of
// its helpers). Data goes into the page with textContent only, never as HTML.
(function () {
  const CHANNELS = [["phone", "电话"], ["letter", "来信"], ["visit", "来访"], ["online", "网络"], ["12345", "12345转办"]];
  const CATEGORIES = [["", "(未分类)"], ["overtime", "超期办理"], ["fees", "违规收费"], ["procedure", "程序违规"], ["disclosure", "公开不到位"], ["attitude", "服务态度"], ["other", "其他"]];
  const STATES = [["", "全部"], ["received", "已收到"], ["accepted", "已受理"], ["founded", "查实"], ["unfounded", "不属实"], ["closed", "已办结"]];
  const STEPS = { accepted: "受理", founded: "查实", unfounded: "不属实", closed: "办结(答复结果)" };

  // The steps the desk takes next, in order: 受理, then 查实 or 不属实, then 办结.
  function nextSteps(k) {
    if (!k.accepted_at) return ["accepted"];
    if (!k.decided_at) return ["founded", "unfounded"];
    if (!k.closed_at) return ["closed"];
    return [];
  }

  // At 390 px each row becomes a card: every cell says which column it is (complaints.css).
  function stacked(node) {
    const head = [...node.querySelectorAll("thead th")].map((th) => th.textContent);
    for (const tr of node.querySelectorAll("tbody tr")) [...tr.cells].forEach((td, i) => td.setAttribute("data-label", head[i] || ""));
    return node;
  }

  function localNow() {
    const d = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  function intakeForm(kit, done) {
    const { el, select, meta } = kit;
    const m = meta;
    const field = (label, node) => el("label", {}, el("span", {}, label), node);
    const msg = el("p", { id: "intake-message", role: "status" });
    const form = el(
      "form",
      { class: "intake", id: "intake" },
      el("h3", {}, "投诉登记"),
      field("来源 ", select("channel", CHANNELS, "phone")),
      field("收到时间 ", el("input", { type: "datetime-local", name: "received_at", max: localNow(), lang: "zh-CN", title: "留空：现在" })),
      field("投诉人 ", el("input", { name: "complainant_name", required: true, maxlength: 64, autocomplete: "off" })),
      field("联系电话 ", el("input", { name: "complainant_phone", type: "tel", maxlength: 32, autocomplete: "off" })),
      field("窗口 ", select("window", [["", "(不指定)"], ...m.windows.map((w) => [w.id, w.id + " " + w.name])], "")),
      field("人员 ", select("staff", [["", "(不指定)"], ...m.staff.map((s) => [s.id, s.name + "(" + s.id + ")"])], "")),
      field("办件编号 ", el("input", { name: "case", maxlength: 64, autocomplete: "off" })),
      field("类别 ", select("category", CATEGORIES, "")),
      el("label", { class: "wide" }, el("span", {}, "投诉内容 "), el("textarea", { name: "content", required: true, maxlength: 2000, rows: 3 })),
      el("button", { type: "submit", id: "intake-submit" }, "登记"),
      msg,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      for (const [k, v] of new FormData(form)) if (v) body[k] = v;
      msg.className = "";
      msg.textContent = "正在写入…";
      try {
        const r = await kit.api("/api/complaints", { method: "POST", body: JSON.stringify(body) });
        form.reset();
        done("已登记投诉 " + r.complaint + "。");
      } catch (err) {
        msg.className = "error";
        msg.textContent = String(err.message || err);
      }
    });
    return form;
  }

  function stepForm(kit, k, done) {
    const { el, select } = kit;
    const steps = nextSteps(k);
    if (!steps.length) return el("span", { class: "hint" }, "已办结");
    const form = el(
      "form",
      { class: "step", "data-complaint": k.complaint },
      select("action", steps.map((s) => [s, STEPS[s]]), steps[0]),
      el("input", { name: "text", maxlength: 2000, placeholder: "说明(查实情况、答复结果)", autocomplete: "off" }),
      el("button", { type: "submit" }, "提交"),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      try {
        const r = await kit.api("/api/complaints/step", { method: "POST", body: JSON.stringify({ complaint: k.complaint, action: data.action, text: data.text }) });
        const raised = r.cards.map((c) => c.card);
        done(k.complaint + " 已" + STEPS[data.action] + "。" + (raised.length ? "已生成卡片 " + raised.join("、") + "。" : ""), raised);
      } catch (err) {
        done(null, [], String(err.message || err));
      }
    });
    return form;
  }

  async function complaints(params, kit) {
    const { el, show, table, select, time, may, api } = kit;
    const q = new URLSearchParams(params);
    const doc = await api("/api/complaints?" + q.toString());
    const say = el("p", { id: "desk-message", role: "status" });
    const rerender = async (text, raised, error) => {
      await complaints(params, kit);
      const m = document.getElementById("desk-message");
      m.className = error ? "error" : "ok";
      m.replaceChildren(error || text || "");
      for (const c of raised || []) m.append(" ", el("a", { href: "#/card/" + encodeURIComponent(c), class: "raised-card" }, c));
    };
    const due = (at, done) => el("td", { class: !done && at && new Date(at) < new Date() ? "late" : null }, time(at));
    const writer = may("decide_cards");
    const rows = doc.complaints.map((k) =>
      el(
        "tr",
        { class: k.overdue ? "overdue" : null, "data-complaint": k.complaint },
        el("td", {}, k.complaint),
        el("td", {}, k.channel_zh || "—"),
        el("td", {}, k.complainant_name || "—", k.complainant_phone ? el("br") : null, k.complainant_phone || ""),
        el("td", {}, [k.window, k.staff_name, k.case].filter(Boolean).join(" / ") || "—"),
        el("td", { class: "content" }, k.content || "—"),
        el("td", {}, time(k.received_at)),
        due(k.accept_by, k.accepted_at),
        due(k.result_by, k.decided_at),
        due(k.handle_by, k.closed_at),
        el("td", { class: "state" }, k.state_zh, k.overdue ? el("span", { class: "badge red" }, "超期") : null),
        el("td", {}, k.owner_name || "—"),
        el("td", {}, k.cards.map((c) => el("a", { href: "#/card/" + encodeURIComponent(c.card), class: "badge " + c.level }, c.title))),
        writer ? el("td", {}, stepForm(kit, k, rerender)) : null,
      ),
    );
    const filters = el(
      "form",
      { class: "filters", id: "complaint-filters" },
      el("label", {}, "状态 ", select("state", STATES, q.get("state") || "")),
      el("label", {}, "来源 ", select("channel", [["", "全部"], ...CHANNELS], q.get("channel") || "")),
      el("label", {}, el("input", { type: "checkbox", name: "overdue", value: "1", checked: q.get("overdue") === "1" }), " 只看超期"),
      el("label", {}, "查找 ", el("input", { name: "q", value: q.get("q") || "", placeholder: "编号、投诉人、内容" })),
      el("button", { type: "submit" }, "筛选"),
    );
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, v] of new FormData(filters)) if (v) next.set(k, v);
      location.hash = "#/complaints?" + next.toString();
    });
    const head = ["编号", "来源", "投诉人", "对象", "内容", "收到", "受理期限", "答复期限", "处理期限", "状态", "承办人", "卡片"];
    if (writer) head.push("办理");
    show(
      el("h2", {}, "投诉及期限"),
      writer ? intakeForm(kit, (text) => rerender(text)) : null,
      say,
      filters,
      el("p", { class: "hint" }, "受理：收到后5个工作日内；答复：受理后10个工作日内；查实的违规：查实后1个月内处理完毕。"),
      rows.length ? el("div", { class: "scroll stack" }, stacked(table(head, rows))) : el("p", { class: "empty", id: "no-complaints" }, doc.empty_zh || "暂无投诉"),
    );
  }

  async function supervision(_params, kit) {
    const { el, show, table, time, api } = kit;
    const doc = await api("/api/supervision");
    const print = (kind, c, label) =>
      el("a", { href: "/console/notice?kind=" + kind + "&card=" + encodeURIComponent(c.card), target: "_blank", class: "print-" + kind }, label);
    const rows = doc.cards.map((c) =>
      el(
        "tr",
        { class: "level-" + c.level, "data-card": c.card },
        el("td", {}, el("a", { href: "#/card/" + encodeURIComponent(c.card) }, c.card)),
        el("td", {}, el("span", { class: "badge " + c.level }, c.level_zh), " ", c.title),
        el("td", {}, c.subject.window ? c.subject.window + " " + (c.subject.window_name || "") : "—"),
        el("td", {}, c.owner_name || "—"),
        el("td", {}, c.head_name || "未配置"),
        el("td", {}, time(c.answer_by)),
        el("td", { class: "late" }, c.days_overdue + " 天"),
        el("td", {}, c.state_zh),
        el("td", { class: "prints" }, print("urge", c, "督办通知单"), " ", print("inform", c, "告知书"), " ", print("rectify", c, "整改通知书"), " ",
          el("a", { href: "/console/notice.pdf?kind=urge&card=" + encodeURIComponent(c.card) }, "PDF")),
      ),
    );
    show(
      el("h2", {}, "督办"),
      el("p", { class: "hint" }, "逾期未申辩的卡片：按逾期时间排列；“督办通知单”发给窗口负责人，打印后签收。"),
      el("p", { id: "count" }, "共 " + doc.total + " 张"),
      rows.length
        ? el("div", { class: "scroll stack" }, stacked(table(["编号", "规则", "窗口", "责任人", "窗口负责人", "申辩期限", "逾期", "状态", "打印"], rows)))
        : el("p", { class: "empty" }, "暂无督办事项"),
    );
  }

  window.HallwatchComplaints = { complaints, supervision };
})();
