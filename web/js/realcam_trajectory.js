// RealCam camera trajectory editor: a canvas inside the "RealCam Camera Trajectory" node.
// Top view (x → right, z → up) and side view (z → right, −y → up) of the keyframed path with camera
// frustums; click empty space in the top view to add a keyframe at the scrubber's time, drag keys in
// either view, double-click (or select + Delete) to remove; insert a preset; timeline scrubber; speed.
// State lives as trajectory JSON (schema v1, docs/trajectory_json.md) in the node's "trajectory"
// STRING widget, so a saved workflow carries the path and Python reads the same document.
import { app } from "../../../scripts/app.js";

const NODE = "RealCamCameraTrajectory";
const W = 360, H = 180;                       // canvas size (two square panels side by side)

function parseState(text, frames, fps) {
  try {
    const s = JSON.parse(text);
    if (s && s.version === 1) return s;
  } catch (e) { /* fall through to a default */ }
  return { version: 1, type: "spline", frames, fps, spline: { keyframes: [
    { t: 0, position: [0, 0, 0], look_at: [0, 0, 4] },
    { t: (frames - 1) / fps, position: [1.5, 0, 0.5], look_at: [0, 0, 4] }] } };
}

// yaw/pitch/roll (deg) → optical axis (OpenCV: x right, y down, z forward), as realcam.camera does
function forwardOf(key) {
  if (key.look_at) {
    const d = key.look_at.map((v, i) => v - key.position[i]);
    const n = Math.hypot(...d) || 1;
    return d.map((v) => v / n);
  }
  const y = (key.yaw || 0) * Math.PI / 180, p = (key.pitch || 0) * Math.PI / 180;
  return [Math.sin(y) * Math.cos(p), -Math.sin(p), Math.cos(y) * Math.cos(p)];
}

// frustum corners (4 points) of a camera at `pos` looking along `f`, `d` metres deep
function frustumCorners(pos, f, d) {
  const down = [0, 1, 0];
  let r = [down[1] * f[2] - down[2] * f[1], down[2] * f[0] - down[0] * f[2], down[0] * f[1] - down[1] * f[0]];
  const n = Math.hypot(...r) || 1;
  r = r.map((v) => v / n);
  const u = [f[1] * r[2] - f[2] * r[1], f[2] * r[0] - f[0] * r[2], f[0] * r[1] - f[1] * r[0]];
  return [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([a, b]) => pos.map((v, i) => v + d * (f[i] + 0.6 * a * r[i] + 0.4 * b * u[i])));
}

// centripetal Catmull–Rom through the key positions, for display (Python does the real sampling)
function sampleCurve(keys, perSegment = 12) {
  const P = keys.map((k) => k.position);
  if (P.length < 2) return P.slice();
  const ext = [P[0].map((v, i) => 2 * v - P[1][i]), ...P, P[P.length - 1].map((v, i) => 2 * v - P[P.length - 2][i])];
  const out = [];
  const knot = (a, b) => Math.sqrt(Math.max(Math.hypot(...a.map((v, i) => v - b[i])), 1e-9));
  const lerp = (a, b, ta, tb, t) => a.map((v, i) => ((tb - t) * v + (t - ta) * b[i]) / (tb - ta));
  for (let s = 0; s < P.length - 1; s++) {
    const [p0, p1, p2, p3] = [ext[s], ext[s + 1], ext[s + 2], ext[s + 3]];
    const t1 = knot(p0, p1), t2 = t1 + knot(p1, p2), t3 = t2 + knot(p2, p3);
    for (let j = 0; j < perSegment; j++) {
      const t = t1 + (j / perSegment) * (t2 - t1);
      const a1 = lerp(p0, p1, 0, t1, t), a2 = lerp(p1, p2, t1, t2, t), a3 = lerp(p2, p3, t2, t3, t);
      const b1 = lerp(a1, a2, 0, t2, t), b2 = lerp(a2, a3, t1, t3, t);
      out.push(lerp(b1, b2, t1, t2, t));
    }
  }
  out.push(P[P.length - 1]);
  return out;
}

