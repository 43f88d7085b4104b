// normalcy's browser UI: plain JavaScript, no dependencies. It talks only to the service
// that served it (GET /models, /models/{name}, /models/{name}/calibration and
// POST /models/{name}/score), sending the bearer token typed in (kept in sessionStorage).
"use strict";

const TOKEN_KEY = "normalcy-token";
const MAX_ROWS = 2000; // table rows drawn at once
const UPLOAD = {
  image: { accept: "image/*", hint: "one or more images (PNG, JPEG, ...): heat maps over each" },
  tabular: { accept: ".csv,.parquet,.pq", hint: "a CSV or Parquet table, one row per sample" },
  events: { accept: ".csv,.parquet,.pq", hint: "a CSV or Parquet table of categorical events" },
  series: { accept: ".csv,.parquet,.pq", hint: "a CSV or Parquet series: one score per time step" },
  logs: { accept: ".txt,.log", hint: "a text file, one raw log line per line" },
};

const $ = (id) => document.getElementById(id);
const state = {
  models: [],
  model: null, // summary from GET /models
  cal: null, // GET /models/{name}/calibration, or null
  calibrated: null, // the model's calibrated threshold value, or null
  threshold: null, // the threshold in use (moved by the slider)
  result: null, // {kind, names, scores, maps, images}
  sortByScore: false,
};

// -- talking to the service ---------------------------------------------------------------
async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText;
    const err = new Error(`${response.status}: ${detail}`);
    err.status = response.status;
    throw err;
  }
  return body;
}

function setStatus(text, bad = false) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", bad);
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

// -- numbers ------------------------------------------------------------------------------
function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : Number(x.toPrecision(5)).toString();
}

// Smallest and largest finite value (no spread: series can be longer than the argument limit).
function extent(xs) {
  let lo = Infinity, hi = -Infinity;
  for (const v of xs) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

function pct(r) {
  if (r === 0) return "0%";
  if (r === 1) return "100%";
  return (r * 100).toPrecision(3) + "%";
}

// The false-positive rate a threshold implies on the calibration scores: one minus the
// fraction of them at or below it (the sketch keeps quantiles with their exact levels).
function impliedFpr(cal, t) {
  const q = cal.quantiles, lv = cal.quantile_levels;
  let lo = 0, hi = q.length; // first index with q[i] > t
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (q[mid] <= t) lo = mid + 1; else hi = mid;
  }
  return lo === 0 ? 1 : 1 - lv[lo - 1];
}

