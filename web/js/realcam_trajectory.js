// RealCam camera trajectory editor: a canvas inside the "RealCam Camera Trajectory" node.
// Top view (x → right, z → up) and side view (z → right, −y → up) of the keyframed path with camera
// frustums and an orientation handle per key; a timeline scrubber; presets from the pack's route.
// State lives as trajectory JSON (schema v1, docs/trajectory_json.md) in the node's "trajectory" STRING
// widget, so a saved workflow carries the path (speed included) and Python reads the same document.
// Keys the editor writes use `timing: "clip"` (t = 0 first frame … 1 last frame): a key is always inside
// the clip, and the move keeps its shape when the video has another length. Gestures: README, "Camera editor".
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE = "RealCamCameraTrajectory";
const W = 360, H = 180;                       // canvas size (two square panels side by side)
const HIT = 8;                                // pick radius, canvas pixels

let presetList = null;                        // one fetch of /realcam/presets per page
function loadPresets() {
  presetList ??= api.fetchApi("/realcam/presets").then((r) => r.json()).then((d) => d.presets)
    .catch((e) => { console.error("RealCam presets:", e); presetList = null; return []; });
  return presetList;
}

async function postJSON(route, body) {
  const res = await api.fetchApi(route, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || `${route}: HTTP ${res.status}`);
  return data;
}

function defaultState(frames, fps) {
  return { version: 1, type: "spline", frames, fps, spline: { timing: "clip", keyframes: [
    { t: 0, position: [0, 0, 0], look_at: [0, 0, 4] },
    { t: 1, position: [1.5, 0, 0.5], look_at: [0, 0, 4] }] } };
}

