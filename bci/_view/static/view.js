// bci view: the page. Frames arrive on a WebSocket; the traces are updated at most once per
// animation frame and only when something new arrived (only the new samples are drawn); the
// probabilities at most 5 times a second, in the same animation frame as the traces; tables
// when their values come (1-2 times a second).
// Everything kept here is bounded.
"use strict";

const HISTORY_S = 32;           // seconds of display samples kept (longest time base + margin)
const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22", "#e377c2"];
const BAD = { disconnected: "#d62728", railed: "#d62728", flat: "#d62728", line_noise: "#ff7f0e", high_variance: "#ff7f0e" };

const S = {
  meta: null, names: [], n: 0, T: [], X: [], tLatest: NaN, dirty: false,
  timebase: 10, display: "sweep", scale: 50, chScale: [], filtered: true, paused: false,
  quality: {}, required: null, traceSize: [0, 0], specRange: [-60, 40], lineFreq: null,
  dec: { T: [], P: [], classes: [], label: null, dirty: false },
  markers: [], lastLabel: null,
  plots: { traces: null, probs: null, spectrum: null },
  ws: null, connected: false, lastFrame: 0, status: {},
};

// Read by tests and benchmarks: the page's own counters.
window.bciView = { fps: 0, draws: 0, frames: 0, nTraces: 0, label: null, labelChanges: 0,
                   latencyRows: 0, connected: false, skipped: 0, samples: 0, gaps: 0 };

function $(id) { return document.getElementById(id); }

function b64(str, Type) {
  const bin = atob(str);
  const buf = new ArrayBuffer(bin.length);
  const u8 = new Uint8Array(buf);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return new Type(buf);
}

function chColor(i) {
  const q = S.quality[S.names[i]];
  if (q && BAD[q.status]) return BAD[q.status];
  return PALETTE[i % PALETTE.length];
}

function sizes() {
  const w = $("traces").clientWidth || 800;
  const side = $("probs").clientWidth || 400;
  const sp = $("spectrum").clientWidth || 800;
  // the traces fill the height of the side column (decoder, latency, stimulus)
  const aside = document.querySelector("aside").offsetHeight || 560;
  return { tw: w, th: Math.max(260, Math.min(900, aside - 40)), pw: side, sw: sp };
}

// ---------------------------------------------------------------- plots
function makeTraces() {
  if (S.plots.traces) { S.plots.traces.destroy(); S.plots.traces = null; }
  const n = S.n, sz = sizes(), sweep = !scrolling();
  const offsets = S.names.map((_, i) => n - 1 - i);
  const opts = {
    width: sz.tw, height: sz.th, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false, auto: false, range: xRange },
              y: { auto: false, range: () => [Y_LO, n - 0.2] } },
    axes: [
      { label: sweep ? "time in the sweep (s; the gap is now)" : "time (s, 0 = newest sample)", size: 40, grid: { stroke: "#eef1f4" } },
      { label: "channel", size: 70, gap: 4,
        splits: u => { const step = Math.max(1, Math.ceil(n * 13 / Math.max(1, u.bbox.height / devicePixelRatio)));
          return offsets.filter((_, i) => i % step === 0); },
        values: (u, splits) => splits.map(v => { const i = n - 1 - Math.round(v); const q = S.quality[S.names[i]];
          return S.names[i] + (q && q.status !== "ok" ? " !" : ""); }),
        grid: { stroke: "#f1f3f5" }, font: "11px system-ui" },
    ],
    series: [{}],
  };
  S.traceSize = [sz.tw, sz.th];
  const u = new uPlot(opts, [[0]], $("traces"));
  S.plots.traces = u;
  // the traces themselves: a canvas of their own over the plot area (see renderTraces)
  const cv = document.createElement("canvas");
  cv.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none";
  u.over.appendChild(cv);
  strip.cv = cv; strip.ctx = cv.getContext("2d"); strip.full = true;
  window.bciView.nTraces = n;
}

