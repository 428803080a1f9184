// Loads each UI workflow into the official frontend (no missing nodes, and — once Load Video shows its
// preview — no node covering another), then queues the streaming workflows from the browser and records the
// sampler's preview images and progress while they run, and whether any node covers another once outputs show.
// Usage: node workflows.js <server url> <screenshot dir> <workflow.json>... <chromium>
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

(async () => {
  const argv = process.argv.slice(2);
  const [url, shotDir] = argv, exe = argv[argv.length - 1], files = argv.slice(2, -1);
  const browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph.registered_node_types["RealCamStreamingSampler"], null, { timeout: 90000 });
  await page.waitForTimeout(1500);   // let the default workflow land before ours
  const results = {};
  // pairs of nodes whose rectangles (title bar included) overlap on the canvas
  const overlaps = () => page.evaluate(() => {
    const th = window.LiteGraph.NODE_TITLE_HEIGHT;
    const r = window.app.graph._nodes.map((n) => ({ id: n.id, type: n.type, x: n.pos[0], y: n.pos[1] - th, w: n.size[0], h: n.size[1] + th }));
    const out = [];
    for (const a of r) for (const b of r) {
      if (a.id < b.id && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) out.push(`${a.type} #${a.id} / ${b.type} #${b.id}`);
    }
    return out;
  });
  for (const f of files) {
    const wf = JSON.parse(fs.readFileSync(f, "utf8"));
    results[path.basename(f)] = await page.evaluate(async (wf) => {
      await window.app.loadGraphData(wf);
      await new Promise((r) => setTimeout(r, 300));
      const nodes = window.app.graph._nodes;
      const missing = nodes.filter((n) => !window.LiteGraph.registered_node_types[n.type] || n.has_errors).map((n) => n.type);
      const dialog = [...document.querySelectorAll(".p-dialog")].map((d) => d.textContent).filter((t) => /missing/i.test(t));
      return { nodes: nodes.length, missing, dialog };
    }, wf);
    // media previews load asynchronously (Load Video grows to show the clip)
    await page.waitForFunction(() => !window.app.graph._nodes.some((n) => n.type === "LoadVideo")
      || [...document.querySelectorAll("video")].some((v) => v.readyState >= 2), null, { timeout: 15000 }).catch(() => {});
    await page.waitForTimeout(1000);
    results[path.basename(f)].overlaps = await overlaps();
    await page.screenshot({ path: path.join(shotDir, path.basename(f).replace(".json", ".png")) });
  }
  // run the streaming workflows (the shipped one and the zero-download example) from the canvas and watch
  // the sampler's previews arrive
  const runs = {};
  for (const f of files.filter((f) => f.includes("streaming") || f.includes("realcam_tiny"))) {
  const wf = JSON.parse(fs.readFileSync(f, "utf8"));
  runs[path.basename(f)] = await page.evaluate(async (wf) => {
    await window.app.loadGraphData(wf);
    const api = window.app.api;
    const sampler = window.app.graph._nodes.find((n) => n.type === "RealCamStreamingSampler");
    const events = [];
    let done = false, failed = null;
    api.addEventListener("b_preview", () => events.push({ kind: "preview", t: performance.now() }));
    api.addEventListener("progress", (e) => { if (String(e.detail.node) === String(sampler.id)) events.push({ kind: "progress", value: e.detail.value, max: e.detail.max, t: performance.now() }); });
    // with live_session "auto" the run's secret session lands in the camera editor's live box, and leaves it at the end
    const editor = window.app.graph._nodes.find((n) => n.type === "RealCamCameraTrajectory").realcamEditor;
    // read synchronously: the pack's listener (registered at setup, so called first) has already filled or cleared
    // the box; a timer could fire after the run's closing message too, when a short run sends both at once
    api.addEventListener("realcam.live_session", () => events.push({ kind: "live", value: editor.live.value }));
    api.addEventListener("execution_success", () => { done = true; });
    api.addEventListener("execution_error", (e) => { failed = JSON.stringify(e.detail).slice(0, 1500); done = true; });
    await window.app.queuePrompt(0, 1);
    for (let i = 0; i < 1200 && !done; i++) await new Promise((r) => setTimeout(r, 100));
    return { done, failed, events };
  }, wf);
  await page.waitForTimeout(1500);   // outputs (preview image, saved video) take their room
  runs[path.basename(f)].overlaps = await overlaps();
  await page.screenshot({ path: path.join(shotDir, path.basename(f).replace(".json", "_run.png")) });
  }
  console.log(JSON.stringify({ results, runs, errors }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
