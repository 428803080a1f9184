// Drives the official ComfyUI frontend in Debian chromium through the camera editor, one step per defect
// artists reported: presets come from the route (and draw their path), a click on a preset does not silently
// convert it, preset → keys keeps the end pose on a 33-frame clip, a click with the scrubber on a key stays in
// the clip, Delete removes a key and keeps the node, Ctrl+Z undoes, the orientation handle aims a key, speed
// survives save/reload without compounding. Prints one JSON object; the Python test judges it.
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
  await page.waitForFunction(() => window.app && window.app.graph && document.querySelector("canvas#graph-canvas"), null, { timeout: 120000 });
  await page.waitForFunction(() => window.LiteGraph && window.LiteGraph.registered_node_types["RealCamCameraTrajectory"], null, { timeout: 60000 });
  await page.waitForTimeout(1500);   // let the default workflow land before ours

  const out = { errors };
  process.on("exit", () => {});
  globalThis.__out = out;
  const nodeJs = `window.app.graph._nodes.find((n) => n.type === "RealCamCameraTrajectory")`;
  const jsonOf = () => page.evaluate(`${nodeJs}.widgets.find((w) => w.name === "trajectory").value`);
  const state = async () => JSON.parse(await jsonOf());
  const waitChange = (before) => page.waitForFunction(([js, b]) => eval(js).widgets.find((w) => w.name === "trajectory").value !== b,
    [nodeJs, before], { timeout: 20000 });
  await page.evaluate(() => {
    window.app.graph.clear();
    const node = window.LiteGraph.createNode("RealCamCameraTrajectory");
    node.pos = [200, 120];
    window.app.graph.add(node);
    window.app.canvas.setDirty(true, true);
  });
  const editor = page.locator('canvas[data-realcam="canvas"]');
  await editor.waitFor({ state: "visible", timeout: 30000 });
  const box = async () => editor.boundingBox();
  // a point of the editor canvas (its own 360 x 180 pixel coordinates) on the page
  const at = async (x, y) => { const b = await box(); return [b.x + x * b.width / 360, b.y + y * b.height / 180]; };
  const keyXY = (i, what = "position") => page.evaluate(([js, i, what]) => {
    const ed = eval(js).realcamEditor, k = ed.keys()[i];
    return ed.toCanvas(what === "aim" ? ed.aimPoint(k) : k.position, 0);
  }, [nodeJs, i, what]);
  out.initial = await state();

  // presets from the route, drawn as a path
  await page.waitForFunction(() => document.querySelectorAll('select[data-realcam="presets"] option').length > 10, null, { timeout: 20000 });
  out.presetOptions = await page.$$eval('select[data-realcam="presets"] option', (os) => os.map((o) => o.value));
  await page.waitForFunction((js) => eval(js).realcamEditor.presetKeys.keys.length > 0, nodeJs, { timeout: 20000 });
  out.presetPathKeys = await page.evaluate((js) => eval(js).realcamEditor.presetKeys.keys.length, nodeJs);
  out.selectedPreset = await page.$eval('select[data-realcam="presets"]', (s) => s.value);

  // a click on a preset tells the user how to edit it and changes nothing
  const [px, py] = await at(40, 40);
  await page.mouse.click(px, py);
  await page.waitForTimeout(300);
  out.afterPresetClick = await state();
  out.presetClickMessage = await page.evaluate((js) => eval(js).realcamEditor.message, nodeJs);

  // a workflow holding ReCamMaster's cam09 shows cam09
  await page.evaluate((js) => {
    const w = eval(js).widgets.find((w) => w.name === "trajectory");
    w.value = JSON.stringify({ version: 1, type: "preset", frames: 81, fps: 16, preset: { name: "cam09" } });
    w.callback?.(w.value);
  }, nodeJs);
  out.cam09Shown = await page.$eval('select[data-realcam="presets"]', (s) => s.value);

  // a 33-frame clip: arc_right → keys
  await page.evaluate((js) => { const w = eval(js).widgets.find((w) => w.name === "frames"); w.value = 33; w.callback?.(33); }, nodeJs);
  out.scrubberMax = await page.$eval('input[data-realcam="scrubber"]', (s) => Number(s.max));
  await page.selectOption('select[data-realcam="presets"]', "arc_right");
  let before = await jsonOf();
  await page.click('button[data-realcam="use-preset"]');
  await waitChange(before);
  before = await jsonOf();
  await page.click('button[data-realcam="to-keys"]');
  await waitChange(before);
  out.arcKeys = await state();

  // scrubber on frame 0 (a key): a click in empty space adds a key inside the clip
  let [cx, cy] = await at(20, 160);
  await page.mouse.click(cx, cy);
  await page.waitForTimeout(300);
  out.afterClickOnFirstKey = await state();
  // scrubber on the last frame (the last key): the same
  await page.$eval('input[data-realcam="scrubber"]', (s) => { s.value = s.max; s.dispatchEvent(new Event("input")); });
  [cx, cy] = await at(30, 140);
  await page.mouse.click(cx, cy);
  await page.waitForTimeout(300);
  out.afterClickOnLastKey = await state();

  // select a key with the mouse, press Delete: the key goes, the node stays; Ctrl+Z brings the key back
  let [kx, ky] = await keyXY(2);
  [cx, cy] = await at(kx, ky);
  await page.mouse.click(cx, cy);
  await page.waitForTimeout(200);
  out.selectedBeforeDelete = await page.evaluate((js) => eval(js).realcamEditor.selected, nodeJs);
  out.focused = await page.evaluate(() => document.activeElement?.dataset?.realcam ?? document.activeElement?.tagName);
  await page.keyboard.press("Delete");
  await page.waitForTimeout(400);
  out.nodesAfterDelete = await page.evaluate(() => window.app.graph._nodes.filter((n) => n.type === "RealCamCameraTrajectory").length);
  out.afterDelete = out.nodesAfterDelete ? await state() : null;
  if (out.nodesAfterDelete) {
    await page.keyboard.press("Control+z");
    await page.waitForTimeout(300);
    out.afterUndo = await state();
    // Backspace works the same
    [kx, ky] = await keyXY(1);
    [cx, cy] = await at(kx, ky);
    await page.mouse.click(cx, cy);
    await page.keyboard.press("Backspace");
    await page.waitForTimeout(300);
    out.nodesAfterBackspace = await page.evaluate(() => window.app.graph._nodes.filter((n) => n.type === "RealCamCameraTrajectory").length);
    out.afterBackspace = await state();

    // the orientation handle of key 0: drag it sideways in the top view → the key turns, it does not move
    const [ax, ay] = await keyXY(0, "aim");
    const [sx, sy] = await at(ax, ay), [ex, ey] = await at(ax + 25, ay);
    await page.mouse.move(sx, sy); await page.mouse.down(); await page.mouse.move(ex, ey, { steps: 5 }); await page.mouse.up();
    await page.waitForTimeout(300);
    out.afterAim = await state();

    // speed is saved in the trajectory and survives save / reload; setting it again does not compound
    const setSpeed = (v) => page.$eval('input[data-realcam="speed"]', (s, v) => { s.value = v; s.dispatchEvent(new Event("change")); }, v);
    await setSpeed("2");
    await page.waitForTimeout(300);
    out.withSpeed = await state();
    const saved = await page.evaluate(() => JSON.stringify(window.app.graph.serialize()));
    await page.evaluate(async (wf) => { window.app.graph.clear(); await window.app.loadGraphData(JSON.parse(wf)); }, saved);
    await page.waitForTimeout(800);
    out.reloaded = await state();
    out.speedShown = await page.$eval('input[data-realcam="speed"]', (s) => s.value);
    await setSpeed("2");
    await page.waitForTimeout(300);
    out.speedAgain = await state();
  }
  await page.screenshot({ path: shot });
  console.log(JSON.stringify(out));
  await browser.close();
})().catch((e) => { console.error(e); console.error("partial: " + JSON.stringify(globalThis.__out)); process.exit(1); });
