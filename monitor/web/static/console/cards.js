"use strict";
// The card list, the card page, the window and officer pages, the admin's system cards, the
// live feed (/console/cards/events) with its optional sound or desktop notice for new reds, and
// zh-CN date and month inputs. console.js calls in with its helpers `h` ({api, el, show,
// table, select, time, may, meta, noticeLog, download, session}). textContent only, never HTML.
(function () {
  const PAGE_SIZES = [50, 100, 200];
  const SHOWN = 15; // open cards on a window's or an officer's page (the rest: the list)
  const STATES = [["open", "未关闭"], ["pending", "待处理"], ["all", "全部"], ["raised", "已亮牌"], ["escalated", "逾期未申辩"], ["answered", "已申辩"], ["upheld", "已维持"], ["revoked", "已撤销"], ["closed", "已关闭"]];
  const STATE_ZH = Object.fromEntries(STATES);
  const COLUMNS = [["card", "编号"], ["level", "级别"], ["rule", "规则"], ["window", "窗口"], ["staff", "人员"], ["case", "办件"], ["raised_at", "亮牌时间"], ["state", "状态"], ["answer_by", "申辩期限"]];
  const ENDED = "条件已结束：引起亮牌的情况已不存在(如已办结、已到岗)，但这张牌尚待申辩或决定，不会自动消失。";

  // --- zh-CN date and month inputs: text with a pattern, not the browser's English picker ---

  function dateInput(el, name, value, month) {
    const pattern = month ? "\\d{4}-\\d{2}" : "\\d{4}-\\d{2}-\\d{2}";
    const input = el("input", { type: "text", name, value: value || "", lang: "zh-CN", inputmode: "numeric", pattern, size: month ? "8" : "11",
      placeholder: month ? "年-月" : "年-月-日", title: month ? "月份：年-月" : "日期：年-月-日", class: "zh-date" });
    const today = el("a", { href: "#", role: "button", class: "small", onclick: (ev) => {
      ev.preventDefault();
      const d = new Date();
      const ym = d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
      input.value = month ? ym : ym + "-" + String(d.getDate()).padStart(2, "0");
      input.dispatchEvent(new Event("change", { bubbles: true }));
    } }, month ? "本月" : "今天");
    return [input, today];
  }

  // --- the live feed and the notice of new reds -------------------------------------------

  let feed = null;
  const listeners = new Set();
  const alertOn = () => localStorage.getItem("hallwatch.redAlert") || "off"; // off | sound | desktop

  function watch(h) {
    if (feed || !h.may("read_cards") || !window.EventSource) return;
    feed = new EventSource("/console/cards/events");
    feed.addEventListener("cards", (ev) => {
      const doc = JSON.parse(ev.data);
      for (const fn of listeners) fn(doc);
      if (doc.reds && doc.reds.length) tellReds(doc.reds);
    });
  }

  function beep() {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch (_err) { /* no audio: the list still shows it */ }
  }

  function tellReds(reds) {
    const mode = alertOn();
    window.hallwatchLastReds = reds;
    if (mode === "sound") beep();
    if (mode === "desktop" && window.Notification && Notification.permission === "granted") {
      const c = reds[0];
      new Notification("新红牌 " + reds.length + " 张", { body: c.title + " " + (c.subject.staff_name || c.subject.window_name || "") + " " + c.card, tag: "hallwatch-red" });
    }
  }

  function alertChooser(h) {
    const pick = h.select("red_alert", [["off", "新红牌不提醒"], ["sound", "新红牌响铃"], ["desktop", "新红牌桌面通知"]], alertOn());
    pick.id = "red-alert";
    pick.addEventListener("change", async () => {
      if (pick.value === "desktop" && window.Notification && Notification.permission !== "granted") await Notification.requestPermission();
      localStorage.setItem("hallwatch.redAlert", pick.value);
    });
    return h.el("label", { class: "no-print" }, pick);
  }

  // --- the list ---------------------------------------------------------------------------

  function countChips(h, doc, q) {
    const chip = (key, value, label, n) => {
      const next = new URLSearchParams(q);
      next.set(key, value);
      next.delete("offset");
      return h.el("a", { class: "chip " + (key === "level" ? value : ""), href: "#/cards?" + next.toString() }, label + " " + n);
    };
    const c = doc.counts;
    const rules = Object.entries(c.rule).sort((a, b) => b[1] - a[1]);
    const title = (id) => (h.meta.rules.find((r) => r.id === id) || { title: id }).title;
    return h.el("div", { class: "counts", id: "counts" },
      h.el("span", {}, "级别："), c.level.red ? chip("level", "red", "红牌", c.level.red) : null, c.level.yellow ? chip("level", "yellow", "黄牌", c.level.yellow) : null,
      h.el("span", {}, " 状态："), Object.entries(c.state).map(([s, n]) => chip("state", s, STATE_ZH[s] || s, n)),
      h.el("details", { class: "rules" }, h.el("summary", {}, "按规则(" + rules.length + " 类)"), rules.map(([r, n]) => chip("rule", r, title(r), n))));
  }

  function stateText(c) {
    return c.voided ? "作废" : c.state_zh + (c.holds ? "" : "(条件已结束)");
  }

  function stateCell(h, c) {
    if (c.voided) return h.el("td", { "data-label": "状态" }, h.el("span", { class: "badge void" }, "作废"), " ", h.el("span", { class: "hint" }, c.void_reason + "（" + h.time(c.voided_at) + " 作废，不计入考评）"));
    return h.el("td", { "data-label": "状态", title: c.holds ? null : ENDED }, stateText(c));
  }

  function cardRow(h, c) {
    const win = c.subject.window ? h.el("a", { href: "#/window/" + encodeURIComponent(c.subject.window) }, c.subject.window + " " + (c.subject.window_name || "")) : "—";
    const who = c.subject.staff ? h.el("a", { href: "#/staff/" + encodeURIComponent(c.subject.staff) }, c.subject.staff_name || c.subject.staff) : "—";
    const kase = c.subject.case ? h.el("a", { href: "#/cards?" + new URLSearchParams({ q: c.subject.case, state: "all" }).toString() }, c.subject.case) : "—";
    return h.el("tr", { class: c.voided ? "voided" : "level-" + c.level },
      h.el("td", { "data-label": "编号" }, h.el("a", { href: "#/card/" + encodeURIComponent(c.card) }, c.card)),
      h.el("td", { "data-label": "级别" }, h.el("span", { class: "badge " + (c.voided ? "void" : c.level) }, c.level_zh)),
      h.el("td", { "data-label": "规则" }, c.title),
      h.el("td", { "data-label": "窗口" }, win),
      h.el("td", { "data-label": "人员" }, who),
      h.el("td", { "data-label": "办件" }, kase),
      h.el("td", { "data-label": "亮牌" }, h.time(c.raised_at)),
      stateCell(h, c),
      h.el("td", { "data-label": "申辩期限" }, c.voided ? "—" : h.time(c.answer_by)));
  }

  async function list(params, h) {
    const q = new URLSearchParams(params);
    const limit = parseInt(q.get("limit") || "100", 10);
    const offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
    const sort = q.get("sort") || "raised_at";
    const order = q.get("order") || "desc";
    const [day, today] = dateInput(h.el, "day", q.get("day"));
    const form = h.el("form", { class: "filters", id: "filters" },
      h.el("label", {}, "级别 ", h.select("level", [["", "全部"], ["yellow", "黄牌"], ["red", "红牌"]], q.get("level") || "")),
      h.el("label", {}, "规则 ", h.select("rule", [["", "全部"], ...h.meta.rules.map((r) => [r.id, r.title])], q.get("rule") || "")),
      h.el("label", {}, "窗口 ", h.select("window", [["", "全部"], ...h.meta.windows.map((w) => [w.id, w.id + " " + w.name])], q.get("window") || "")),
      h.el("label", {}, "人员 ", h.select("staff", [["", "全部"], ...h.meta.staff.map((s) => [s.id, s.name + "(" + s.id + ")"])], q.get("staff") || "")),
      h.el("label", {}, "日期 ", day, today),
      h.el("label", {}, "状态 ", h.select("state", STATES, q.get("state") || "open")),
      h.el("label", { title: "作废：迟到的证据表明条件从未成立，不是对任何人的认定" }, h.el("input", { type: "checkbox", name: "include_voided", value: "1", checked: q.get("include_voided") === "1" }), " 包括作废"),
      h.el("label", {}, "搜索 ", h.el("input", { type: "search", name: "q", id: "search", value: q.get("q") || "", placeholder: "办件编号、人员、窗口", size: "16" })),
      h.el("button", { type: "submit" }, "筛选"),
      h.el("input", { type: "hidden", name: "sort", value: sort }),
      h.el("input", { type: "hidden", name: "order", value: order }),
      h.el("input", { type: "hidden", name: "limit", value: String(limit) }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v && !(k === "sort" && v === "raised_at") && !(k === "order" && v === "desc") && !(k === "limit" && v === "100")) next.set(k, v);
      location.hash = "#/cards?" + next.toString();
    });
    const api = new URLSearchParams(q);
    api.set("limit", String(limit));
    const doc = await h.api("/api/cards?" + api.toString());
    const exportQuery = new URLSearchParams(q);
    exportQuery.delete("limit");
    exportQuery.delete("offset");
    const head = COLUMNS.map(([key, label]) => {
      const next = new URLSearchParams(q);
      next.set("sort", key);
      next.set("order", sort === key && order === "desc" ? "asc" : "desc");
      next.delete("offset");
      const mark = sort === key ? (order === "desc" ? " ▼" : " ▲") : "";
      return h.el("th", { "aria-sort": sort === key ? (order === "desc" ? "descending" : "ascending") : null }, h.el("a", { href: "#/cards?" + next.toString(), class: "sort" }, label + mark));
    });
    const page = (at, label) => {
      const next = new URLSearchParams(q);
      next.set("offset", String(at));
      return h.el("a", { href: "#/cards?" + next.toString(), class: "page-link" }, label);
    };
    const pages = Math.max(1, Math.ceil(doc.total / limit));
    const at = Math.floor(offset / limit) + 1;
    const sizes = h.select("limit", PAGE_SIZES.map((n) => [String(n), "每页 " + n + " 张"]), String(limit));
    sizes.addEventListener("change", () => {
      const next = new URLSearchParams(q);
      next.set("limit", sizes.value);
      next.delete("offset");
      location.hash = "#/cards?" + next.toString();
    });
    const voids = doc.cards.filter((c) => c.voided).length;
    const printed = new Date().toLocaleString("zh-CN", { hour12: false });
    const pager = h.el("p", { class: "pager", id: "pager" },
      offset > 0 ? page(Math.max(0, offset - limit), "上一页") : null,
      h.el("span", { id: "page-at" }, "第 " + at + " / " + pages + " 页"),
      offset + limit < doc.total ? page(offset + limit, "下一页") : null, " ", sizes);
    const fresh = h.el("span", { id: "live", class: "hint", role: "status" });
    h.show(
      h.el("div", { class: "print-head" }, h.el("strong", {}, h.session.hall + " · 卡片清单"), h.el("span", {}, "筛选：" + doc.filter_zh + "，状态：" + (STATE_ZH[q.get("state") || "open"] || q.get("state"))), h.el("span", {}, "打印时间：" + printed)),
      h.el("h2", {}, "卡片"),
      form,
      h.el("p", { class: "tools no-print" },
        h.download("/api/cards.xlsx?" + exportQuery.toString(), "导出 XLSX"), " ",
        h.download("/api/cards.csv?" + exportQuery.toString(), "导出 CSV"), " ",
        h.el("button", { type: "button", onclick: () => window.print() }, "打印"), " ",
        alertChooser(h), " ", fresh),
      countChips(h, doc, q),
      h.el("p", { id: "count" }, "共 " + doc.total + " 张" + (voids ? "(本页含作废 " + voids + " 张，不计入考评)" : "") + (doc.total ? "，第 " + (offset + 1) + "–" + Math.min(offset + doc.cards.length, doc.total) + " 张" : "")),
      doc.cards.length ? h.el("div", { class: "scroll" }, h.el("table", { class: "cards", id: "card-table" }, h.el("thead", {}, h.el("tr", {}, head)), h.el("tbody", {}, doc.cards.map((c) => cardRow(h, c))))) : h.el("p", { class: "hint", id: "cards-empty" }, "没有符合条件的卡片。"),
      pager,
      h.el("p", { class: "hint" }, "“(条件已结束)”：" + ENDED),
    );
    const seen = doc.version;
    listeners.clear();
    listeners.add((ev) => {
      if (ev.version === seen || !location.hash.startsWith("#/cards") && location.hash !== "" && location.hash !== "#/") return;
      const n = (ev.reds || []).length;
      fresh.textContent = n ? "新红牌 " + n + " 张，已更新" : "已更新";
      list(params, h).then(() => {
        const live = document.getElementById("live");
        if (live) live.textContent = n ? "新红牌 " + n + " 张，已更新 " + new Date().toLocaleTimeString("zh-CN", { hour12: false }) : "已更新 " + new Date().toLocaleTimeString("zh-CN", { hour12: false });
      });
    });
    watch(h);
  }

  // --- one card ---------------------------------------------------------------------------

  function link(h, kind, id, label) {
    return id ? h.el("a", { href: "#/" + kind + "/" + encodeURIComponent(id) }, label || id) : "—";
  }

  async function card(id, h) {
    listeners.clear();
    const c = await h.api("/api/cards/" + encodeURIComponent(id));
    const history = c.history.map((t) =>
      h.el("tr", {}, h.el("td", {}, h.time(t.ts)), h.el("td", {}, t.state_zh), h.el("td", {}, t.reason_zh), h.el("td", {}, t.by_name || "系统"), h.el("td", {}, t.text || "")));
    const evidence = c.evidence.map((e, i) =>
      h.el("tr", {}, h.el("td", {}, h.time(e.ts)), h.el("td", {}, c.evidence_zh[i] || e.kind),
        h.el("td", {}, h.el("details", {}, h.el("summary", {}, "原始记录"), h.el("pre", {}, JSON.stringify(e.payload, null, 1))))));
    const timeline = c.timeline.map((s) =>
      h.el("tr", {}, h.el("td", {}, s.time_zh), h.el("td", {}, s.action_zh), h.el("td", {}, s.staff_name || "—"), h.el("td", {}, s.window_name || s.window || "—"), h.el("td", {}, s.detail_zh || "")));
    const statements = c.statements.map((s) =>
      h.el("tr", {}, h.el("td", {}, s.ts), h.el("td", {}, s.speaker_name), h.el("td", {}, s.entered_by_name && s.entered_by !== s.speaker ? s.entered_by_name + " 代为录入" : "本人"), h.el("td", {}, s.text || "")));
    const kase = c.subject.case ? h.el("a", { href: "#/cards?" + new URLSearchParams({ q: c.subject.case, state: "all" }).toString(), id: "case-link" }, c.subject.case) : "—";
    const parts = [
      h.el("h2", {}, h.el("span", { class: "badge " + c.level }, c.level_zh), " ", c.title, " ", h.el("code", {}, c.card)),
      h.el("p", { id: "card-what", class: "what" }, c.what_zh),
      h.el("dl", { class: "facts" },
        h.el("dt", {}, "状态"), h.el("dd", { id: "card-state" }, stateText(c)),
        !c.holds && !c.voided ? [h.el("dt", {}, "说明"), h.el("dd", { class: "hint", id: "ended-note" }, ENDED)] : null,
        c.voided ? [h.el("dt", {}, "作废原因"), h.el("dd", { id: "void-reason" }, c.void_reason + "（" + h.time(c.voided_at) + " 作废，不计入考评、日报和月报）")] : null,
        c.punch_zh ? [h.el("dt", {}, "打卡"), h.el("dd", { id: "card-punch" }, c.punch_zh)] : null,
        h.el("dt", {}, "窗口"), h.el("dd", {}, link(h, "window", c.subject.window, c.subject.window ? c.subject.window + " " + (c.subject.window_name || "") : null)),
        h.el("dt", {}, "人员"), h.el("dd", { id: "card-staff" }, link(h, "staff", c.subject.staff, c.subject.staff_name)),
        h.el("dt", {}, "办件"), h.el("dd", {}, kase),
        h.el("dt", {}, "责任人"), h.el("dd", {}, link(h, "staff", c.owner, c.owner_name)),
        h.el("dt", {}, "亮牌时间"), h.el("dd", {}, h.time(c.raised_at)),
        h.el("dt", {}, "申辩期限"), h.el("dd", {}, h.time(c.answer_by)),
        h.el("dt", {}, "依据"), h.el("dd", { id: "card-source" }, c.source),
        c.answer_by && c.answer_basis ? [h.el("dt", {}, "申辩依据"), h.el("dd", { id: "card-answer-basis", class: "hint" }, c.answer_basis)] : null),
    ];
    if (c.timeline.length) parts.push(h.el("h3", {}, "办件经过"), h.el("div", { class: "scroll" }, h.table(["时间", "环节", "经办人", "窗口", "说明"], timeline)));
    if (c.statements.length) parts.push(h.el("h3", {}, "陈述申辩"), h.el("div", { class: "scroll", id: "statements" }, h.table(["时间", "申辩人", "录入", "内容"], statements)));
    parts.push(h.el("h3", {}, "卡片经过"), h.el("div", { class: "scroll" }, h.table(["时间", "状态", "原因", "处理人", "说明"], history)));
    parts.push(h.el("h3", {}, "通知记录"), h.noticeLog(c));
    parts.push(h.el("h3", {}, "证据"), c.evidence.length ? h.el("div", { class: "scroll" }, h.table(["时间", "内容", "原始记录"], evidence)) : h.el("p", { class: "hint", id: "no-evidence" }, c.punch_zh ? "缺卡：没有打卡记录即是证据(当日该时段无打卡、无请假)。" : "无证据事件。"));
    if (c.evidence_missing.length) parts.push(h.el("p", {}, "日志中未找到：" + c.evidence_missing.join(", ")));
    if (c.system) parts.push(h.el("div", { class: "decision system", id: "system-note" }, h.el("h3", {}, "系统提示牌"), h.el("p", {}, "这张牌提示的是系统配置问题，不针对任何人，无需申辩，也不作维持或撤销。"), h.el("p", {}, "处理办法(系统管理员)：" + c.remedy_zh)));
    else if (c.voided) parts.push(h.el("p", { class: "hint", id: "void-note" }, "此牌已作废，无需申辩或处理。"));
    else if (c.actions.length) parts.push(decisionForm(h, c));
    else if (h.may("decide_cards")) parts.push(h.el("p", { class: "hint", id: "no-actions" }, "这张牌已" + stateText(c) + "，不能再申辩或决定。"));
    h.show(...parts);
  }

  function decisionForm(h, c) {
    const message = h.el("p", { id: "decision-message", role: "alert" });
    const text = h.el("textarea", { name: "text", id: "decision-text", required: true, maxlength: "2000", rows: "3" });
    const first = c.actions.find((a) => a.allowed);
    const pick = h.el("select", { name: "action" }, h.el("option", { value: "", disabled: true, selected: !first }, "请选择"),
      c.actions.map((a) => h.el("option", { value: a.action, disabled: !a.allowed, title: a.why_not, selected: false }, a.label_zh + (a.why_not ? "(" + a.why_not + ")" : ""))));
    pick.value = "";
    const label = h.el("span", { id: "text-label" }, "说明(必填) ");
    // 000_… 八(七): a mitigating decision names its degree; its reason goes in the text.
    const choice = c.actions.find((a) => a.action === "mitigate");
    const degree = h.el("select", { name: "mitigation", id: "decision-mitigation" }, h.el("option", { value: "" }, "请选择"),
      (choice && choice.mitigations || []).map((m) => h.el("option", { value: m.value }, m.label_zh)));
    const degreeRow = h.el("label", { id: "mitigation-row", hidden: true }, "处理方式 ", degree);
    pick.addEventListener("change", () => {
      label.textContent = pick.value === "answer" ? "申辩内容(" + (c.owner_name || "责任人") + "的陈述，必填) "
        : pick.value === "mitigate" ? "从轻、减轻或免予处理的理由(如已赔礼道歉并获谅解，必填) " : "决定理由(必填) ";
      degreeRow.hidden = pick.value !== "mitigate";
    });
    const form = h.el("form", { id: "decision", class: "decision" },
      h.el("h3", {}, "处理"),
      h.el("label", {}, "操作 ", pick),
      degreeRow,
      h.el("label", {}, label, text),
      h.el("button", { type: "submit" }, "提交"),
      message);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      message.className = "";
      if (!pick.value) {
        message.className = "error";
        message.textContent = "请选择操作。";
        return;
      }
      if (pick.value === "mitigate" && !degree.value) {
        message.className = "error";
        message.textContent = "请选择处理方式(从轻、减轻或免予处理)。";
        return;
      }
      message.textContent = "提交中…";
      try {
        await h.api("/api/cards/" + encodeURIComponent(c.card) + "/decision", { method: "POST", body: JSON.stringify(Object.assign({ action: pick.value, text: text.value }, pick.value === "mitigate" ? { mitigation: degree.value } : {})) });
        await card(c.card, h);
        const done = document.getElementById("decision-message") || document.getElementById("no-actions");
        if (done) {
          done.className = "ok";
          done.textContent = "已记录。";
        }
      } catch (err) {
        message.className = "error";
        message.textContent = err.message;
      }
    });
    return form;
  }

  // --- a window's or an officer's page -----------------------------------------------------

  function trend(h, history) {
    const w = 320, hgt = 90, n = history.length;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + (hgt + 20));
    svg.setAttribute("class", "trend");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "按时办结率趋势");
    history.forEach((m, i) => {
      const x = 10 + i * ((w - 20) / Math.max(1, n));
      const bw = (w - 20) / Math.max(1, n) - 6;
      const pct = m.on_time_pct;
      const rect = document.createElementNS(svg.namespaceURI, "rect");
      const bh = pct === null ? 0 : (pct / 100) * hgt;
      rect.setAttribute("x", x); rect.setAttribute("y", hgt - bh); rect.setAttribute("width", bw); rect.setAttribute("height", bh);
      rect.setAttribute("class", pct !== null && pct < 100 ? "bar late" : "bar");
      const label = document.createElementNS(svg.namespaceURI, "text");
      label.setAttribute("x", x); label.setAttribute("y", hgt + 14);
      label.textContent = m.month.slice(5) + "月 " + (pct === null ? "—" : pct + "%");
      svg.append(rect, label);
    });
    return svg;
  }

  async function subject(kind, id, h) {
    listeners.clear();
    const doc = await h.api((kind === "window" ? "/api/window?id=" : "/api/officer?id=") + encodeURIComponent(id));
    const rows = doc.history.map((m) =>
      h.el("tr", {}, h.el("td", {}, m.month), h.el("td", {}, m.received), h.el("td", {}, m.completed), h.el("td", {}, m.on_time_pct === null ? "—" : m.on_time_pct + "%"),
        h.el("td", {}, m.red), h.el("td", {}, m.yellow), h.el("td", {}, m.deducted ? "−" + m.deducted : "0"), h.el("td", {}, m.score === null ? "—" : m.score + (m.grade ? "(" + m.grade + ")" : ""))));
    const filter = new URLSearchParams({ [kind === "window" ? "window" : "staff"]: doc.id });
    h.show(
      h.el("h2", {}, kind === "window" ? "窗口 " : "人员 ", doc.name, " ", h.el("code", {}, doc.id), " ", h.el("span", { class: "badge " + doc.light, id: "subject-light" }, doc.light_zh)),
      h.el("dl", { class: "facts" },
        kind === "officer" ? [h.el("dt", {}, "部门"), h.el("dd", {}, doc.department || "—"), h.el("dt", {}, "当前状态"), h.el("dd", {}, doc.status_zh || "无请假、出差记录")] : null,
        h.el("dt", {}, "在办件"), h.el("dd", {}, doc.open_cases),
        h.el("dt", {}, "未关闭的牌"), h.el("dd", { id: "subject-open" }, doc.open_total + " 张 ", h.el("a", { href: "#/cards?" + filter.toString() }, "在卡片清单中查看"))),
      h.el("h3", {}, "按月记录(按时办结率、卡片、扣分)"),
      trend(h, doc.history),
      h.el("div", { class: "scroll", id: "subject-history" }, h.table(["月份", "收件", "办结", "按时办结率", "红牌", "黄牌", "扣分", "得分"], rows)),
      h.el("h3", {}, "未关闭的牌(最新 " + Math.min(SHOWN, doc.open_total) + " 张)"),
      doc.open_cards.length ? h.el("div", { class: "scroll" }, h.el("table", { class: "cards" }, h.el("thead", {}, h.el("tr", {}, COLUMNS.map(([, l]) => h.el("th", {}, l)))), h.el("tbody", {}, doc.open_cards.slice(0, SHOWN).map((c) => cardRow(h, c))))) : h.el("p", { class: "hint" }, "没有未关闭的牌。"),
      doc.open_total > SHOWN ? h.el("p", {}, h.el("a", { href: "#/cards?" + filter.toString() }, "全部 " + doc.open_total + " 张")) : null,
    );
  }

  // --- the admin's system cards ------------------------------------------------------------

  async function systemCards(_params, h) {
    const doc = await h.api("/api/system-cards");
    const rows = doc.cards.map((c) => h.el("tr", { class: "level-" + c.level }, h.el("td", {}, h.el("code", {}, c.card)), h.el("td", {}, c.title), h.el("td", {}, h.time(c.raised_at)), h.el("td", {}, c.remedy_zh)));
    h.show(h.el("h2", {}, "系统提示牌"),
      h.el("p", { class: "hint" }, "系统提示牌说明系统配置或运行出了问题(不针对任何人)：无需申辩，也不由督查员决定；排除原因后自动关闭。"),
      doc.cards.length ? h.el("div", { class: "scroll", id: "system-cards" }, h.table(["编号", "问题", "出现时间", "处理办法"], rows)) : h.el("p", { class: "hint", id: "system-empty" }, "暂无系统提示牌。"));
  }

  window.HallwatchCards = { list, card, subject, systemCards, dateInput, watch };
})();