class TrajectoryEditor {
  constructor(node, jsonWidget) {
    this.node = node;
    this.json = jsonWidget;
    this.selected = -1;
    this.drag = null;
    this.time = 0;
    this.root = document.createElement("div");
    this.root.className = "realcam-trajectory-editor";
    this.root.style.cssText = "display:flex;flex-direction:column;gap:4px;font:11px sans-serif;color:#ddd";
    this.canvas = document.createElement("canvas");
    this.canvas.width = W; this.canvas.height = H;
    this.canvas.style.cssText = "width:100%;background:#1e1e21;border-radius:4px;cursor:crosshair";
    this.canvas.dataset.realcam = "canvas";
    this.root.appendChild(this.canvas);
    const row = document.createElement("div");
    row.style.cssText = "display:flex;gap:4px;align-items:center;flex-wrap:wrap";
    this.scrub = Object.assign(document.createElement("input"), { type: "range", min: 0, value: 0, title: "Timeline: the frame whose camera is highlighted; new keyframes go here" });
    this.scrub.style.flex = "1";
    this.label = document.createElement("span");
    this.presetSel = document.createElement("select");
    this.presetSel.title = "Replace the keyframes with a preset motion (then edit it)";
    for (const p of ["orbit_left", "orbit_right", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out",
      "translate_up", "translate_down", "arc_left", "arc_right", "push_in", "pull_out", "crane_up", "crane_down"]) {
      this.presetSel.appendChild(Object.assign(document.createElement("option"), { value: p, textContent: p }));
    }
    const insert = Object.assign(document.createElement("button"), { textContent: "insert preset", title: "Replace keyframes with the selected preset" });
    const del = Object.assign(document.createElement("button"), { textContent: "delete key", title: "Delete the selected keyframe" });
    this.speed = Object.assign(document.createElement("input"), { type: "number", value: 1, step: 0.1, min: 0.1, title: "Speed: multiplies how fast the camera moves through the keyframes" });
    this.speed.style.width = "48px";
    this.constant = Object.assign(document.createElement("input"), { type: "checkbox", title: "Constant speed along the path" });
    this.live = Object.assign(document.createElement("input"), { type: "text", placeholder: "live session",
      title: "Live steering: the live_session of a running RealCam Streaming Sampler. Every edit is sent to it; the next chunk follows." });
    this.live.style.width = "90px";
    row.append(this.scrub, this.label, this.presetSel, insert, del, "speed", this.speed, "even", this.constant, this.live);
    this.root.appendChild(row);

    this.scrub.addEventListener("input", () => { this.time = Number(this.scrub.value) / this.fps(); this.draw(); });
    insert.addEventListener("click", () => this.insertPreset(this.presetSel.value));
    del.addEventListener("click", () => this.deleteKey(this.selected));
    this.speed.addEventListener("change", () => this.rescale(Number(this.speed.value) || 1));
    this.constant.addEventListener("change", () => { this.toSpline(); this.state.spline.constant_speed = this.constant.checked; this.commit(); });
    this.canvas.addEventListener("mousedown", (e) => this.onDown(e));
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    window.addEventListener("mouseup", () => { if (this.drag) { this.drag = null; this.commit(); } });
    this.canvas.addEventListener("dblclick", (e) => { const hit = this.hit(e); if (hit) this.deleteKey(hit.index); });
    this.reload();
  }

  frames() { return this.node.widgets.find((w) => w.name === "frames")?.value ?? 81; }
  fps() { return this.node.widgets.find((w) => w.name === "fps")?.value ?? 16; }

  reload() {
    this.state = parseState(this.json.value, this.frames(), this.fps());
    this.scrub.max = Math.max(0, this.frames() - 1);
    this.constant.checked = !!this.state.spline?.constant_speed;
    this.draw();
  }

  keys() { return this.state.type === "spline" ? this.state.spline.keyframes : []; }

  // presets become editable keyframes through the pack's route (the Python presets are the reference)
  async toSplineFromPreset() {
    if (this.state.type !== "preset") return;
    await this.insertPreset(this.state.preset.name, this.state.preset);
  }

  toSpline() {
    if (this.state.type !== "spline") {
      this.state = { version: 1, type: "spline", frames: this.frames(), fps: this.fps(),
        spline: { keyframes: [{ t: 0, position: [0, 0, 0], look_at: [0, 0, 4] }] } };
    }
  }

