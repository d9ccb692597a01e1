// Shared helpers of the explorer's pages: the nav bar, the run list, JSON -> PNG calls, error display.
"use strict";
const GF = {
  pages: [["/", "Runs"], ["/samples", "Samples"], ["/mixing", "Style mixing"], ["/paint", "GANPaint"],
          ["/lab", "GAN Lab"], ["/edit", "Edit a photo"], ["/api", "API"]],

  header() {
    const h = document.createElement("header");
    const here = location.pathname;
    h.innerHTML = '<div class="brand">gan<span>forge</span> explorer</div><nav>' +
      GF.pages.map(([href, name]) => `<a href="${href}"${href === here ? ' class="active"' : ""}>${name}</a>`).join("") +
      "</nav>";
    document.body.prepend(h);
  },

  async runs() {
    const r = await fetch("/api/runs");
    return (await r.json()).runs;
  },

  async fail(r) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  },

  async post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body)});
    if (!r.ok) await GF.fail(r);
    return r;
  },

  async png(path, body) {
    const r = await GF.post(path, body);
    return {blob: await r.blob(), ms: parseFloat(r.headers.get("X-Server-Time-Ms") || "NaN"), headers: r.headers};
  },

  async json(path, body) {
    const r = body === undefined ? await fetch(path) : await GF.post(path, body);
    if (!r.ok) await GF.fail(r);
    return r.json();
  },

  show(img, blob) {
    if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
    const url = URL.createObjectURL(blob);
    img.dataset.url = url;
    img.src = url;
    return new Promise(ok => { img.onload = ok; });
  },

  download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  },

  error(msg) {
    const box = document.getElementById("error");
    if (!box) return;
    box.textContent = msg || "";
    box.classList.toggle("show", !!msg);
  },

  // Fill a <select> with the runs that pass `keep`; pick ?run=NAME when present. Returns the runs kept.
  async runPicker(select, keep) {
    const runs = (await GF.runs()).filter(keep);
    const want = new URLSearchParams(location.search).get("run");
    select.innerHTML = runs.map(r => `<option value="${r.name}">${r.name} — ${r.generator || r.kind}, ` +
                                     `${r.resolution || "?"}²</option>`).join("");
    if (want && runs.some(r => r.name === want)) select.value = want;
    return runs;
  },

  bindRange(input, fmt) {
    const out = document.querySelector(`[data-for="${input.id}"]`);
    const show = () => { if (out) out.textContent = fmt ? fmt(input.value) : input.value; };
    input.addEventListener("input", show);
    show();
  },

  debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  },
};
document.addEventListener("DOMContentLoaded", GF.header);
