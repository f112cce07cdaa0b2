// Hall display: renders /display/state, follows /display/events, survives the server going away.
"use strict";
(() => {
  const STALE_MS = 40000; // nothing heard for this long (heartbeats come every 15 s): link lost
  const REOPEN_MS = 5000; // an EventSource the server refused stays closed: open a new one
  const WEEK = "日一二三四五六";
  const $ = (id) => document.getElementById(id);
  const stage = $("stage");
  const grid = $("grid");
  const banner = $("banner");
  const template = $("tile");

  let skew = 0; // server clock minus ours, ms
  let offsetMin = -new Date().getTimezoneOffset();
  let boot = null;
  let seq = -1;
  let heard = 0;
  let shownAt = null;
  let source = null;
  let layout = "";
  let catchingUp = false; // the daemon reads a backlog: the tiles are its last state

  const pad = (n) => String(n).padStart(2, "0");

  function scale() {
    const k = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    const x = (window.innerWidth - 1920 * k) / 2;
    const y = (window.innerHeight - 1080 * k) / 2;
    stage.style.transform = `translate(${x}px, ${y}px) scale(${k})`;
  }

  function hallTime(ms) {
    return new Date(ms + skew + offsetMin * 60000); // read with getUTC*: the hall's wall clock
  }

  function tick() {
    showTime();
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  }

  function showTime() {
    const t = hallTime(Date.now());
    $("time").textContent = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
    $("date").textContent =
      `${t.getUTCFullYear()}年${t.getUTCMonth() + 1}月${t.getUTCDate()}日 星期${WEEK[t.getUTCDay()]}`;
  }

  function clock(doc) {
    if (typeof doc.now === "number") skew = doc.now - Date.now();
    if (typeof doc.utc_offset_min === "number") offsetMin = doc.utc_offset_min;
    showTime();
  }

  // Shrink a line until it fits its box: long window and department names stay whole.
  function fit(el) {
    el.style.fontSize = "";
    let size = parseFloat(getComputedStyle(el).fontSize);
    while (el.scrollWidth > el.clientWidth && size > 14) {
      size -= 2;
      el.style.fontSize = `${size}px`;
    }
  }

  function build(tiles) {
    grid.replaceChildren();
    for (const t of tiles) {
      const el = template.content.firstElementChild.cloneNode(true);
      el.dataset.window = t.window;
      grid.appendChild(el);
    }
    grid.style.setProperty("--rows", String(Math.max(4, Math.ceil(tiles.length / 5))));
  }

  function fill(el, t) {
    el.className = `tile ${t.level}`;
    el.dataset.level = t.level;
    el.querySelector(".num").textContent = t.number;
    el.querySelector(".name").textContent = t.name;
    el.querySelector(".dept").textContent = t.department;
    el.querySelector(".officer").classList.toggle("none", !t.officer);
    el.querySelector(".officer span").textContent = t.officer || "无人在岗";
    el.querySelector(".reason .text").textContent = t.reason;
    el.querySelector(".count").textContent = t.cards > 1 ? `共${t.cards}项` : "";
  }

  function totals(doc) {
    const s = doc.totals;
    const tiles = doc.tiles || [];
    const lit = (lvl) => String(tiles.filter((t) => t.level === lvl).length);
    $("lit-red").textContent = lit("red");
    $("lit-yellow").textContent = lit("yellow");
    $("received").textContent = s ? String(s.received) : "—";
    $("completed").textContent = s ? String(s.completed) : "—";
    const r = s ? s.on_time_rate : null;
    $("ontime").textContent = r === null || r === undefined ? "—" : `${+(r * 100).toFixed(2)}%`;
    const staffed = s && s.windows_staffed !== null ? s.windows_staffed : "—";
    $("staffed").textContent = s ? `${staffed}/${s.windows}` : "—";
  }

  function render(doc) {
    const tiles = doc.tiles || [];
    $("hall").textContent = doc.hall || "政务服务中心";
    document.title = `${doc.hall || ""} 大厅电子显示屏`;
    const key = tiles.map((t) => t.window).join(",");
    if (key !== layout) {
      build(tiles);
      layout = key;
    }
    tiles.forEach((t, i) => fill(grid.children[i], t));
    totals(doc);
    catchingUp = Boolean(doc.catching_up);
    document.body.classList.toggle("catching-up", catchingUp);
    document.querySelectorAll("#grid .fit").forEach(fit);
    shownAt = hallTime(Date.now());
    document.body.classList.remove("connecting");
    document.body.dataset.seq = String(doc.seq);
    notice();
  }

  // Stream events arrive in order; a fetched state may be overtaken by them, so the newest
  // wins. A restarted daemon counts from 1 again under a new boot.
  function apply(doc) {
    clock(doc);
    if (doc.boot === boot && doc.seq < seq) return;
    const app = document.body.dataset.app;
    if (app && doc.app !== app) {
      location.reload(); // the daemon was upgraded: take its page too
      return;
    }
    document.body.dataset.app = doc.app;
    boot = doc.boot;
    seq = doc.seq;
    render(doc);
  }

  function refetch() {
    fetch("/display/state", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((doc) => {
        heard = Date.now();
        apply(doc);
      })
      .catch(() => {}); // the stream brings the state anyway
  }

  function linked(live) {
    document.body.classList.toggle("live", live);
    $("link").textContent = live ? "实时" : "重连中";
  }

  function notice() {
    const stale = Date.now() - heard > STALE_MS;
    document.body.classList.toggle("stale", stale && shownAt !== null);
    if (stale && shownAt !== null) {
      const at = `${pad(shownAt.getUTCHours())}:${pad(shownAt.getUTCMinutes())}`;
      banner.textContent = `与服务器的连接已中断，正在自动重连；画面为 ${at} 的状态`;
      banner.hidden = false;
    } else if (catchingUp) {
      banner.textContent = "同步中：正在读取积压的数据，画面为最后已知的状态";
      banner.hidden = false;
    } else if (layout === "") {
      banner.textContent = "正在等待监察数据…";
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  function connect() {
    if (source) source.close();
    const es = new EventSource("/display/events");
    source = es;
    es.addEventListener("open", () => {
      heard = Date.now();
      linked(true);
      refetch(); // the full state after every (re)connect
    });
    es.addEventListener("state", (e) => {
      heard = Date.now();
      apply(JSON.parse(e.data));
    });
    es.addEventListener("ping", (e) => {
      heard = Date.now();
      clock(JSON.parse(e.data));
      notice();
    });
    es.addEventListener("error", () => {
      linked(false);
      if (es.readyState === EventSource.CLOSED && source === es) setTimeout(connect, REOPEN_MS);
    });
  }

  function watchdog() {
    // A link that died silently (cable pulled) never errors: reopen it ourselves.
    if (Date.now() - heard > STALE_MS && source && source.readyState === EventSource.OPEN) {
      linked(false);
      connect();
    }
    notice();
  }

  window.addEventListener("resize", scale);
  scale();
  tick();
  heard = Date.now();
  notice();
  connect();
  setInterval(watchdog, 5000);
})();
