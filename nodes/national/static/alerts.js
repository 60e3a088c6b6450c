// A feed's page: the live region follows the node's events; while the feed is still being read
// it is also re-fetched every second, so a missed event never leaves the progress bar behind.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const region = document.getElementById("feed-job");
  if (!region) return;
  const running = () => document.getElementById("feed-status")?.textContent.trim() === "running";
  const timer = setInterval(() => {
    if (running()) somex.refresh(region);
    else clearInterval(timer);
  }, 1000);
});