// ---------------------------------------------------------------- traces
// uPlot draws the axes and the grid, only when the size, time base or channel labels change.
// The traces are drawn on a canvas of their own over the plot area, and each update draws only
// the samples that are new, so the work per frame does not grow with the channels' history.
// Two displays, as on clinical EEG machines:
//   sweep:  new samples overwrite the oldest ones behind a gap that moves left to right and
//           wraps; a frame changes only the columns at the gap (the default: the cheapest for
//           the browser, which otherwise copies the whole canvas every frame).
//   scroll: the traces move left by the whole pixels the newest sample moved.
// Everything is drawn again when the display, time base, scale, filters, a channel's colour
// or the size change (and once a second with the filters off, to follow each channel's mean).
const Y_LO = -0.8;
const SWEEP_GAP = 0.03;  // the gap ahead of the newest sample, as a fraction of the width
// the display in use: scroll when chosen, else the default sweep
function scrolling() { return S.display === "scroll"; }
// the time axis: seconds into the sweep, or before the newest sample when scrolling
function xRange() { return scrolling() ? [-S.timebase, 0] : [0, S.timebase]; }
// the time a display shows: a sweep leaves its gap empty
function span() { return scrolling() ? S.timebase : S.timebase * (1 - SWEEP_GAP); }
const strip = { cv: null, ctx: null, w: 0, h: 0, pxPerS: 1, tRef: NaN, pRight: 0, tRight: NaN,
                tDrawn: NaN, full: true, labelT: -Infinity, a: null, b: null, colors: [] };

function stripLayout() {
  const cv = strip.cv, dpr = devicePixelRatio || 1;
  const w = Math.max(1, Math.round(cv.clientWidth * dpr)), h = Math.max(1, Math.round(cv.clientHeight * dpr));
  if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; }
  strip.w = w; strip.h = h; strip.pxPerS = w / S.timebase;
  // value -> pixel per channel: y = b[i] + a[i] * v (the channel's offset, scale and mean)
  const n = S.n, yHi = n - 0.2, k = h / (yHi - Y_LO);
  strip.a = new Float64Array(n); strip.b = new Float64Array(n);
  const i0 = Math.max(0, lowerBound(S.T, S.tLatest - S.timebase) - 1);
  for (let i = 0; i < n; i++) {
    const g = 0.5 / (S.scale * S.chScale[i]);
    let mean = 0;
    if (!S.filtered) {  // raw: each channel's mean over the window is removed
      const col = S.X[i]; let c = 0;
      for (let j = i0; j < col.length; j++) { const v = col[j]; if (v === v) { mean += v; c++; } }
      mean = c ? mean / c : 0;
    }
    strip.a[i] = -g * k; strip.b[i] = (yHi - (n - 1 - i) + mean * g) * k;
  }
  strip.colors = S.names.map((_, i) => chColor(i));
}

// a sample's x in device pixels: a sweep wraps at the width, a scroll puts the newest at the right
function xSweep(t) { const tb = S.timebase; return (((t % tb) + tb) % tb) * strip.pxPerS; }
function xScroll(t) { return strip.w + (t - strip.tRight) * strip.pxPerS; }

function stripSegment(j0, j1, xOf) {
  // samples j0..j1 of every channel, x increasing over them; a NaN (a gap) lifts the pen
  const ctx = strip.ctx, T = S.T;
  ctx.lineWidth = devicePixelRatio || 1; ctx.lineJoin = "round"; ctx.setLineDash([]);
  for (let i = 0; i < S.n; i++) {
    const col = S.X[i], a = strip.a[i], b = strip.b[i];
    ctx.beginPath(); let down = false;
    for (let j = j0; j <= j1; j++) {
      const v = col[j];
      if (v !== v) { down = false; continue; }
      const x = xOf(T[j]), y = b + a * v;
      if (down) ctx.lineTo(x, y); else { ctx.moveTo(x, y); down = true; }
    }
    ctx.strokeStyle = strip.colors[i]; ctx.stroke();
  }
}