  async insertPreset(name, opts = {}) {
    const res = await fetch("/realcam/preset_keyframes", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, frames: this.frames(), fps: this.fps(), count: 5, amplitude: opts.amplitude ?? 1, speed: opts.speed ?? 1 }) });
    const data = await res.json();
    if (!res.ok) { console.error("RealCam preset:", data.error); return; }
    this.state = { version: 1, type: "spline", frames: this.frames(), fps: this.fps(),
      spline: { keyframes: data.keyframes, constant_speed: this.constant.checked } };
    this.commit();
  }

  commit() {
    this.state.frames = this.frames();
    this.state.fps = this.fps();
    if (this.state.type === "spline") this.state.spline.keyframes.sort((a, b) => a.t - b.t);
    this.json.value = JSON.stringify(this.state);
    this.json.callback?.(this.json.value);
    if (this.live.value.trim()) this.sendLive();
    this.node.setDirtyCanvas?.(true, true);
    this.draw();
  }

  async sendLive() {
    const res = await fetch("/realcam/live_camera", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: this.live.value.trim(), trajectory: this.state }) });
    if (!res.ok) console.error("RealCam live camera:", (await res.json()).error);
  }

  deleteKey(i) {
    const keys = this.keys();
    if (i < 0 || i >= keys.length || keys.length <= 1) return;
    keys.splice(i, 1);
    this.selected = -1;
    this.commit();
  }

  // speed is applied to the keyframe times (the schema stores times only)
  rescale(speed) {
    this.toSpline();
    const factor = (this.lastSpeed || 1) / speed;
    for (const k of this.keys()) k.t = Math.round(k.t * factor * 1e6) / 1e6;
    this.lastSpeed = speed;
    this.commit();
  }

  // --- geometry ------------------------------------------------------------------------------------------
  bounds() {
    const pts = this.keys().flatMap((k) => [k.position, ...(k.look_at ? [k.look_at] : [])]);
    if (!pts.length) pts.push([0, 0, 0]);
    const lo = [0, 1, 2].map((i) => Math.min(...pts.map((p) => p[i])));
    const hi = [0, 1, 2].map((i) => Math.max(...pts.map((p) => p[i])));
    const span = Math.max(4, ...hi.map((h, i) => h - lo[i])) * 1.3;
    return { c: lo.map((l, i) => (l + hi[i]) / 2), span };
  }

  // panel 0: top (x, z); panel 1: side (z, -y)
  toCanvas(p, panel) {
    const { c, span } = this.bounds(), s = H / span;
    const [u, v, cu, cv] = panel === 0 ? [p[0], p[2], c[0], c[2]] : [p[2], -p[1], c[2], -c[1]];
    return [panel * H + H / 2 + (u - cu) * s, H / 2 - (v - cv) * s];
  }

  fromCanvas(x, y, panel) {
    const { c, span } = this.bounds(), s = H / span;
    const u = (x - panel * H - H / 2) / s, v = (H / 2 - y) / s;
    return panel === 0 ? { x: c[0] + u, z: c[2] + v } : { z: c[2] + u, y: -(-c[1] + v) };
  }

  eventXY(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * W / r.width, (e.clientY - r.top) * H / r.height];
  }

  hit(e) {
    const [x, y] = this.eventXY(e), panel = x < H ? 0 : 1;
    let best = null;
    this.keys().forEach((k, index) => {
      const [px, py] = this.toCanvas(k.position, panel);
      const d = Math.hypot(px - x, py - y);
      if (d < 8 && (!best || d < best.d)) best = { index, d, panel };
    });
    return best;
  }

  onDown(e) {
    e.stopPropagation();
    if (this.state.type === "preset") { this.toSplineFromPreset(); return; }
    const hit = this.hit(e);
    if (hit) { this.selected = hit.index; this.drag = hit; this.draw(); return; }
    const [x, y] = this.eventXY(e);
    if (x >= H) return;                      // new keys are placed in the top view
    this.toSpline();
    const keys = this.keys();
    const p = this.fromCanvas(x, y, 0);
    const maxT = keys.length ? Math.max(...keys.map((k) => k.t)) : 0;
    let t = this.time;
    if (keys.some((k) => Math.abs(k.t - t) < 1e-6)) t = maxT + 1;   // scrubber on a key: append a second later
    const near = keys.reduce((a, k) => (Math.abs(k.t - t) < Math.abs(a.t - t) ? k : a), keys[0] || { position: [0, 0, 0], look_at: [0, 0, 4] });
    const key = { t: Math.round(t * 1e6) / 1e6, position: [p.x, near.position[1], p.z] };
    if (near.look_at) key.look_at = near.look_at.slice(); else { key.yaw = near.yaw || 0; key.pitch = near.pitch || 0; key.roll = near.roll || 0; }
    if (key.look_at && Math.hypot(...key.look_at.map((v, i) => v - key.position[i])) < 1e-3) key.look_at[2] += 1;
    keys.push(key);
    this.selected = keys.indexOf(key);
    this.commit();
  }

  onMove(e) {
    if (!this.drag) return;
    const [x, y] = this.eventXY(e);
    const k = this.keys()[this.drag.index];
    const p = this.fromCanvas(x, y, this.drag.panel);
    if (this.drag.panel === 0) { k.position[0] = p.x; k.position[2] = p.z; } else { k.position[2] = p.z; k.position[1] = p.y; }
    this.draw();
  }

  // --- drawing -------------------------------------------------------------------------------------------------
  draw() {
    const g = this.canvas.getContext("2d");
    g.clearRect(0, 0, W, H);
    for (const panel of [0, 1]) {
      g.strokeStyle = "#333"; g.lineWidth = 1;
      for (let i = 1; i < 8; i++) {
        g.beginPath(); g.moveTo(panel * H + i * H / 8, 0); g.lineTo(panel * H + i * H / 8, H); g.stroke();
        g.beginPath(); g.moveTo(panel * H, i * H / 8); g.lineTo(panel * H + H, i * H / 8); g.stroke();
      }
      g.fillStyle = "#888"; g.fillText(panel === 0 ? "top (x, z)" : "side (z, −y)", panel * H + 4, 12);
    }
    g.strokeStyle = "#666"; g.beginPath(); g.moveTo(H, 0); g.lineTo(H, H); g.stroke();
    if (this.state.type !== "spline") {
      g.fillStyle = "#ccc";
      g.fillText(`preset: ${this.state.preset?.name} — click to edit as keyframes`, 8, H - 8);
      this.label.textContent = "";
      return;
    }
    const keys = this.keys(), curve = sampleCurve(keys);
    for (const panel of [0, 1]) {
      g.strokeStyle = "#5b9bff"; g.lineWidth = 2; g.beginPath();
      curve.forEach((p, i) => { const [x, y] = this.toCanvas(p, panel); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke();
      const depth = this.bounds().span / 10;
      keys.forEach((k, i) => {
        const [x, y] = this.toCanvas(k.position, panel);
        const corners = frustumCorners(k.position, forwardOf(k), depth).map((c) => this.toCanvas(c, panel));
        g.strokeStyle = i === this.selected ? "#ffffff" : "#ffb45b"; g.lineWidth = 1; g.beginPath();
        for (const c of corners) { g.moveTo(x, y); g.lineTo(...c); }
        corners.forEach((c, j) => { const n = corners[(j + 1) % 4]; g.moveTo(...c); g.lineTo(...n); });
        g.stroke();
        g.fillStyle = i === this.selected ? "#fff" : "#ffb45b";
        g.beginPath(); g.arc(x, y, 4, 0, 2 * Math.PI); g.fill();
      });
      // where the camera is at the scrubber's frame (along the displayed curve)
      if (keys.length > 1) {
        const ts = keys.map((k) => k.t), t = Math.min(Math.max(this.time, ts[0]), ts[ts.length - 1]);
        let seg = 0;
        while (seg < ts.length - 2 && t > ts[seg + 1]) seg++;
        const u = (t - ts[seg]) / (ts[seg + 1] - ts[seg] || 1);
        const p = curve[Math.min(curve.length - 1, Math.round((seg + u) * 12))];
        const [x, y] = this.toCanvas(p, panel);
        g.strokeStyle = "#ffe066"; g.lineWidth = 2; g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.stroke();
      }
    }
    const frame = Math.round(this.time * this.fps());
    this.label.textContent = `frame ${frame} · ${keys.length} keys`;
  }
}

app.registerExtension({
  name: "RealCam.TrajectoryEditor",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      const jsonWidget = this.widgets.find((w) => w.name === "trajectory");
      const editor = new TrajectoryEditor(this, jsonWidget);
      const widget = this.addDOMWidget("camera_editor", "realcam_trajectory", editor.root, { serialize: false, getValue: () => undefined, setValue: () => {} });
      widget.serialize = false;
      widget.computeSize = () => [W + 20, H + 70];
      this.realcamEditor = editor;
      const cb = jsonWidget.callback;
      jsonWidget.callback = function (v) { const out = cb?.apply(this, arguments); if (!editor.drag) editor.reload(); return out; };
      this.setSize([Math.max(this.size[0], W + 30), Math.max(this.size[1], H + 250)]);
      return r;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const r = onConfigure?.apply(this, arguments);
      this.realcamEditor?.reload();
      return r;
    };
  },
});
