"use strict";
// The negative-filing register (否定报备登记): a view of console.js, from /api/register; pages,
// filters and exports (XLSX, CSV) like the card list. Data goes in with textContent only.
(function () {
  const PAGE_SIZES = [20, 50, 100, 200];
  const LATE = new Set(["review_late", "correction_late"]);

  async function show(params, h) {
    const q = new URLSearchParams(params);
    const limit = parseInt(q.get("limit") || "50", 10);
    const offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
    const doc = await h.api("/api/register?" + q.toString());
    const standings = [["", "全部"], ...Object.entries(doc.standings)];
    const date = (name) => window.HallwatchCards.dateInput(h.el, name, q.get(name));  // zh-CN, 年-月-日
    const form = h.el("form", { class: "filters", id: "register-filters" },
      h.el("label", {}, "自 ", ...date("from")),
      h.el("label", {}, "至 ", ...date("to")),
      h.el("label", {}, "窗口 ", h.select("window", [["", "全部"], ...h.meta.windows.map((w) => [w.id, w.id + " " + w.name])], q.get("window") || "")),
      h.el("label", {}, "经办人 ", h.select("staff", [["", "全部"], ...h.meta.staff.map((s) => [s.id, s.name + "(" + s.id + ")"])], q.get("staff") || "")),
      h.el("label", {}, "审核 ", h.select("standing", standings, q.get("standing") || "")),
      h.el("label", {}, "搜索 ", h.el("input", { type: "search", name: "q", value: q.get("q") || "", placeholder: "办件编号、经办人、申请人", size: "16" })),
      h.el("button", { type: "submit" }, "筛选"),
      h.el("input", { type: "hidden", name: "limit", value: String(limit) }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v && !(k === "limit" && v === "50")) next.set(k, v);
      location.hash = "#/register?" + next.toString();
    });
    const exportQuery = new URLSearchParams(q);
    exportQuery.delete("limit");
    exportQuery.delete("offset");
    const page = (at, label) => {
      const next = new URLSearchParams(q);
      next.set("offset", String(at));
      return h.el("a", { href: "#/register?" + next.toString(), class: "page-link" }, label);
    };
    const pages = Math.max(1, Math.ceil(doc.total / limit));
    const sizes = h.select("limit", PAGE_SIZES.map((n) => [String(n), "每页 " + n + " 条"]), String(limit));
    sizes.addEventListener("change", () => {
      const next = new URLSearchParams(q);
      next.set("limit", sizes.value);
      next.delete("offset");
      location.hash = "#/register?" + next.toString();
    });
    const chips = Object.entries(doc.counts).map(([k, n]) => h.el("span", { class: "chip" + (LATE.has(k) ? " red" : "") }, doc.standings[k] + " " + n));
    const rows = doc.rows.map((r) => h.el("tr", { class: LATE.has(r.standing) ? "late" : null },
      r.cells.map((v, i) => h.el("td", { "data-label": doc.columns[i] },
        i === 1 ? h.el("a", { href: "#/cards?q=" + encodeURIComponent(v) }, v) : (v === null || v === "" ? "—" : String(v))))));
    const printed = new Date().toLocaleString("zh-CN", { hour12: false });
    h.show(
      h.el("div", { class: "print-head" }, h.el("strong", {}, h.session.hall + " · 否定报备情况登记表"), h.el("span", {}, "筛选：" + doc.filter_zh), h.el("span", {}, "打印时间：" + printed)),
      h.el("h2", {}, "否定报备登记"),
      form,
      h.el("p", { class: "tools no-print" },
        h.download("/api/register.xlsx?" + exportQuery.toString(), "导出 XLSX"), " ",
        h.download("/api/register.csv?" + exportQuery.toString(), "导出 CSV"), " ",
        h.el("button", { type: "button", onclick: () => window.print() }, "打印")),
      h.el("p", { class: "chips" }, chips),
      h.el("p", { id: "register-count" }, "共 " + doc.total + " 条" + (doc.total ? "，第 " + (offset + 1) + "–" + Math.min(offset + doc.rows.length, doc.total) + " 条" : "")),
      doc.rows.length
        ? h.el("div", { class: "scroll" }, h.el("table", { class: "register", id: "register-table" }, h.el("thead", {}, h.el("tr", {}, doc.columns.map((c) => h.el("th", {}, c)))), h.el("tbody", {}, rows)))
        : h.el("p", { class: "hint", id: "register-empty" }, "没有符合条件的否定报备。"),
      h.el("p", { class: "pager" },
        offset > 0 ? page(Math.max(0, offset - limit), "上一页") : null,
        h.el("span", { id: "register-page" }, "第 " + (Math.floor(offset / limit) + 1) + " / " + pages + " 页"),
        offset + limit < doc.total ? page(offset + limit, "下一页") : null, " ", sizes),
      h.el("p", { class: "hint" }, "每件不予办理的申请均登记报备：经办人、原因及类别、申请人；主管领导审核，认定违规的限期纠正并告知申请人。"),
    );
  }

  window.HallwatchRegister = { show };
})();