function stripSamples(j0, j1) {
  // samples j0..j1 in the chosen display; a sweep is cut where it wraps
  if (j1 <= j0) return;
  if (scrolling()) { stripSegment(j0, j1, xScroll); return; }
  let a = j0;
  for (let j = j0 + 1; j <= j1; j++) {
    if (xSweep(S.T[j]) < xSweep(S.T[j - 1])) { if (j - 1 > a) stripSegment(a, j - 1, xSweep); a = j; }
  }
  if (j1 > a) stripSegment(a, j1, xSweep);
}

function sweepClear(t0, t1) {
  // the columns after the sample at t0 up to the gap ahead of t1, wrapping past the right edge
  const ctx = strip.ctx, w = strip.w, h = strip.h;
  const x0 = Math.ceil(xSweep(t0) + (devicePixelRatio || 1));
  const x1 = Math.ceil(xSweep(t0) + (t1 - t0) * strip.pxPerS + SWEEP_GAP * w);
  if (x0 < w) ctx.clearRect(x0, 0, Math.min(x1, w) - x0, h);
  if (x1 > w) ctx.clearRect(Math.max(0, x0 - w), 0, x1 - w - Math.max(0, x0 - w), h);
}

function stripMarkers(all) {
  // markers and stimulus onsets: dashed lines, drawn once the traces reach them, with their
  // label left of the line (right of it at the left edge) unless it would cover the one before
  const ctx = strip.ctx, dpr = devicePixelRatio || 1, h = strip.h, sweep = !scrolling();
  const tL = strip.tDrawn - span();
  ctx.save();
  ctx.font = `${Math.round(10 * dpr)}px system-ui`; ctx.textBaseline = "top";
  ctx.lineWidth = dpr; ctx.setLineDash([4 * dpr, 3 * dpr]);
  for (const m of S.markers) {
    if (m.drawn && !all) continue;
    if (!(m.t <= strip.tDrawn)) { m.drawn = false; continue; }
    m.drawn = true;
    if (m.t < tL) continue;
    const x = Math.round(sweep ? xSweep(m.t) : xScroll(m.t)) + 0.5;
    ctx.strokeStyle = "rgba(200, 30, 30, 0.75)";
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke();
    if ((m.t - strip.labelT) * strip.pxPerS > 50 * dpr || m.t < strip.labelT) {
      const right = x - 3 * dpr - ctx.measureText(m.v).width < 0;  // no room left of it: right of it
      ctx.textAlign = right ? "left" : "right"; ctx.fillStyle = "rgba(160, 20, 20, 0.95)";
      ctx.fillText(m.v, right ? x + 3 * dpr : x - 3 * dpr, 2 * dpr); strip.labelT = m.t;
    }
  }
  ctx.restore();
}

function stripFull() {
  stripLayout();
  strip.ctx.clearRect(0, 0, strip.w, strip.h);
  strip.tRef = strip.tRight = S.tLatest; strip.pRight = 0; strip.labelT = -Infinity; strip.full = false;
  strip.tDrawn = NaN;
  if (!S.T.length || !isFinite(S.tLatest)) return;
  const sweep = !scrolling(), j1 = S.T.length - 1;
  const j0 = Math.max(0, lowerBound(S.T, S.tLatest - span()) - (sweep ? 0 : 1));  // scroll: joined at the edge
  stripSamples(j0, j1);
  strip.tDrawn = S.T[j1];
  if (sweep) sweepClear(strip.tDrawn, strip.tDrawn);
  stripMarkers(true);
}

function renderTraces() {
  // returns true when something new was drawn
  if (!strip.cv || !S.T.length || !isFinite(S.tLatest)) return false;
  if (strip.full || !isFinite(strip.tDrawn)) { stripFull(); return true; }
  return scrolling() ? scrollStep() : sweepStep();
}

