"use strict";
// The login form: POST /api/login (JSON), then the console (or the page that sent us here).
(function () {
  const form = document.getElementById("login");
  const message = document.getElementById("message");
  form.dataset.ready = "yes"; // the handler below is in place (a test waits for it)
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const body = {
      name: document.getElementById("name").value,
      password: document.getElementById("password").value,
    };
    try {
      const resp = await fetch("/api/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const doc = await resp.json();
      if (!resp.ok) {
        message.textContent = doc.message || "登录失败";
        return;
      }
      const next = new URLSearchParams(location.search).get("next");
      location.href = next && next.startsWith("/console/") ? next : "/console/";
    } catch (err) {
      message.textContent = "无法连接服务器：" + err;
    }
  });
})();