function parseState(text, frames, fps) {
  try {
    const s = JSON.parse(text);
    if (s && s.version === 1) return s;
  } catch (e) { /* fall through to a default */ }
  return defaultState(frames, fps);
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

const round6 = (v) => Math.round(v * 1e6) / 1e6;

class TrajectoryEditor {
  constructor(node, jsonWidget) {
    this.node = node;
    this.json = jsonWidget;
    this.selected = -1;
    this.drag = null;
    this.frame = 0;
    this.presetKeys = { id: null, keys: [] };   // the current preset's path, sampled by the route, for display
    this.message = "";
    this.root = document.createElement("div");
    this.root.className = "realcam-trajectory-editor";
    this.root.style.cssText = "display:flex;flex-direction:column;gap:4px;font:11px sans-serif;color:#ddd";
    this.canvas = document.createElement("canvas");
    this.canvas.width = W; this.canvas.height = H;
    this.canvas.tabIndex = 0;                   // focusable: Delete and the arrow keys edit keys, never the node
    this.canvas.style.cssText = "width:100%;background:#1e1e21;border-radius:4px;cursor:crosshair;outline:none";
    this.canvas.dataset.realcam = "canvas";
    this.canvas.title = "Click: add a key at the scrubber's frame · drag a dot: move a key · drag a square: aim it · "
      + "Delete: remove the selected key · arrows / PageUp / PageDown: nudge it · [ ]: previous / next key · Ctrl+Z: undo (ComfyUI's)";
    this.root.appendChild(this.canvas);
    const row = document.createElement("div");
    row.style.cssText = "display:flex;gap:4px;align-items:center;flex-wrap:wrap";
    this.scrub = Object.assign(document.createElement("input"), { type: "range", min: 0, value: 0, title: "Timeline: the frame whose camera is highlighted; new keyframes go here" });
    this.scrub.style.flex = "1";
    this.scrub.dataset.realcam = "scrubber";
    this.label = document.createElement("span");
    this.label.dataset.realcam = "status";
    this.presetSel = document.createElement("select");
    this.presetSel.dataset.realcam = "presets";
    this.presetSel.title = "Camera presets (from the pack: ReCamMaster's cam01–cam10, orbits, dollies, cranes)";
    const use = Object.assign(document.createElement("button"), { textContent: "use preset", title: "Make the path the selected preset (Ctrl+Z undoes it, like any edit)" });
    const toKeys = Object.assign(document.createElement("button"), { textContent: "edit as keys", title: "Turn the preset into five keys you can move (same start and end pose)" });
    const del = Object.assign(document.createElement("button"), { textContent: "delete key", title: "Delete the selected keyframe (or press Delete)" });
    use.dataset.realcam = "use-preset"; toKeys.dataset.realcam = "to-keys"; del.dataset.realcam = "delete-key";
    this.speed = Object.assign(document.createElement("input"), { type: "number", value: 1, step: 0.1, min: 0.1, title: "Speed: how fast the camera runs through the move (2 = done at mid-clip, then holds); saved in the trajectory" });
    this.speed.style.width = "48px";
    this.speed.dataset.realcam = "speed";
    this.constant = Object.assign(document.createElement("input"), { type: "checkbox", title: "Constant speed along the path" });
    this.live = Object.assign(document.createElement("input"), { type: "text", placeholder: "live session",
      title: "Live steering: the session of a running RealCam Streaming Sampler. With its live_session at 'auto' this box "
        + "fills itself while the run lasts (the session is sent only to this browser). Every edit is sent to it; the next chunk follows." });
    this.live.dataset.realcam = "live";
    this.live.style.width = "90px";
    row.append(this.scrub, this.label);
    const row2 = document.createElement("div");
    row2.style.cssText = row.style.cssText;
    row2.append(this.presetSel, use, toKeys, del, "speed", this.speed, "even", this.constant, this.live);
    this.root.append(row, row2);

    this.scrub.addEventListener("input", () => { this.frame = Number(this.scrub.value); this.draw(); });
    use.addEventListener("click", () => this.usePreset(this.presetSel.value));
    toKeys.addEventListener("click", () => this.presetToKeys());
    del.addEventListener("click", () => this.deleteKey(this.selected));
    this.speed.addEventListener("change", () => this.setSpeed(Number(this.speed.value)));
    this.constant.addEventListener("change", () => {
      if (this.state.type !== "spline") { this.constant.checked = false; this.say("constant speed applies to keys: press 'edit as keys' first"); return; }
      this.edit(() => { this.state.spline.constant_speed = this.constant.checked; });
    });
    this.canvas.addEventListener("pointerdown", (e) => this.onDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onUp(e));
    this.canvas.addEventListener("keydown", (e) => this.onKey(e));
    this.canvas.addEventListener("dblclick", (e) => { e.stopPropagation(); const hit = this.hit(e); if (hit) this.deleteKey(hit.index); });
    // the frontend must not treat editor gestures as canvas gestures (dragging or selecting the node); mouseup
    // still reaches the window, where the frontend records the workflow's undo history
    for (const type of ["mousedown", "mousemove", "wheel", "contextmenu"]) this.canvas.addEventListener(type, (e) => e.stopPropagation());
    loadPresets().then((list) => this.fillPresets(list));
    this.reload();
  }

  widget(name) { return this.node.widgets?.find((w) => w.name === name); }
  // a widget wired to another node's output (the video's frame count, its fps) has no value here: the
  // document's own frames / fps stand in for it
  linked(name) { return this.node.inputs?.some((i) => i.name === name && i.link != null); }
  frames() { return Math.max(1, Math.round(this.linked("frames") ? this.state?.frames ?? 81 : this.widget("frames")?.value ?? 81)); }
  fps() { return this.linked("fps") ? this.state?.fps ?? 16 : this.widget("fps")?.value ?? 16; }
  lastFrame() { return Math.max(1, this.frames() - 1); }

  fillPresets(list) {
    this.presetSel.replaceChildren(...list.map((p) => Object.assign(document.createElement("option"),
      { value: p.name, textContent: p.name, title: p.description })));
    this.syncControls();
  }

  reload() {
    this.state = parseState(this.json.value, this.frames(), this.fps());
    this.scrub.max = this.lastFrame();
    this.frame = Math.min(this.frame, this.lastFrame());
    this.scrub.value = this.frame;
    if (this.selected >= this.keys().length) this.selected = -1;
    this.syncControls();
    this.draw();
  }

  syncControls() {
    const block = this.state.type === "spline" ? this.state.spline : this.state.type === "preset" ? this.state.preset : {};
    this.speed.value = block.speed ?? 1;
    this.constant.checked = !!this.state.spline?.constant_speed;
    if (this.state.type === "preset" && [...this.presetSel.options].some((o) => o.value === this.state.preset.name)) {
      this.presetSel.value = this.state.preset.name;
    }
  }

  keys() { return this.state.type === "spline" ? this.state.spline.keyframes : []; }
  timing() { return this.state.spline?.timing === "clip" ? "clip" : "seconds"; }
  // key time of the clip's last frame: 1 for clip timing, seconds otherwise
  clipEnd() { return this.timing() === "clip" ? 1 : this.lastFrame() / this.fps(); }
  frameOfKey(k) { return Math.round((k.t / (this.state.spline?.speed || 1)) / this.clipEnd() * this.lastFrame()); }
  // key time the scrubber's frame shows (speed applied), held at the last key after the move ends
  scrubKeyTime() { return Math.min(this.frame / this.lastFrame() * (this.state.spline?.speed || 1), 1) * this.clipEnd(); }

  say(text) { this.message = text; this.draw(); }

  // --- edits: every change goes through edit(), which saves it to the widget and sends it live. The workflow's
  // undo history (ComfyUI's Ctrl+Z / Ctrl+Y) then holds it like any other widget change: one history, not two.
  edit(change) {
    const before = JSON.stringify(this.state);
    change();
    if (JSON.stringify(this.state) === before) { this.draw(); return; }
    this.commit();
  }

  // ask the frontend to record the workflow's state now (it does so itself on mouseup and keydown, but not after
  // an edit that waited for the server)
  recordHistory() {
    const tracker = app.extensionManager?.workflow?.activeWorkflow?.changeTracker;
    const capture = tracker?.checkState ?? tracker?.captureCanvasState;
    try { capture?.call(tracker); } catch (e) { /* older or newer frontends: the next mouseup records it */ }
  }

  commit() {
    this.state.frames = this.frames();
    this.state.fps = this.fps();
    if (this.state.type === "spline") {
      const sel = this.keys()[this.selected];
      this.state.spline.keyframes.sort((a, b) => a.t - b.t);
      this.selected = sel ? this.keys().indexOf(sel) : -1;
    }
    this.json.value = JSON.stringify(this.state);
    this.json.callback?.(this.json.value);
    if (this.live.value.trim()) this.sendLive();
    this.node.setDirtyCanvas?.(true, true);
    this.draw();
    this.recordHistory();
  }

  async sendLive() {
    try {
      await postJSON("/realcam/live_camera", { session: this.live.value.trim(), trajectory: this.state });
    } catch (e) { console.error("RealCam live camera:", e.message); this.say(`live: ${e.message}`); }
  }

  usePreset(name) {
    if (!name) return;
    this.edit(() => {
      this.state = { version: 1, type: "preset", frames: this.frames(), fps: this.fps(),
        preset: { name, amplitude: 1, speed: 1, easing: "linear", loop: false } };
      this.selected = -1;
    });
    this.syncControls();
  }

  // the preset (with its amplitude, speed, easing, loop) as five clip-timed keys, sampled at this clip's length
  // by the route: the first and last keys are the preset's first and last poses
  async presetToKeys() {
    if (this.state.type === "spline") { this.say("already keys"); return; }
    let data;
    try {
      data = await postJSON("/realcam/preset_keyframes", { trajectory: this.state, frames: this.frames(), count: 5 });
    } catch (e) { console.error("RealCam preset:", e.message); this.say(e.message); return; }
    const from = this.state.type === "preset" ? this.state.preset.name : this.state.type;
    this.edit(() => {
      this.state = { version: 1, type: "spline", frames: this.frames(), fps: this.fps(),
        spline: { timing: data.timing, keyframes: data.keyframes, constant_speed: false } };
      this.selected = -1;
    });
    this.syncControls();
    this.say(`${from} → ${data.keyframes.length} keys (Ctrl+Z goes back)`);
  }

  deleteKey(i) {
    const keys = this.keys();
    if (i < 0 || i >= keys.length) { this.say("select a key first (click its dot)"); return; }
    if (keys.length <= 1) { this.say("a path keeps at least one key"); return; }
    this.edit(() => { keys.splice(i, 1); this.selected = -1; });
  }

  setSpeed(speed) {
    if (!(speed > 0)) { this.syncControls(); this.say("speed must be a positive number"); return; }
    const block = this.state.type === "spline" ? this.state.spline : this.state.type === "preset" ? this.state.preset : null;
    if (!block) { this.syncControls(); this.say("speed applies to presets and keys"); return; }
    this.edit(() => { if (speed === 1) delete block.speed; else block.speed = speed; });
  }

  // a new key at the scrubber's frame; with the scrubber on a key, halfway to the next key (or the previous one at
  // the end): it never lands outside the clip
  addKey(p) {
    const keys = this.keys(), end = this.clipEnd();
    let t = this.scrubKeyTime();
    const on = keys.findIndex((k) => Math.abs(k.t - t) < 1e-6 * Math.max(1, end));
    if (on >= 0) {
      const next = keys[on + 1], prev = keys[on - 1];
      if (next && next.t <= end) t = (keys[on].t + next.t) / 2;
      else if (keys[on].t < end) t = (keys[on].t + end) / 2;
      else if (prev) t = (prev.t + keys[on].t) / 2;
      else t = keys[on].t > end / 2 ? 0 : end;
    }
    t = Math.min(Math.max(round6(t), 0), end);
    const near = keys.reduce((a, k) => (Math.abs(k.t - t) < Math.abs(a.t - t) ? k : a), keys[0] || { position: [0, 0, 0], look_at: [0, 0, 4] });
    const key = { t, position: [round6(p.x), near.position[1], round6(p.z)] };
    if (near.look_at) key.look_at = near.look_at.slice(); else { key.yaw = near.yaw || 0; key.pitch = near.pitch || 0; key.roll = near.roll || 0; }
    if (key.look_at && Math.hypot(...key.look_at.map((v, i) => v - key.position[i])) < 1e-3) key.look_at[2] += 1;
    this.edit(() => { keys.push(key); this.selected = keys.length - 1; });
    this.selected = this.keys().indexOf(key);
    this.frame = Math.min(this.frameOfKey(key), this.lastFrame());
    this.scrub.value = this.frame;
    this.draw();
  }

  // --- geometry ------------------------------------------------------------------------------------------------
  shownKeys() { return this.state.type === "spline" ? this.keys() : this.presetKeys.keys; }

  bounds() {
    const pts = this.shownKeys().flatMap((k) => [k.position, ...(k.look_at ? [k.look_at] : [])]);
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

  // where a key's orientation handle sits: its look-at target, or a point ahead along its optical axis
  aimPoint(k) {
    if (k.look_at) return k.look_at;
    const f = forwardOf(k), d = this.bounds().span / 6;
    return k.position.map((v, i) => v + d * f[i]);
  }

  eventXY(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * W / r.width, (e.clientY - r.top) * H / r.height];
  }

  hit(e) {
    const [x, y] = this.eventXY(e), panel = x < H ? 0 : 1;
    let best = null;
    this.keys().forEach((k, index) => {
      for (const [what, p] of [["position", k.position], ["aim", this.aimPoint(k)]]) {
        const [px, py] = this.toCanvas(p, panel);
        const d = Math.hypot(px - x, py - y) + (what === "aim" ? 0.5 : 0) + (index === this.selected ? -0.25 : 0);
        if (d < HIT && (!best || d < best.d)) best = { index, d, panel, what };
      }
    });
    return best;
  }

  onDown(e) {
    e.stopPropagation();
    this.canvas.focus();
    if (e.button !== 0) return;
    if (this.state.type !== "spline") {
      this.say(this.state.type === "preset" ? `preset ${this.state.preset.name}: press "edit as keys" to edit it` : "press \"edit as keys\" to edit this path");
      return;
    }
    const hit = this.hit(e);
    if (hit) {
      this.selected = hit.index;
      this.drag = { ...hit, before: JSON.stringify(this.state) };
      this.canvas.setPointerCapture?.(e.pointerId);
      this.frame = Math.min(this.frameOfKey(this.keys()[hit.index]), this.lastFrame());
      this.scrub.value = this.frame;
      this.draw();
      return;
    }
    const [x, y] = this.eventXY(e);
    if (x >= H) { this.say("new keys are placed in the top view"); return; }
    this.addKey(this.fromCanvas(x, y, 0));
  }

  onMove(e) {
    if (!this.drag) return;
    e.stopPropagation();
    const [x, y] = this.eventXY(e);
    const k = this.keys()[this.drag.index];
    const p = this.fromCanvas(x, y, this.drag.panel);
    if (this.drag.what === "position") {
      if (this.drag.panel === 0) { k.position[0] = round6(p.x); k.position[2] = round6(p.z); } else { k.position[2] = round6(p.z); k.position[1] = round6(p.y); }
    } else if (k.look_at) {
      if (this.drag.panel === 0) { k.look_at[0] = round6(p.x); k.look_at[2] = round6(p.z); } else { k.look_at[2] = round6(p.z); k.look_at[1] = round6(p.y); }
      if (Math.hypot(...k.look_at.map((v, i) => v - k.position[i])) < 1e-3) k.look_at[2] += 1e-2;
    } else if (this.drag.panel === 0) {       // top view: the handle's direction is the yaw
      k.yaw = Math.round(Math.atan2(p.x - k.position[0], p.z - k.position[2]) * 180 / Math.PI * 100) / 100;
    } else {                                  // side view: the handle's elevation is the pitch
      k.pitch = Math.round(Math.atan2(k.position[1] - p.y, Math.abs(p.z - k.position[2])) * 180 / Math.PI * 100) / 100;
    }
    this.draw();
  }

  onUp(e) {
    if (!this.drag) return;
    e.stopPropagation();
    const before = this.drag.before;
    this.drag = null;
    if (JSON.stringify(this.state) !== before) this.commit();
  }

  // keys go to the editor, never to the graph: Delete here removes a keyframe, not the node
  onKey(e) {
    const k = e.key;
    if (e.ctrlKey || e.metaKey || e.altKey) return;             // shortcuts (Ctrl+Z, Ctrl+S, …) stay ComfyUI's
    const sel = this.keys()[this.selected];
    const step = this.bounds().span / 50 * (e.shiftKey ? 5 : 1);
    const nudge = (axis, d) => { if (sel) this.edit(() => { sel.position[axis] = round6(sel.position[axis] + d); }); else this.say("select a key first (click its dot)"); };
    let handled = true;
    if (k === "Delete" || k === "Backspace") this.deleteKey(this.selected);
    else if (k === "ArrowLeft") nudge(0, -step);
    else if (k === "ArrowRight") nudge(0, step);
    else if (k === "ArrowUp") nudge(2, step);
    else if (k === "ArrowDown") nudge(2, -step);
    else if (k === "PageUp") nudge(1, -step);
    else if (k === "PageDown") nudge(1, step);
    else if (k === "[" || k === "]") {
      const n = this.keys().length;
      if (n) {
        this.selected = this.selected < 0 ? (k === "]" ? 0 : n - 1) : (this.selected + (k === "]" ? 1 : n - 1)) % n;
        this.frame = Math.min(this.frameOfKey(this.keys()[this.selected]), this.lastFrame());
        this.scrub.value = this.frame;
        this.draw();
      }
    } else if (k === "Escape") { this.selected = -1; this.draw(); }
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  // --- drawing -------------------------------------------------------------------------------------------------
  async refreshPresetPath() {
    const id = JSON.stringify([this.state, this.frames()]);
    if (this.presetKeys.id === id) return;
    this.presetKeys = { id, keys: [] };
    try {
      const data = await postJSON("/realcam/preset_keyframes", { trajectory: this.state, frames: this.frames(), count: 17 });
      if (this.presetKeys.id === id) { this.presetKeys.keys = data.keyframes; this.draw(); }
    } catch (e) { this.say(e.message); }
  }

  drawKeys(g, keys, panel, { dim = false } = {}) {
    const depth = this.bounds().span / 10, seen = new Map();
    keys.forEach((k, i) => {
      const [x, y] = this.toCanvas(k.position, panel);
      const late = !dim && k.t > this.clipEnd() + 1e-9;
      const color = dim ? "#8a7a60" : late ? "#ff5b5b" : i === this.selected ? "#ffffff" : "#ffb45b";
      const corners = frustumCorners(k.position, forwardOf(k), depth).map((c) => this.toCanvas(c, panel));
      g.strokeStyle = color; g.lineWidth = 1; g.beginPath();
      for (const c of corners) { g.moveTo(x, y); g.lineTo(...c); }
      corners.forEach((c, j) => { const n = corners[(j + 1) % 4]; g.moveTo(...c); g.lineTo(...n); });
      g.stroke();
      g.fillStyle = color;
      g.beginPath(); g.arc(x, y, 4, 0, 2 * Math.PI); g.fill();
      if (dim) return;
      const [ax, ay] = this.toCanvas(this.aimPoint(k), panel);        // orientation handle
      g.setLineDash([2, 3]); g.beginPath(); g.moveTo(x, y); g.lineTo(ax, ay); g.stroke(); g.setLineDash([]);
      g.fillRect(ax - 3, ay - 3, 6, 6);
      const spot = `${Math.round(x)},${Math.round(y)}`, stack = seen.get(spot) || 0;   // keys at one spot: stacked labels
      seen.set(spot, stack + 1);
      g.fillText(`f${this.frameOfKey(k)}`, x + 6, y - 4 + 10 * stack);
    });
  }

  draw() {
    const g = this.canvas.getContext("2d");
    g.clearRect(0, 0, W, H);
    g.font = "10px sans-serif";
    for (const panel of [0, 1]) {
      g.strokeStyle = "#333"; g.lineWidth = 1;
      for (let i = 1; i < 8; i++) {
        g.beginPath(); g.moveTo(panel * H + i * H / 8, 0); g.lineTo(panel * H + i * H / 8, H); g.stroke();
        g.beginPath(); g.moveTo(panel * H, i * H / 8); g.lineTo(panel * H + H, i * H / 8); g.stroke();
      }
      g.fillStyle = "#888"; g.fillText(panel === 0 ? "top (x →, z ↑)" : "side (z →, up ↑)", panel * H + 4, 12);
    }
    g.strokeStyle = "#666"; g.beginPath(); g.moveTo(H, 0); g.lineTo(H, H); g.stroke();
    const keys = this.shownKeys(), isKeys = this.state.type === "spline";
    if (!isKeys) this.refreshPresetPath();
    const curve = sampleCurve(keys);
    for (const panel of [0, 1]) {
      g.strokeStyle = isKeys ? "#5b9bff" : "#4a6a9a"; g.lineWidth = 2; g.setLineDash(isKeys ? [] : [5, 4]); g.beginPath();
      curve.forEach((p, i) => { const [x, y] = this.toCanvas(p, panel); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke(); g.setLineDash([]);
      this.drawKeys(g, keys, panel, { dim: !isKeys });
      // where the camera is at the scrubber's frame (along the displayed curve)
      if (keys.length > 1) {
        const ts = keys.map((k) => k.t), end = isKeys ? this.clipEnd() : 1;
        const t = Math.min(Math.max(isKeys ? this.scrubKeyTime() : this.frame / this.lastFrame() * end, ts[0]), ts[ts.length - 1]);
        let seg = 0;
        while (seg < ts.length - 2 && t > ts[seg + 1]) seg++;
        const u = (t - ts[seg]) / (ts[seg + 1] - ts[seg] || 1);
        const p = curve[Math.min(curve.length - 1, Math.round((seg + u) * 12))];
        const [x, y] = this.toCanvas(p, panel);
        g.strokeStyle = "#ffe066"; g.lineWidth = 2; g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.stroke();
      }
    }
    let status;
    if (this.state.type === "preset") status = `preset ${this.state.preset.name} · "edit as keys" to edit`;
    else if (!isKeys) status = `${this.state.type} path · "edit as keys" to edit`;
    else {
      const late = keys.filter((k) => k.t > this.clipEnd() + 1e-9).length;
      status = `${keys.length} keys` + (this.selected >= 0 ? ` · key ${this.selected + 1} selected` : "")
        + (late ? ` · ${late} key(s) after the last frame (red): never reached` : "");
    }
    g.fillStyle = "#ccc";
    if (this.message) g.fillText(this.message, 4, H - 6);
    this.label.textContent = `frame ${this.frame}/${this.lastFrame()} · ${status}`;
  }
}

// a streaming run with live_session "auto" tells the browser that queued it (only that one) its secret session:
// the editors of the trajectory nodes feeding that sampler take it, and let it go when the run ends
function onLiveSession(event) {
  const { node, session } = event.detail || {};
  const sampler = app.graph?.getNodeById?.(Number(node)) ?? app.graph?._nodes?.find((n) => String(n.id) === String(node));
  const input = sampler?.inputs?.find((i) => i.name === "trajectory");
  const link = input?.link != null ? app.graph.links?.[input.link] ?? app.graph.links?.get?.(input.link) : null;
  const editor = link ? app.graph.getNodeById(link.origin_id)?.realcamEditor : null;
  if (!editor) return;
  if (session) { editor.live.value = session; editor.say("live: edits now steer the running stream"); }
  else if (editor.live.value.startsWith("run-")) { editor.live.value = ""; editor.say("live: the run ended"); }
}

app.registerExtension({
  name: "RealCam.TrajectoryEditor",
  async setup() { api.addEventListener("realcam.live_session", onLiveSession); },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = onNodeCreated?.apply(this, arguments);
      const jsonWidget = this.widgets.find((w) => w.name === "trajectory");
      const editor = new TrajectoryEditor(this, jsonWidget);
      const widget = this.addDOMWidget("camera_editor", "realcam_trajectory", editor.root, { serialize: false, getValue: () => undefined, setValue: () => {} });
      widget.serialize = false;
      widget.computeSize = () => [W + 20, H + 90];
      this.realcamEditor = editor;
      const cb = jsonWidget.callback;
      jsonWidget.callback = function (v) { const out = cb?.apply(this, arguments); if (!editor.drag) editor.reload(); return out; };
      for (const name of ["frames", "fps"]) {            // a new clip length re-draws the timeline and the key frames
        const w = this.widgets.find((x) => x.name === name);
        if (!w) continue;
        const old = w.callback;
        w.callback = function () { const out = old?.apply(this, arguments); editor.reload(); return out; };
      }
      this.setSize([Math.max(this.size[0], W + 30), Math.max(this.size[1], H + 270)]);
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
