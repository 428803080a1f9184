// Drives the official ComfyUI frontend in Debian chromium: adds the trajectory node, edits the path
// with the mouse, checks the STRING widget's JSON, saves and reloads the workflow, takes a screenshot.
// Usage: node trajectory_widget.js <server url> <screenshot.png> <chromium path>  (chromium last)
const { chromium } = require("playwright-core");

(async () => {
  const [url, shot, exe] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && /realcam/i.test(m.text())) errors.push(m.text()); });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app && window.app.graph && document.querySelector("canvas#graph-canvas"), null, { timeout: 90000 });
  await page.waitForFunction(() => window.LiteGraph && window.LiteGraph.registered_node_types["RealCamCameraTrajectory"], null, { timeout: 30000 });

  const jsonOf = () => page.evaluate(() => {
    const n = window.app.graph._nodes.find((n) => n.type === "RealCamCameraTrajectory");
    return n.widgets.find((w) => w.name === "trajectory").value;
  });
  await page.evaluate(() => {
    window.app.graph.clear();
    const node = window.LiteGraph.createNode("RealCamCameraTrajectory");
    node.pos = [200, 120];
    window.app.graph.add(node);
    window.app.canvas.setDirty(true, true);
  });
  const editor = page.locator('canvas[data-realcam="canvas"]');
  await editor.waitFor({ state: "visible", timeout: 30000 });
  const initial = await jsonOf();

  // 1st click: the preset becomes editable keyframes (through the pack's route)
  await editor.click({ position: { x: 20, y: 20 } });
  await page.waitForFunction((before) => {
    const n = window.app.graph._nodes.find((n) => n.type === "RealCamCameraTrajectory");
    return n.widgets.find((w) => w.name === "trajectory").value !== before;
  }, initial, { timeout: 15000 });
  const asKeys = JSON.parse(await jsonOf());

  // 2nd click on empty space in the top view: a new keyframe
  const box = await editor.boundingBox();
  await page.mouse.click(box.x + box.width * 0.12, box.y + box.height * 0.2);
  await page.waitForTimeout(300);
  const added = JSON.parse(await jsonOf());

  // save the workflow, clear, load it back
  const saved = await page.evaluate(() => JSON.stringify(window.app.graph.serialize()));
  await page.evaluate(async (wf) => { window.app.graph.clear(); await window.app.loadGraphData(JSON.parse(wf)); }, saved);
  await page.waitForTimeout(500);
  const reloaded = await jsonOf();
  await page.screenshot({ path: shot });
  console.log(JSON.stringify({ initial: JSON.parse(initial), asKeys, added, reloaded: JSON.parse(reloaded), errors }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
