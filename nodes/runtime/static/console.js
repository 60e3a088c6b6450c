// somex console: a little plain JavaScript, no build step.
// - somex.post(url, data): a fetch with the session's CSRF token.
// - Live regions: <div data-live="/console/inbox?partial=1"> is re-fetched (and its content
//   replaced) whenever the page's event stream (<body data-events> or /console/events) reports
//   something. A page can listen too: document.addEventListener("somex:event", e => e.detail).
"use strict";
const somex = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function post(url, data) {
    const options = { method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (data instanceof FormData) options.body = data;
    else if (data !== undefined) { options.body = JSON.stringify(data); options.headers["Content-Type"] = "application/json"; }
    return fetch(url, options);
  }

  async function refresh(region) {
    const response = await fetch(region.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (response.ok) {
      region.innerHTML = await response.text();
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
      clearTimeout(timer);  // several events in a burst: one refresh
      timer = setTimeout(() => regions.forEach(refresh), 150);
    };
    source.onopen = () => document.body.classList.add("live");
    source.onerror = () => document.body.classList.remove("live");
  }

  document.addEventListener("DOMContentLoaded", listen);
  return { post, refresh, csrf };
})();
