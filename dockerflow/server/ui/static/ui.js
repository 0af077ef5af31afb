// dockerflow's web UI: live updates (polling that stops when the attempt is done), the actions
// (start, kill, retry, schedules) through the REST API, and following a task's log.
"use strict";
(function () {
  const body = document.body;
  const $ = (sel, root) => (root || document).querySelector(sel);

  async function api(method, path, data) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (data !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    const response = await fetch(path, init);
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    return { status: response.status, ok: response.ok, data: payload };
  }

  function say(id, text) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function messageOf(result) {
    return (result.data && result.data.message) || ("the server answered " + result.status);
  }

  // -- the attempt page: sections refreshed while it runs --------------------------------------
  let polling = false;
  const last = {};

  function replaceSection(id, html) {
    const el = document.getElementById(id);
    if (!el || last[id] === html) return;
    last[id] = html;
    const active = document.activeElement;
    const focusId = active && el.contains(active) ? active.id : "";
    const from = $("#from-task");
    const typed = from ? from.value : "";
    el.innerHTML = html;
    const newFrom = $("#from-task");
    if (newFrom && typed) newFrom.value = typed;
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus();
    }
  }

  async function poll() {
    const id = body.dataset.attempt;
    const query = new URLSearchParams({ show: body.dataset.show || "all", rows: body.dataset.rows || "" });
    let delay = 1000;
    try {
      const started = performance.now();
      const result = await api("GET", "/ui/attempts/" + id + "/live?" + query);
      if (result.ok && result.data) {
        for (const [key, html] of Object.entries(result.data.sections)) replaceSection(key, html);
        if (result.data.done) {
          polling = false;
          body.dataset.live = "0";
          document.dispatchEvent(new CustomEvent("dockerflow:done"));
          return;
        }
      }
      delay = Math.max(1000, 3 * (performance.now() - started)); // big attempts poll less often
    } catch (e) {
      delay = 5000;
    }
    setTimeout(poll, delay);
  }

  function follow() {
    if (!polling) {
      polling = true;
      body.dataset.live = "1";
      setTimeout(poll, 500);
    }
  }

  function attemptData() {
    const el = document.getElementById("attempt-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  async function retry(resume, button) {
    const a = attemptData();
    button.disabled = true;
    const result = await api("PUT", "/api/attempts", {
      workflowId: a.workflowId, sessionTime: a.sessionTime, params: a.params,
      retryAttemptName: "ui-" + Date.now().toString(36), resume: Object.assign({ attemptId: a.id }, resume),
    });
    button.disabled = false;
    if (result.ok || result.status === 409) {
      window.location.assign("/attempts/" + result.data.id);
    } else {
      say("action-message", "Retry refused: " + messageOf(result));
    }
  }

  const actions = {
    async kill(button) {
      button.disabled = true;
      const result = await api("POST", "/api/attempts/" + body.dataset.attempt + "/kill");
      if (!result.ok) {
        button.disabled = false;
        say("action-message", "Kill refused: " + messageOf(result));
        return;
      }
      say("action-message", "");
      follow();
    },
    "retry-failed": (button) => retry({ mode: "failed" }, button),
    "retry-from": (button) => {
      const from = $("#from-task").value.trim();
      if (!from) { say("action-message", "Name the task to retry from (such as +wf+task)."); return; }
      return retry({ mode: "from", from }, button);
    },
    async schedule(button) {
      button.disabled = true;
      const result = await api("POST", "/api/schedules/" + button.dataset.schedule + "/" + button.dataset.op);
      if (result.ok) { window.location.reload(); return; }
      button.disabled = false;
      say("schedule-message", "Refused: " + messageOf(result));
    },
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button && actions[button.dataset.action]) {
      event.preventDefault();
      actions[button.dataset.action](button);
    }
  });

  // -- the start form of the workflow page ------------------------------------------------------
  const form = $("form.start");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let params;
      try {
        params = JSON.parse(form.params.value.trim() || "{}");
        if (params === null || typeof params !== "object" || Array.isArray(params)) throw new Error();
      } catch (e) {
        say("start-message", "Params must be a JSON object, such as {\"n\": 3}.");
        form.params.focus();
        return;
      }
      const button = $("button[type=submit]", form);
      button.disabled = true;
      const result = await api("PUT", "/api/attempts", {
        workflowId: form.dataset.workflowId, sessionTime: form.sessionTime.value.trim(), params,
      });
      button.disabled = false;
      if (result.ok) {
        window.location.assign("/attempts/" + result.data.id);
      } else if (result.status === 409 && result.data && result.data.id) {
        say("start-message", "");
        const el = document.getElementById("start-message");
        el.textContent = "That session already has an attempt: ";
        const link = document.createElement("a");
        link.href = "/attempts/" + result.data.id;
        link.textContent = "attempt #" + result.data.id;
        el.appendChild(link);
        el.hidden = false;
      } else {
        say("start-message", "Not started: " + messageOf(result));
      }
    });
  }

  // -- the log page: new lines appended while the task runs -------------------------------------
  async function tail() {
    const pre = document.getElementById("log");
    const query = new URLSearchParams({ task: body.dataset.task, offset: body.dataset.offset });
    let delay = 1000;
    try {
      const result = await api("GET", "/ui/attempts/" + body.dataset.attempt + "/log?" + query);
      if (result.ok && result.data) {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        if (result.data.lines.length) {
          pre.appendChild(document.createTextNode(result.data.lines.join("\n") + "\n"));
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        body.dataset.offset = String(result.data.offset);
        const state = document.getElementById("log-state");
        if (state && result.data.stateHtml) state.innerHTML = result.data.stateHtml;
        if (result.data.done) {
          say("follow", "");
          body.dataset.live = "0";
          return;
        }
      }
    } catch (e) {
      delay = 5000;
    }
    setTimeout(tail, delay);
  }

  if (body.dataset.page === "attempt" && body.dataset.live === "1") follow();
  if (body.dataset.page === "log" && body.dataset.live === "1") setTimeout(tail, 500);
})();
