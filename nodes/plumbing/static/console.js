// somex console: a little plain JavaScript, no build step.
// - somex.post(url, data): a fetch with the session's CSRF token.
// - Live regions: <div data-live="/console/inbox?partial=1"> is re-fetched (and its content
//   replaced) whenever the page's event stream (<body data-events> or /console/events) reports
//   something; with data-live-thread="<thread>" only for events of that thread. What the person
//   typed in the region's form survives the refresh. A page can listen too: document.addEventListener("somex:event", e => e.detail).
"use strict";
const somex = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function post(url, data) {
    const options = { method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (data instanceof FormData) options.body = data;
    else if (data !== undefined) { options.body = JSON.stringify(data); options.headers["Content-Type"] = "application/json"; }
    return fetch(url, options);
  }

  // What the person has typed, ticked, chosen or attached in a live region's form (by element id),
  // so a refresh does not wipe a note being written when an event arrives.
  function edits(region) {
    const changed = (el) => {
      if (el.type === "hidden" || el.type === "submit" || el.type === "button") return false;
      if (el.type === "file") return el.files.length > 0;
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
      return el.value !== el.defaultValue;
    };
    return [...region.querySelectorAll("input[id], textarea[id], select[id]")].filter(changed).map((el) => ({
      id: el.id, value: el.value, files: el.files, checked: el.checked,
      chosen: el.tagName === "SELECT" ? [...el.selectedOptions].map((o) => o.value) : null,
    }));
  }

  function restore(region, kept, focused) {
    for (const k of kept) {
      const el = region.querySelector("#" + CSS.escape(k.id));
      if (!el) continue;  // the form changed (e.g. the action is no longer possible)
      if (el.type === "file") el.files = k.files;
      else if (el.type === "checkbox" || el.type === "radio") el.checked = k.checked;
      else if (el.tagName === "SELECT") [...el.options].forEach((o) => { o.selected = k.chosen.includes(o.value); });
      else el.value = k.value;
    }
    const again = focused && region.querySelector("#" + CSS.escape(focused));
    if (again) again.focus();
  }

  async function refresh(region) {
    const response = await fetch(region.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (response.ok) {
      const html = await response.text();
      const kept = edits(region);
      const focused = region.contains(document.activeElement) ? document.activeElement.id : null;
      region.innerHTML = html;
      restore(region, kept, focused);
      region.dispatchEvent(new CustomEvent("somex:refreshed", { bubbles: true }));
    }
  }

  function listen() {
    const regions = document.querySelectorAll("[data-live]");
    const stream = document.body.dataset.events;
    if (!stream && regions.length === 0) return;
    const source = new EventSource(stream || "/console/events");
    let timer = null;
    source.onmessage = (message) => {
      let event = {};
      try { event = JSON.parse(message.data); } catch (_) { /* a comment or heartbeat */ }
      document.dispatchEvent(new CustomEvent("somex:event", { detail: event }));
      // A region with data-live-thread follows its thread only (plus refusals and overflow, which
      // name none): a page that opens sealed bodies is not re-read on every alert of a busy node.
      const wanted = [...regions].filter((r) => !r.dataset.liveThread || r.dataset.liveThread === event.thread
                                               || event.kind === "overflow" || event.kind === "refused");
      if (wanted.length === 0) return;
      clearTimeout(timer);  // several events in a burst: one refresh
      timer = setTimeout(() => wanted.forEach(refresh), 150);
    };
    source.onopen = () => document.body.classList.add("live");
    source.onerror = () => document.body.classList.remove("live");
  }

  // The language selector takes effect when chosen (its button is there for pages without script).
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach((select) =>
      select.addEventListener("change", () => select.form.submit()));
  }

  document.addEventListener("DOMContentLoaded", listen);
  document.addEventListener("DOMContentLoaded", autosubmit);
  return { post, refresh, csrf };
})();
