"use strict";
// The leader's board (值班看板, docs/console.md): GET /api/board, refetched whenever the hall
// display's event stream (/display/events, the same one the hall's screens watch) says lights,
// totals or who is on post moved, and at least once a minute (attendance moves no light).
// console.js calls HallwatchBoard.show(query, kit) for #/board; names only, never codes.
window.HallwatchBoard = (function () {
  const STALE_MS = 60000;
  let stream = null;
  let opened = null; // the attendance category whose people are shown
  let pending = null;
  let fetchedAt = 0;

  function stop() {
    if (stream) stream.close();
    stream = null;
    clearTimeout(pending);
  }

  // The board is shown until the hash names another view (a leader lands on it with no hash).
  let active = false;
  const onBoard = () => active;

  const levelClass = (lvl) => (lvl === "red" || lvl === "yellow" ? lvl : lvl === "green" ? "green" : "unknown");

  function dutyLine(k, d) {
    const span = d.start ? d.start + "–" + d.end : "";
    const came = d.arrived ? " " + d.arrived : "";
    return k.el("div", { class: "duty-slot duty-" + d.state },
      k.el("span", { class: "duty-half" }, d.half_zh + " " + span),
      k.el("strong", {}, d.leader_name),
      k.el("span", { class: "duty-state" }, d.state_zh + came));
  }

  function dutyToday(k, doc) {
    const box = k.el("section", { class: "board-duty", id: "board-duty" }, k.el("h3", {}, "今日值班领导"));
    if (!doc.duty_today.length) box.append(k.el("p", { class: "hint" }, "今日无值班安排"));
    else box.append(...doc.duty_today.map((d) => dutyLine(k, d)));
    return box;
  }

  function totals(k, doc, redraw) {
    const a = doc.attendance;
    const shown = a.totals.filter((t) => t.count || ["present", "late", "missing", "leave"].includes(t.category));
    const tiles = shown.map((t) =>
      k.el("button", { type: "button", class: "tally tally-" + t.category + (opened === t.category ? " open" : ""),
        "data-category": t.category, "aria-pressed": opened === t.category ? "true" : "false",
        onclick: () => { opened = opened === t.category ? null : t.category; redraw(); } },
        k.el("span", { class: "tally-n" }, t.count), k.el("span", { class: "tally-label" }, t.label_zh)));
    const chosen = a.totals.find((t) => t.category === opened);
    const exceptions = a.totals.filter((t) => !["present", "not_started"].includes(t.category) && t.count);
    return k.el("section", { class: "board-attendance", id: "board-attendance" },
      k.el("h3", {}, "今日出勤 ", k.el("span", { class: "hint" }, "应到 " + a.expected + " 人" + (a.final ? "" : "，部分结论待考勤机上报后确定"))),
      k.el("div", { class: "tallies" }, tiles),
      chosen ? k.el("div", { class: "drill", id: "board-drill" }, k.el("h4", {}, chosen.label_zh + " " + chosen.count + " 人"),
        chosen.count ? people(k, chosen.people) : k.el("p", { class: "hint" }, "无")) : k.el("p", { class: "hint no-print" }, "点击数字查看人员。"),
      k.el("div", { class: "print-only" }, k.el("h4", {}, "异常人员"),
        exceptions.length ? people(k, exceptions.flatMap((t) => t.people.map((p) => Object.assign({ label: t.label_zh }, p))), true) : k.el("p", {}, "无")),
      k.el("p", { class: "hint" }, "每人按当日已开始时段中最重的一项计一次：旷工、缺卡、迟到、早退、请假、待定、出勤。" +
        (a.final ? "" : "带“?”或“待定”的尚未最终确定：考勤机尚未全部上报，以全部上报后的日报为准。")));
  }

  function people(k, rows, withLabel) {
    const head = [...(withLabel ? ["情况"] : []), "窗口", "姓名", "部门", "上午", "下午"];
    return k.table(head, rows.map((p) => k.el("tr", {}, withLabel ? k.el("td", {}, p.label) : null,
      k.el("td", {}, p.window_name), k.el("td", {}, p.name), k.el("td", {}, p.department_name),
      p.sessions.map((s) => k.el("td", {}, sessionText(s))))));
  }

  // Under way: the check-in so far; over: the verdict and both punches; on leave: the leave.
  function sessionText(s) {
    if (!s.begun) return "未开始";
    if (s.verdict === "pending") return "签到 " + s.check_in;
    if (s.verdict === "covered") return s.verdict_zh;
    return s.verdict_zh + "（" + s.check_in + " / " + s.check_out + "）";
  }

  function windows(k, doc) {
    const staffed = doc.staffed === null ? "—" : doc.staffed;
    const tiles = doc.windows.map((w) => {
      const who = w.officer_name
        ? [k.el("strong", {}, w.officer_name), k.el("span", { class: "post" }, w.post === "B" ? " B岗顶岗" : " A岗")]
        : [k.el("strong", { class: "nobody" }, "无人在岗")];
      const away = w.a_post_away_zh ? k.el("div", { class: "away" }, "A岗 " + w.a_post_name + "：" + w.a_post_away_zh) : null;
      const seat = w.seat === "occupied" ? null : k.el("div", { class: "seat" }, "座位：" + w.seat_zh);
      return k.el("div", { class: "win level-" + levelClass(w.level), "data-window": w.window },
        k.el("div", {}, k.el("span", { class: "win-name" }, w.window_name), " ", k.el("span", { class: "win-dept" }, w.department_name)),
        k.el("div", { class: "win-line" }, k.el("span", { class: "win-who" }, who),
          k.el("span", { class: "win-light" }, k.el("span", { class: "badge " + levelClass(w.level) }, w.level_zh), w.reason)),
        away, seat);
    });
    return k.el("section", { class: "board-windows", id: "board-windows" },
      k.el("h3", {}, "窗口在岗 ", k.el("span", { id: "board-staffed" }, staffed + " / " + doc.windows_total)),
      k.el("div", { class: "wins" }, tiles));
  }

  function week(k, doc) {
    const cell = (d, half) => {
      const slots = d.slots.filter((s) => s.half === half);
      return k.el("td", {}, slots.length ? slots.map((s) => k.el("div", { class: "duty-" + s.state }, s.leader_name + " " + s.state_zh + (s.arrived ? " " + s.arrived : ""))) : "—");
    };
    const rows = doc.duty_week.map((d) => k.el("tr", { class: d.today ? "today" : null }, k.el("td", {}, d.day_zh), cell(d, "am"), cell(d, "pm")));
    return k.el("section", { class: "board-week", id: "board-week" }, k.el("h3", {}, "本周值班"), k.table(["日期", "上午", "下午"], rows));
  }

  function cards(k, doc) {
    const c = doc.cards;
    const rows = c.cards.map((x) => k.el("tr", { class: "level-" + x.level },
      k.el("td", {}, (x.raised_at || "").slice(11, 16)),
      k.el("td", {}, k.el("span", { class: "badge " + x.level }, x.level_zh)),
      k.el("td", {}, k.el("a", { href: "#/card/" + encodeURIComponent(x.card) }, x.title)),
      k.el("td", {}, x.subject.window_name || "—"),
      k.el("td", {}, x.subject.staff_name || "—"),
      k.el("td", {}, x.state_zh)));
    return k.el("section", { class: "board-cards", id: "board-cards" },
      k.el("h3", {}, "今日未关闭的卡片 ", k.el("span", { class: "hint" }, c.total + " 张")),
      c.total ? k.table(["时间", "级别", "事项", "窗口", "人员", "状态"], rows) : k.el("p", { class: "hint" }, "今日没有未关闭的卡片。"));
  }

  function render(k, doc, query) {
    const redraw = () => render(k, doc, query);
    const input = k.el("input", { type: "date", value: doc.day });
    input.addEventListener("change", () => (location.hash = "#/board?date=" + input.value));
    const when = doc.now.slice(11, 19);
    k.show(k.el("div", { id: "board", class: "board" },
      k.el("div", { class: "board-head" },
        k.el("h2", {}, doc.hall + " 值班看板"),
        k.el("span", { class: "board-day" }, doc.day_zh),
        k.el("label", { class: "no-print" }, "日期 ", input),
        k.el("span", { class: "live", id: "board-live" }, (stream ? "● 实时" : "○") + " 更新于 " + when)),
      k.el("div", { class: "board-top" }, dutyToday(k, doc), totals(k, doc, redraw)),
      windows(k, doc),
      k.el("div", { class: "board-bottom" }, cards(k, doc), week(k, doc))));
  }

  async function refresh(k, query) {
    if (!onBoard()) return stop();
    fetchedAt = Date.now();
    try {
      const doc = await k.api("/api/board" + (query ? "?" + query : ""));
      if (onBoard()) render(k, doc, query);
    } catch (err) {
      const live = document.getElementById("board-live");
      if (live) live.textContent = "刷新失败：" + String(err.message || err);
      else throw err;
    }
  }

  function listen(k, query) {
    stop();
    if (!window.EventSource) return;
    stream = new EventSource("/display/events");
    const soon = () => { clearTimeout(pending); pending = setTimeout(() => refresh(k, query), 500); };
    stream.addEventListener("state", soon);
    stream.addEventListener("ping", () => { if (Date.now() - fetchedAt >= STALE_MS) soon(); });
  }

  async function show(query, k) {
    const q = new URLSearchParams(query);
    const day = q.get("date");
    const own = day ? "date=" + encodeURIComponent(day) : "";
    active = true;
    await refresh(k, own);
    listen(k, own);
  }

  window.addEventListener("hashchange", () => {
    if (!/^#\/?board(\?|$)/.test(location.hash)) {
      active = false;
      stop();
    }
  });
  return { show };
})();