function sweepStep() {
  const j0 = lowerBound(S.T, strip.tDrawn), j1 = S.T.length - 1;  // j0: the last sample drawn
  if (j1 <= j0) return false;
  if (S.T[j1] - strip.tDrawn >= span()) { stripFull(); return true; }
  // the gap moves on: clear up to the gap ahead of the newest sample, then draw the new samples
  sweepClear(strip.tDrawn, S.T[j1]);
  stripSamples(j0, j1);
  strip.tDrawn = S.T[j1];
  stripMarkers(false);
  return true;
}

function scrollStep() {
  const p = Math.floor((S.tLatest - strip.tRef) * strip.pxPerS), dx = p - strip.pRight;
  if (dx < 0 || dx >= strip.w) { stripFull(); return true; }
  const ctx = strip.ctx, w = strip.w, h = strip.h;
  if (dx > 0) {  // the drawn traces move left by whole pixels
    ctx.globalCompositeOperation = "copy";
    ctx.drawImage(strip.cv, dx, 0, w - dx, h, 0, 0, w - dx, h);
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(w - dx, 0, dx, h);
    strip.pRight = p; strip.tRight = strip.tRef + p / strip.pxPerS;
  }
  // the new samples up to the right edge, joined to the last one drawn
  const j0 = lowerBound(S.T, strip.tDrawn), j1 = lowerBound(S.T, strip.tRight + 1e-9) - 1;
  if (j1 <= j0 && dx === 0) return false;
  if (j1 > j0) { stripSamples(j0, j1); strip.tDrawn = S.T[j1]; }
  stripMarkers(false);
  return true;
}

function makeProbs(classes) {
  if (S.plots.probs) { S.plots.probs.destroy(); S.plots.probs = null; }
  const sz = sizes();
  const series = [{}, ...classes.map((c, i) => ({ label: c, stroke: PALETTE[i % PALETTE.length], width: 1.5, points: { show: false } })),
                  { label: "chance", stroke: "#999", dash: [5, 4], width: 1, points: { show: false } }];
  S.plots.probs = new uPlot({
    width: sz.pw, height: 140, cursor: { show: false }, legend: { show: true, live: false },
    scales: { x: { time: false, auto: true, range: () => [-S.timebase, 0] }, y: { auto: false, range: [0, 1] } },
    axes: [{ label: "time (s)", size: 34 }, { label: "probability", size: 44 }],
    series,
  }, [[0], ...series.slice(1).map(() => [null])], $("probs"));
}

function makeSpectrum() {
  if (S.plots.spectrum) { S.plots.spectrum.destroy(); S.plots.spectrum = null; }
  const sz = sizes();
  const series = [{}];
  for (let i = 0; i < S.n; i++) series.push({ label: S.names[i], stroke: () => chColor(i), width: 1, points: { show: false } });
  S.plots.spectrum = new uPlot({
    width: sz.sw, height: 200, cursor: { show: false }, legend: { show: false },
    scales: { x: { time: false }, y: { auto: true, range: () => S.specRange } },
    axes: [{ label: "frequency (Hz)", size: 36 }, { label: "power (dB re 1 µV²/Hz)", size: 56 }],
    series,
    hooks: { drawClear: [drawBands] },
  }, [[0], ...S.names.map(() => [null])], $("spectrum"));
}

// ---------------------------------------------------------------- data
function setMeta(meta) {
  S.meta = meta; S.names = meta.ch_names; S.n = S.names.length;
  S.chScale = S.names.map(() => 1);
  S.T = []; S.X = S.names.map(() => []);
  $("sigdesc").textContent = `${meta.name}: ${S.n} ch @ ${meta.sfreq} Hz, shown at ${meta.display_rate.toFixed(0)} Hz`;
  makeTraces(); makeSpectrum(); buildQualityTable();
}

