// The MLA composer's guided steps: each chosen measure's template fields, and the requested
// State's profile, are shown; the others are hidden (without scripts, all are shown).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const measures = document.getElementById("measure");
  const to = document.getElementById("to");
  if (!measures || !to) return;
  const update = () => {
    const chosen = new Set([...measures.selectedOptions].map((o) => o.value));
    for (const step of document.querySelectorAll("fieldset.measure-step")) {
      step.hidden = !chosen.has(step.dataset.measure);
    }
    for (const p of document.querySelectorAll("[data-profile-for]")) {
      p.hidden = p.dataset.profileFor !== to.value;
    }
  };
  measures.addEventListener("change", update);
  to.addEventListener("change", update);
  update();
});