// -- models -------------------------------------------------------------------------------
async function connect() {
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  showError("");
  try {
    state.models = await api("/models");
  } catch (e) {
    setStatus(e.status === 401 ? "the service needs a token: type it and connect" : "cannot list models: " + e.message, true);
    return;
  }
  const select = $("model");
  const previous = select.value;
  select.replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.detector}, ${m.modality})`, m.name)));
  select.disabled = state.models.length === 0;
  if (state.models.some((m) => m.name === previous)) select.value = previous;
  setStatus(`connected: ${state.models.length} model${state.models.length === 1 ? "" : "s"}`);
  if (state.models.length) await selectModel(select.value);
}

async function selectModel(name) {
  const model = state.models.find((m) => m.name === name);
  delete document.body.dataset.model; // set again once the model is ready to score
  state.model = model;
  state.cal = null;
  state.calibrated = model.threshold ? model.threshold.value : null;
  state.threshold = state.calibrated;
  clearResults();
  let info = null;
  try {
    info = await api(`/models/${encodeURIComponent(name)}`);
    $("params").textContent = JSON.stringify(info.params, null, 2);
    $("params-box").hidden = false;
  } catch (e) {
    $("params-box").hidden = true;
  }
  if (state.model !== model) return; // another model was picked meanwhile
  const t = (info && info.threshold) || model.threshold; // the file's threshold names its method
  const how = t && t.calibration ? `, ${t.calibration} calibration` : "";
  const rows = [["detector", model.detector], ["modality", model.modality], ["paper", model.paper || "n/a"]];
  rows.push(["threshold", t ? `${fmt(t.value)} (${t.method} = ${t.rate}${how}, n = ${t.n_calibration})` : "not calibrated"]);
  $("meta").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  $("thr-note").textContent = "";
  if (t) {
    try {
      state.cal = await api(`/models/${encodeURIComponent(name)}/calibration`);
    } catch (e) {
      $("thr-note").textContent = e.message.replace(/^\d+: /, "");
    }
    if (state.model !== model) return;
  } else {
    $("thr-note").textContent = "This model is not calibrated: no threshold, no flags. Calibrate it on held-out normal data (normalcy calibrate).";
  }
  const upload = UPLOAD[model.modality] || { accept: "", hint: "a file the model's modality reads" };
  $("files").accept = upload.accept;
  $("files").multiple = model.modality === "image";
  $("files").disabled = false;
  $("score").disabled = false;
  $("upload-hint").textContent = "Upload " + upload.hint + ".";
  setupSlider();
  document.body.dataset.model = name;
}

// -- the threshold slider -----------------------------------------------------------------
// The slider walks the distinct values a threshold can usefully take: the calibration
// quantiles, the calibrated threshold and the scores on screen, in increasing order. Each
// step changes what is flagged, and the upper tail (where thresholds live, and where the
// sketch is densest) gets most of the track.
function candidates() {
  const xs = [];
  if (state.cal && state.cal.quantiles) for (const q of state.cal.quantiles) xs.push(q);
  if (state.calibrated !== null) xs.push(state.calibrated);
  if (state.result) for (const s of state.result.scores) xs.push(s);
  const sorted = Float64Array.from(xs.filter(Number.isFinite)).sort();
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

function setupSlider() {
  const slider = $("thr");
  const on = state.calibrated !== null;
  slider.disabled = !on;
  $("thr-reset").disabled = !on;
  if (on) {
    state.steps = candidates();
    slider.max = String(state.steps.length - 1);
    let i = state.steps.findIndex((v) => v >= state.threshold);
    if (i < 0) i = state.steps.length - 1;
    slider.value = String(i);
  }
  showThreshold();
}

function onSlide() {
  state.threshold = state.steps[Number($("thr").value)];
  showThreshold();
  reflag();
}

function resetThreshold() {
  state.threshold = state.calibrated;
  setupSlider();
  reflag();
}

function showThreshold() {
  if (state.threshold === null) {
    $("thr-value").textContent = "no threshold";
    $("fpr").textContent = "FPR on calibration scores: n/a";
    return;
  }
  const moved = state.threshold !== state.calibrated;
  $("thr-value").textContent = `threshold ${fmt(state.threshold)}${moved ? ` (calibrated: ${fmt(state.calibrated)})` : " (calibrated)"}`;
  if (state.cal && state.cal.quantiles) {
    const r = impliedFpr(state.cal, state.threshold);
    const n = state.cal.n_calibration;
    $("fpr").textContent = `FPR on calibration scores: ${pct(r)} (≈ ${Math.round(r * n)} of ${n})`;
  } else {
    $("fpr").textContent = "FPR on calibration scores: n/a (no calibration scores saved)";
  }
}

// -- scoring ------------------------------------------------------------------------------
async function score() {
  const files = Array.from($("files").files);
  const model = state.model;
  if (!model) return;
  if (!files.length) { showError("choose a file to score first"); return; }
  clearResults();
  $("results").dataset.state = "scoring";
  setStatus("scoring…");
  const url = `/models/${encodeURIComponent(model.name)}/score`;
  try {
    let body, images = null;
    if (model.modality === "image") {
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      images = await Promise.all(files.map((f) => createImageBitmap(f)));
      body = await api(url + "?maps=true", { method: "POST", body: form });
    } else if (model.modality === "logs") {
      const lines = (await files[0].text()).split(/\r?\n/).filter((l) => l.trim());
      body = await api(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ data: lines }) });
    } else {
      const form = new FormData();
      form.append("file", files[0], files[0].name);
      body = await api(url, { method: "POST", body: form });
    }
    if (state.model !== model) return; // another model was picked meanwhile
    const scores = body.scores;
    const names = model.modality === "image" ? files.map((f) => f.name)
      : scores.map((_, i) => (model.modality === "series" ? `step ${i}` : `row ${i}`));
    state.result = { kind: model.modality, names, scores, maps: body.maps || null, images };
    setStatus(`scored ${scores.length} ${model.modality === "series" ? "steps" : "items"}`);
    setupSlider();
    render();
    $("results").dataset.state = "done";
  } catch (e) {
    showError(e.message);
    setStatus("scoring failed", true);
    $("results").dataset.state = "error";
  }
}

function clearResults() {
  state.result = null;
  showError("");
  $("summary").textContent = "";
  $("table").hidden = true;
  $("table").tBodies[0].replaceChildren();
  $("table-note").textContent = "";
  $("timeline-box").hidden = true;
  $("maps-box").hidden = true;
  $("images").replaceChildren();
  $("results").dataset.state = "idle";
}

// -- drawing ------------------------------------------------------------------------------
function render() {
  const res = state.result;
  if (!res) return;
  if (res.kind === "series") drawTimeline();
  if (res.kind === "image") drawMaps();
  drawTable();
  summarise();
}

function reflag() {
  if (!state.result) return;
  const res = state.result;
  if (res.kind === "series") drawTimeline();
  const t = state.threshold;
  for (const tr of $("table").tBodies[0].rows) {
    const flagged = t !== null && Number(tr.dataset.score) > t;
    tr.classList.toggle("flagged", flagged);
    tr.cells[3].textContent = t === null ? "—" : flagged ? "anomaly" : "normal";
  }
  for (const fig of $("images").children) {
    const flagged = t !== null && Number(fig.dataset.score) > t;
    fig.classList.toggle("flagged", flagged);
    fig.querySelector("strong").textContent = t === null ? "" : flagged ? "anomaly" : "normal";
  }
  summarise();
}

function summarise() {
  const res = state.result;
  const t = state.threshold;
  const n = res.scores.length;
  const what = res.kind === "series" ? "steps" : res.kind === "image" ? "images" : "rows";
  if (t === null) {
    $("summary").textContent = `${n} ${what} scored; the model is not calibrated, so nothing is flagged.`;
    return;
  }
  const k = res.scores.filter((s) => s > t).length;
  $("summary").textContent = `${k} of ${n} ${what} flagged (score > ${fmt(t)}).`;
  $("summary").dataset.flagged = String(k);
}

function drawTable() {
  const res = state.result;
  const order = res.scores.map((_, i) => i);
  if (state.sortByScore) order.sort((a, b) => res.scores[b] - res.scores[a]);
  const shown = order.slice(0, MAX_ROWS);
  const t = state.threshold;
  const rows = shown.map((i) => {
    const tr = document.createElement("tr");
    const s = res.scores[i];
    tr.dataset.score = String(s);
    const flagged = t !== null && s > t;
    tr.classList.toggle("flagged", flagged);
    for (const [text, cls] of [[String(i), ""], [res.names[i], ""], [fmt(s), ""], [t === null ? "—" : flagged ? "anomaly" : "normal", "flag"]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  });
  $("table").tBodies[0].replaceChildren(...rows);
  $("table").hidden = false;
  $("table-note").textContent = order.length > MAX_ROWS ? `showing ${MAX_ROWS} of ${order.length} rows${state.sortByScore ? " (highest scores)" : ""}` : "";
}

// A perceptually ordered colour scale (dark blue → teal → yellow → red), t in [0, 1].
const STOPS = [[0, [20, 24, 82]], [0.3, [33, 118, 172]], [0.55, [70, 190, 140]], [0.78, [250, 220, 60]], [1, [215, 40, 30]]];
function colour(t) {
  t = Math.min(1, Math.max(0, t));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (t <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const u = (t - t0) / (t1 - t0);
      return c0.map((c, j) => Math.round(c + u * (c1[j] - c)));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

function mapScale(maps) {
  let lo = Infinity, hi = -Infinity;
  for (const m of maps) {
    if (!m) continue;
    const [a, b] = extent(m.values);
    lo = Math.min(lo, a); hi = Math.max(hi, b);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

function drawColorbar(lo, hi) {
  const c = $("colorbar");
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(c.width, c.height);
  for (let x = 0; x < c.width; x++) {
    const [r, g, b] = colour(x / (c.width - 1));
    for (let y = 0; y < c.height; y++) {
      const k = 4 * (y * c.width + x);
      img.data[k] = r; img.data[k + 1] = g; img.data[k + 2] = b; img.data[k + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  $("cb-min").textContent = fmt(lo);
  $("cb-max").textContent = fmt(hi);
  $("cb-caption").textContent = "pixel anomaly score (one scale for all images shown)";
}

function heatCanvas(map, lo, hi) {
  const [h, w] = map.shape;
  const off = document.createElement("canvas");
  off.width = w; off.height = h;
  const ctx = off.getContext("2d");
  const img = ctx.createImageData(w, h);
  const span = hi - lo;
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colour((map.values[i] - lo) / span);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return off;
}

function drawMaps() {
  const res = state.result;
  const maps = res.maps || [];
  const [lo, hi] = mapScale(maps);
  const anyMap = maps.some((m) => m);
  document.querySelector(".colorbar").hidden = !anyMap; // a model that does not localise
  if (anyMap) drawColorbar(lo, hi);
  const alpha = Number($("opacity").value) / 100;
  const figures = res.images.map((bitmap, i) => {
    const fig = document.createElement("figure");
    fig.className = "map";
    fig.dataset.score = String(res.scores[i]);
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width; // the image's own size: CSS scales it keeping the aspect ratio
    canvas.height = bitmap.height;
    const map = maps[i];
    const heat = map ? heatCanvas(map, lo, hi) : null;
    paint(canvas, bitmap, heat, alpha);
    canvas.dataset.drawn = map ? "map" : "image";
    fig._parts = { canvas, bitmap, heat };
    const cap = document.createElement("figcaption");
    cap.append(`${res.names[i]} · ${bitmap.width}×${bitmap.height} · score ${fmt(res.scores[i])} `, document.createElement("strong"));
    if (!map) cap.append(" (no map)");
    fig.append(canvas, cap);
    return fig;
  });
  $("images").replaceChildren(...figures);
  $("maps-box").hidden = false;
  reflag();
}

function paint(canvas, bitmap, heat, alpha) {
  const ctx = canvas.getContext("2d");
  ctx.globalAlpha = 1;
  ctx.drawImage(bitmap, 0, 0);
  if (heat) {
    ctx.imageSmoothingEnabled = true;
    ctx.globalAlpha = alpha;
    ctx.drawImage(heat, 0, 0, canvas.width, canvas.height); // the map stretched to the image
    ctx.globalAlpha = 1;
  }
}

function repaintMaps() {
  const alpha = Number($("opacity").value) / 100;
  for (const fig of $("images").children) {
    const { canvas, bitmap, heat } = fig._parts;
    paint(canvas, bitmap, heat, alpha);
  }
}

function drawTimeline() {
  const res = state.result;
  const box = $("timeline-box");
  box.hidden = false;
  const canvas = $("timeline");
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || 960;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(240 * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const W = cssWidth, H = 240, L = 64, R = 12, T = 12, B = 28;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  const s = res.scores, n = s.length, t = state.threshold;
  let [lo, hi] = extent(s);
  if (t !== null) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
  const x = (i) => L + ((W - L - R) * i) / Math.max(n - 1, 1);
  const y = (v) => T + ((H - T - B) * (hi - v)) / (hi - lo);
  ctx.strokeStyle = "#d0d5dd"; ctx.lineWidth = 1;
  ctx.strokeRect(L, T, W - L - R, H - T - B);
  ctx.fillStyle = "#667085"; ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) ctx.fillText(fmt(v), L - 6, y(v));
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const i of [0, Math.floor((n - 1) / 2), n - 1]) ctx.fillText(String(i), x(i), H - B + 6);
  if (t !== null) { // shade flagged steps
    ctx.fillStyle = "rgba(192, 38, 45, 0.15)";
    const w = Math.max((W - L - R) / Math.max(n, 1), 1);
    for (let i = 0; i < n; i++) if (s[i] > t) ctx.fillRect(x(i) - w / 2, T, w, H - T - B);
  }
  ctx.strokeStyle = "#1f4e9c"; ctx.lineWidth = 1.2;
  ctx.beginPath();
  for (let i = 0; i < n; i++) { if (i) ctx.lineTo(x(i), y(s[i])); else ctx.moveTo(x(i), y(s[i])); }
  ctx.stroke();
  if (t !== null) {
    ctx.strokeStyle = "#c0262d"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(L, y(t)); ctx.lineTo(W - R, y(t)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#c0262d"; ctx.textAlign = "right"; ctx.textBaseline = "bottom";
    ctx.fillText(`threshold ${fmt(t)}`, W - R - 4, y(t) - 3);
  }
  canvas.dataset.drawn = "timeline";
}

// -- wiring -------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("auth").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
  $("model").addEventListener("change", (e) => selectModel(e.target.value));
  $("upload").addEventListener("submit", (e) => { e.preventDefault(); score(); });
  $("thr").addEventListener("input", onSlide);
  $("thr-reset").addEventListener("click", resetThreshold);
  $("opacity").addEventListener("input", repaintMaps);
  $("sort").addEventListener("click", () => { state.sortByScore = !state.sortByScore; if (state.result) drawTable(); });
  window.addEventListener("resize", () => { if (state.result && state.result.kind === "series") drawTimeline(); });
  connect();
});