function addSignal(sig) {
  if (sig.reset) { S.T = []; S.X = S.names.map(() => []); strip.full = true; }
  const n = sig.n, x = b64(sig.x, Float32Array), t = b64(sig.t, Float64Array);
  for (let j = 0; j < n; j++) { S.T.push(t[j]); if (x[j] !== x[j]) window.bciView.gaps += 1; }
  for (let i = 0; i < S.n; i++) {
    const col = S.X[i], off = i * n;
    for (let j = 0; j < n; j++) col.push(x[off + j]);
  }
  for (let j = n - 1; j >= 0; j--) { if (isFinite(t[j])) { S.tLatest = Math.max(isFinite(S.tLatest) ? S.tLatest : -Infinity, t[j]); break; } }
  const keep = Math.ceil(HISTORY_S * S.meta.display_rate);
  if (S.T.length > keep * 1.2) {
    const cut = S.T.length - keep;
    S.T.splice(0, cut); for (const col of S.X) col.splice(0, cut);
  }
  window.bciView.samples += n;
  markDirty();
}

function lowerBound(arr, v) { let lo = 0, hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; } return lo; }

function addDecisions(d) {
  if (!S.plots.probs || S.dec.classes.join() !== d.classes.join()) { S.dec.classes = d.classes; makeProbs(d.classes); S.dec.T = []; S.dec.P = []; }
  for (let j = 0; j < d.t.length; j++) { S.dec.T.push(d.t[j]); S.dec.P.push(d.p[j]); }
  const lab = d.label[d.label.length - 1];
  const name = lab >= 0 && lab < d.classes.length ? d.classes[lab] : "(none)";
  if (name !== S.lastLabel) { window.bciView.labelChanges += 1; S.lastLabel = name; }
  S.dec.labelName = name;  // shown at most 5 times a second: a text change lays out the page
  if (S.dec.T.length > 2000) { S.dec.T.splice(0, 500); S.dec.P.splice(0, 500); }
  S.dec.dirty = true;
  requestDraw();
}

function renderProbs() {
  const u = S.plots.probs; if (!u || !S.dec.T.length) return;
  const ref = isFinite(S.tLatest) ? S.tLatest : S.dec.T[S.dec.T.length - 1];
  const i0 = Math.max(0, lowerBound(S.dec.T, ref - S.timebase) - 1);
  const xs = S.dec.T.slice(i0).map(t => t - ref);
  const k = S.dec.classes.length;
  const data = [xs];
  for (let c = 0; c < k; c++) data.push(S.dec.P.slice(i0).map(p => p[c]));
  data.push(xs.map(() => 1 / k));
  u.setData(data);
}

function drawBands(u) {
  // alpha band and mains frequency, so both are easy to find
  const ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, dpr = devicePixelRatio;
  const x = f => u.valToPos(f, "x", true);
  if (!isFinite(x(8))) return;
  ctx.save();
  ctx.fillStyle = "rgba(46, 125, 50, 0.08)"; ctx.fillRect(x(8), top, x(13) - x(8), h);
  ctx.font = `${Math.round(10 * dpr)}px system-ui`; ctx.textBaseline = "top";
  ctx.fillStyle = "rgba(46, 125, 50, 0.9)"; ctx.fillText("alpha", x(8) + 2 * dpr, top + 2 * dpr);
  if (S.lineFreq) {
    ctx.strokeStyle = "rgba(230, 81, 0, 0.6)"; ctx.setLineDash([4, 3]); ctx.lineWidth = dpr;
    ctx.beginPath(); ctx.moveTo(x(S.lineFreq), top); ctx.lineTo(x(S.lineFreq), top + h); ctx.stroke();
    ctx.fillStyle = "rgba(230, 81, 0, 0.9)"; ctx.fillText(`${S.lineFreq} Hz mains`, x(S.lineFreq) + 3 * dpr, top + 2 * dpr);
  }
  ctx.restore();
}

function setSpectrum(sp) {
  const u = S.plots.spectrum; if (!u || !sp) return;
  // y range from the channels that carry a signal (a flat channel's -120 dB would squash it)
  let lo = Infinity, hi = -Infinity;
  sp.db.forEach((row, i) => { const q = S.quality[S.names[i]];
    if (q && ["flat", "disconnected", "railed"].includes(q.status)) return;
    for (const v of row) { if (v > -100) { if (v < lo) lo = v; if (v > hi) hi = v; } } });
  S.specRange = isFinite(lo) ? [Math.floor(lo / 10) * 10 - 5, Math.ceil(hi / 10) * 10 + 5] : [-60, 40];
  u.setData([sp.f, ...sp.db]);
}

function buildQualityTable() {
  const body = $("quality").querySelector("tbody");
  body.innerHTML = "";
  S.names.forEach((ch, i) => {
    const tr = document.createElement("tr"); tr.dataset.ch = ch;
    const req = S.required === null || S.required.includes(ch) ? " *" : "";
    tr.innerHTML = `<td>${ch}${req}</td><td class="status">–</td><td class="std">–</td><td class="line">–</td><td class="imp">–</td>` +
      `<td><span class="sc">×1</span><button data-i="${i}" data-f="0.5" title="zoom in">+</button><button data-i="${i}" data-f="2" title="zoom out">−</button></td>`;
    body.appendChild(tr);
  });
  body.querySelectorAll("button").forEach(b => b.addEventListener("click", () => {
    const i = +b.dataset.i; S.chScale[i] *= +b.dataset.f;
    b.parentElement.querySelector(".sc").textContent = "×" + (1 / S.chScale[i]).toString().slice(0, 5);
    redrawAll();
  }));
}

function setQuality(list) {
  const before = S.names.map(ch => (S.quality[ch] || {}).status).join();
  S.quality = {};
  for (const q of list) S.quality[q.name] = q;
  const changed = S.names.map(ch => (S.quality[ch] || {}).status).join() !== before;
  for (const tr of $("quality").querySelectorAll("tbody tr")) {
    const q = S.quality[tr.dataset.ch]; if (!q) continue;
    const cls = q.status === "ok" ? "" : (BAD[q.status] === "#d62728" ? "bad" : "warn");
    if (tr.className !== cls) tr.className = cls;
    setText(tr.querySelector(".status"), q.status.replace("_", " "));
    setText(tr.querySelector(".std"), q.std_uv === null ? "–" : q.std_uv.toFixed(1));
    setText(tr.querySelector(".line"), (100 * q.line_ratio).toFixed(0) + " %");
    setText(tr.querySelector(".imp"), q.impedance_kohm === null ? "–" : q.impedance_kohm.toFixed(0));
  }
  // channel colours and "!" marks: axes and traces again only when a status changed
  if (changed) { if (S.plots.traces) S.plots.traces.redraw(false, true); redrawAll(); }
  else if (!S.filtered) redrawAll();  // raw traces follow each channel's mean
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

function setLatency(lat) {
  // the rows are built once; later updates change only the cells whose text changed
  const body = $("latency").querySelector("tbody");
  const stages = Object.entries(lat.stages);
  if (body.rows.length !== stages.length) {
    body.innerHTML = stages.map(() => "<tr><td></td><td></td><td></td><td></td><td></td></tr>").join("");
  }
  let rows = 0;
  stages.forEach(([st, r], k) => {
    const f = v => v === null || v === undefined ? "–" : v.toFixed(2);
    const over = r.p99 !== null && r.budget !== null && r.p99 > r.budget;
    const c = body.rows[k].cells;
    setText(c[0], st); setText(c[1], f(r.p50)); setText(c[2], f(r.p99)); setText(c[3], f(r.budget));
    setText(c[4], String(r.overruns));
    const cls = over ? "over" : "";
    if (c[2].className !== cls) c[2].className = cls;
    if (r.p50 !== null) rows++;
  });
  window.bciView.latencyRows = rows;
  setText($("latdesc"), lat.n ? `(last ${Math.min(500, lat.n)} of ${lat.n} decisions)` : "(no stamps stream yet)");
}

function setAccuracy(acc) {
  setText($("cue"), acc.cue ? (acc.cue.class || acc.cue.label) : "–");
  setText($("accuracy"), acc.accuracy === null ? "–" : `${(100 * acc.accuracy).toFixed(0)} %`);
  setText($("accdesc"), acc.accuracy === null ? "" :
    `${acc.correct}/${acc.scored} decisions, chance ${(100 * acc.chance).toFixed(0)} %`);
}

function setStimulus(st) {
  const parts = [`<b>${st.kind || "?"}</b> ${st.label || ""}`];
  for (const k of ["frequency", "depth", "duration", "predicted", "measured"]) if (st[k] !== undefined && st[k] !== null) parts.push(`${k}: ${typeof st[k] === "number" ? +st[k].toFixed(3) : st[k]}`);
  $("stimulus").innerHTML = parts.join("<br>");
  const cv = $("stimimg"), ctx = cv.getContext("2d");
  ctx.fillStyle = "#888"; ctx.fillRect(0, 0, cv.width, cv.height);
  if (st.image && st.image.b64) {
    const w = st.image.w, h = st.image.h, px = b64(st.image.b64, Uint8Array);
    const img = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) { img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = px[i]; img.data[4 * i + 3] = 255; }
    const tmp = document.createElement("canvas"); tmp.width = w; tmp.height = h; tmp.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false; ctx.drawImage(tmp, 0, 0, cv.width, cv.height);
  }
}

function setBanner(status) {
  const el = $("banner");
  const msgs = [];
  if (!S.connected) msgs.push("view server not reachable: retrying (traces kept)");
  else {
    if (status.signal === "waiting") msgs.push("waiting for a signal stream");
    if (status.signal === "silent") msgs.push(`signal stream ${S.meta ? S.meta.name : ""} stopped sending: the gap is kept, it resumes when the stream comes back`);
  }
  const text = msgs.join(" · "), cls = "banner" + (msgs.length ? (S.connected ? "" : " bad") : " hidden");
  if (el.textContent !== text) el.textContent = text;
  if (el.className !== cls) el.className = cls;
}

// ---------------------------------------------------------------- socket
function onFrame(f) {
  window.bciView.frames += 1;
  S.status = f.status || {};
  if (f.meta) setMeta(f.meta);
  if (f.signal && S.meta) addSignal(f.signal);
  if (f.quality) setQuality(f.quality);
  if (f.spectrum) setSpectrum(f.spectrum);
  if (f.decisions) addDecisions(f.decisions);
  if (f.markers) { for (const m of f.markers) S.markers.push(m); if (S.markers.length > 300) S.markers.splice(0, S.markers.length - 300); markDirty(); }
  if (f.latency) setLatency(f.latency);
  if (f.accuracy) setAccuracy(f.accuracy);
  if (f.stimulus) setStimulus(f.stimulus);
  if (f.skipped !== undefined) window.bciView.skipped = f.skipped;
  setBanner(S.status);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws${location.search}`);
  S.ws = ws;
  ws.onopen = () => { S.connected = window.bciView.connected = true; ws.send(JSON.stringify({ filtered: S.filtered })); setBanner(S.status); };
  ws.onmessage = ev => onFrame(JSON.parse(ev.data));
  ws.onclose = () => {
    S.connected = window.bciView.connected = false; setBanner(S.status);
    setTimeout(connect, 1000);
  };
}

// ---------------------------------------------------------------- loop
// Drawing is driven by arriving data: a frame asks for one animation frame, and everything
// that changed is drawn in it (the browser then composes one frame, not one per panel).
// Nothing runs between frames except the once-a-second counters.
const PROBS_EVERY_MS = 200;  // the probabilities and the emitted label: at most 5 times a second
let rafPending = false, fpsCount = 0, fpsT = performance.now(), probsT = -Infinity;
function requestDraw() {
  if (!rafPending && !S.paused) { rafPending = true; requestAnimationFrame(loop); }
}
function markDirty() { S.dirty = true; requestDraw(); }
function redrawAll() { strip.full = true; markDirty(); }

function loop(now) {
  rafPending = false;
  if (S.paused) return;
  if (S.dirty) {
    S.dirty = false;
    if (renderTraces()) { fpsCount++; window.bciView.draws++; }
  }
  if (S.dec.dirty && now - probsT >= PROBS_EVERY_MS) {
    probsT = now; S.dec.dirty = false;
    renderProbs();
    setText($("label"), S.dec.labelName); window.bciView.label = S.dec.labelName;
  }
}

function secondTick() {
  if (S.dec.dirty) requestDraw();  // probabilities held back by the 5 Hz limit, and no frame since
  const now = performance.now();
  const u = S.plots.traces, sz = sizes();  // keep the traces as tall as the side column
  if (u && (Math.abs(S.traceSize[1] - sz.th) > 8 || Math.abs(S.traceSize[0] - sz.tw) > 8)) {
    u.setSize({ width: sz.tw, height: sz.th }); S.traceSize = [sz.tw, sz.th]; redrawAll();
  }
  window.bciView.fps = fpsCount * 1000 / (now - fpsT);
  const txt = `${window.bciView.fps.toFixed(0)} fps`;
  if ($("fps").textContent !== txt) $("fps").textContent = txt;
  fpsCount = 0; fpsT = now;
}

function init() {
  fetch("config" + location.search).then(r => r.json()).then(cfg => {
    S.required = cfg.required; S.lineFreq = cfg.line_freq;
    const parts = [];
    if (cfg.session) parts.push(`session ${cfg.session}`);
    if (cfg.signal) parts.push(`stream ${cfg.signal}`);
    $("title").textContent = parts.join(" · ");
    const bp = cfg.bandpass ? `${cfg.bandpass[0]}–${cfg.bandpass[1]} Hz` : "";
    $("filterdesc").textContent = `(${[bp, cfg.notch ? `notch ${cfg.notch} Hz` : ""].filter(Boolean).join(", ")})`;
  }).catch(() => {});
  $("timebase").addEventListener("change", e => { S.timebase = +e.target.value; S.dec.dirty = true;
    const [min, max] = xRange(); if (S.plots.traces) S.plots.traces.setScale("x", { min, max }); redrawAll(); });
  $("display").addEventListener("change", e => { S.display = e.target.value; if (S.meta) makeTraces(); redrawAll(); });
  $("scale").addEventListener("change", e => { S.scale = +e.target.value; redrawAll(); });
  $("filters").addEventListener("change", e => { S.filtered = e.target.checked; if (S.ws && S.connected) S.ws.send(JSON.stringify({ filtered: S.filtered })); });
  $("pause").addEventListener("click", e => { S.paused = !S.paused; e.target.textContent = S.paused ? "resume" : "pause"; if (!S.paused) { S.dec.dirty = true; redrawAll(); } });
  window.addEventListener("resize", () => { const sz = sizes();
    if (S.plots.traces) { S.plots.traces.setSize({ width: sz.tw, height: sz.th }); S.traceSize = [sz.tw, sz.th]; redrawAll(); }
    if (S.plots.probs) S.plots.probs.setSize({ width: sz.pw, height: 140 });
    if (S.plots.spectrum) S.plots.spectrum.setSize({ width: sz.sw, height: 200 }); });
  setBanner({});
  connect();
  setInterval(secondTick, 1000);
}
init();
