"""Write the shipped workflows (workflows/*.api.json) from one description, and — with --ui — their
canvas (UI) form by loading each into the official frontend (``app.loadApiJson``) and saving the graph
(workflows/*.json; the zero-download example's UI form goes to example_workflows/, ComfyUI's template folder).

    .venv/bin/python scripts/make_workflows.py          # API JSON only
    .venv/bin/python scripts/make_workflows.py --ui     # also the UI JSON (starts a ComfyUI + chromium)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "workflows"

from realcam.demo import DEMO_PRESET, TinyModels, weights_info  # noqa: E402  (the repository root is on the path now)

DEFAULT_TRAJECTORY = {"version": 1, "type": "preset", "frames": 81, "fps": 16,
                      "preset": {"name": "orbit_left", "amplitude": 1.0, "speed": 1.0, "easing": "linear", "loop": False}}


def _front(model_name: str, conditioning: str = "from file") -> dict:
    return {
        "1": {"class_type": "LoadVideo", "inputs": {"file": "realcam_source.mp4"}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": {"class_type": "RealCamModelLoader", "inputs": {"model_name": model_name, "dtype": "default", "fp8": "keep",
                                                             "attention": "auto", "conditioning": conditioning}},
        "4": {"class_type": "RealCamVAELoader", "inputs": {"vae_name": "wan_2.1_vae.safetensors"}},
        "5": {"class_type": "RealCamVideoEncode", "inputs": {"vae": ["4", 0], "images": ["2", 0], "fps": ["2", 2],
                                                             "frame_policy": "trim", "size_policy": "crop"}},
        # frames and fps come from the video (core Get Image Size's batch_size, Get Video Components' fps)
        "6": {"class_type": "RealCamCameraTrajectory", "inputs": {"trajectory": json.dumps(DEFAULT_TRAJECTORY),
                                                                  "frames": ["12", 2], "fps": ["2", 2]}},
        "12": {"class_type": "GetImageSize", "inputs": {"image": ["2", 0]}},
        "7": {"class_type": "RealCamText", "inputs": {"model": ["3", 0]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["6", 1]}},
    }


def _save(images: list, prefix: str) -> dict:
    return {"20": {"class_type": "CreateVideo", "inputs": {"images": images, "fps": ["2", 2]}},
            "21": {"class_type": "SaveVideo", "inputs": {"video": ["20", 0], "filename_prefix": prefix,
                                                         "format": "mp4", "codec": "h264"}}}


def workflows() -> dict[str, dict]:
    teacher = _front("realcam_wan2.1_1.3b_teacher.safetensors")
    teacher["10"] = {"class_type": "RealCamTeacherSampler", "inputs": {
        "model": ["3", 0], "source": ["5", 0], "trajectory": ["6", 0], "text": ["7", 0],
        "steps": 0, "cfg": 0.0, "shift": 0.0, "scheduler": "from model", "seed": 0, "grid": "from model"}}  # the checkpoint's
    teacher["11"] = {"class_type": "RealCamDecode", "inputs": {"vae": ["4", 0], "latents": ["10", 0], "tile": 0, "overlap": 8}}
    teacher.update(_save(["11", 0], "realcam/teacher"))

    streaming = _front("realcam_wan2.1_1.3b_student.safetensors")
    streaming["9"] = {"class_type": "RealCamVAELoader", "inputs": {"vae_name": "vae_approx/taew2_1.safetensors"}}
    streaming["10"] = {"class_type": "RealCamStreamingSampler", "inputs": {
        "model": ["3", 0], "source": ["5", 0], "trajectory": ["6", 0], "text": ["7", 0], "vae": ["9", 0],
        "steps": "", "chunk": 0, "sink": -1, "window": -1, "shift": 0.0, "context_noise": -1.0,  # the checkpoint's
        "rope": "from model", "seed": 0, "live_session": "auto"}}
    streaming.update(_save(["10", 0], "realcam/streaming"))

    recammaster = _front("Wan2_1_kwai_recammaster_1_3B_step20000_bf16.safetensors", conditioning="prefix")
    recammaster["6"]["inputs"]["trajectory"] = json.dumps({**DEFAULT_TRAJECTORY, "preset": {"name": "cam09"}})
    recammaster["10"] = {"class_type": "RealCamTeacherSampler", "inputs": {
        "model": ["3", 0], "source": ["5", 0], "trajectory": ["6", 0], "text": ["7", 0],
        # ReCamMaster's own inference: DiffSynth's Euler on linspace(1, 0), 50 steps, shift 5, CFG 5
        "steps": 50, "cfg": 5.0, "shift": 5.0, "scheduler": "euler", "seed": 0, "grid": "diffsynth"}}
    recammaster["11"] = {"class_type": "RealCamDecode", "inputs": {"vae": ["4", 0], "latents": ["10", 0], "tile": 0, "overlap": 8}}
    recammaster.update(_save(["11", 0], "realcam/recammaster"))
    # the zero-download example (example_workflows/): the demo's case — held-out scene 0 of the embedded model's world,
    # its preset at the model's benchmark amplitude, the source's own path known — re-rendered by the embedded student
    embedded = TinyModels(None, None, info=weights_info())
    tiny_path = {"version": 1, "type": "preset", "frames": 33, "fps": 16,
                 "preset": {"name": DEMO_PRESET, "amplitude": embedded.amplitude, "speed": 1.0, "easing": "linear",
                            "loop": False}}
    tiny = {
        "1": {"class_type": "RealCamProceduralClip", "inputs": {"scene": 0, "frames": 33, "world": embedded.world}},
        "3": {"class_type": "RealCamModelLoader", "inputs": {"model_name": "realcam-tiny student (embedded)", "dtype": "default",
                                                             "fp8": "keep", "attention": "auto", "conditioning": "from file"}},
        "4": {"class_type": "RealCamVAELoader", "inputs": {"vae_name": "realcam-tiny vae (embedded)"}},
        "5": {"class_type": "RealCamVideoEncode", "inputs": {"vae": ["4", 0], "images": ["1", 0], "fps": ["1", 1],
                                                             "frame_policy": "trim", "size_policy": "crop"}},
        "6": {"class_type": "RealCamCameraTrajectory", "inputs": {"trajectory": json.dumps(tiny_path), "frames": ["12", 2],
                                                                  "fps": ["1", 1]}},
        "12": {"class_type": "GetImageSize", "inputs": {"image": ["1", 0]}},
        "7": {"class_type": "RealCamText", "inputs": {"model": ["3", 0]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["6", 1]}},
        "10": {"class_type": "RealCamStreamingSampler", "inputs": {
            "model": ["3", 0], "source": ["5", 0], "trajectory": ["6", 0], "text": ["7", 0], "vae": ["4", 0],
            "source_camera": ["1", 2], "steps": "", "chunk": 0, "sink": -1, "window": -1, "shift": 0.0,
            "context_noise": -1.0, "rope": "from model", "seed": 0, "live_session": ""}},
        "20": {"class_type": "CreateVideo", "inputs": {"images": ["10", 0], "fps": ["1", 1]}},
        "21": {"class_type": "SaveVideo", "inputs": {"video": ["20", 0], "filename_prefix": "realcam/tiny",
                                                     "format": "mp4", "codec": "h264"}}}
    return {"realcam_teacher": teacher, "realcam_streaming": streaming, "recammaster_prefix": recammaster,
            "realcam_tiny": tiny}


EXAMPLES = ROOT / "example_workflows"     # ComfyUI's template folder: the UI form of these lands there
EXAMPLE_NAMES = ("realcam_tiny",)


def write_api() -> list[Path]:
    OUT.mkdir(exist_ok=True)
    paths = []
    for name, wf in workflows().items():
        path = OUT / f"{name}.api.json"
        path.write_text(json.dumps(wf, indent=1) + "\n")
        paths.append(path)
    return paths


UI_SCRIPT = r"""
const { chromium } = require("playwright-core");
const RESERVE = { LoadVideo: [300, 470], PreviewImage: [420, 320], SaveVideo: [340, 440],
  RealCamStreamingSampler: [320, 720], RealCamTeacherSampler: [320, 640] };
(async () => {
  const [url, exe, ...files] = process.argv.slice(2);
  const fs = require("fs");
  const browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on("pageerror", (e) => console.error("page error:", String(e)));
  page.on("console", (m) => { if (m.type() === "error") console.error("console:", m.text()); });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph.registered_node_types["RealCamStreamingSampler"], null, { timeout: 90000 });
  // core nodes with frontend extensions (LoadVideo) register a little later than the others
  const allTypes = [...new Set(files.flatMap((f) => Object.values(JSON.parse(fs.readFileSync(f, "utf8"))).map((n) => n.class_type)))];
  await page.waitForFunction((types) => types.every((t) => window.LiteGraph.registered_node_types[t]), allTypes, { timeout: 60000 });
  // the frontend loads its default workflow asynchronously after start-up: let it land first
  await page.waitForFunction(() => window.app.graph._nodes.length > 0, null, { timeout: 30000 }).catch(() => {});
  await page.waitForTimeout(1000);
  for (const f of [...files].reverse()) {  // warm-up pass (the first load after start-up can fail)
    await page.evaluate(async (api) => { try { await window.app.loadApiJson(api, "warmup"); } catch (e) {} },
      JSON.parse(fs.readFileSync(f, "utf8")));
    await page.waitForTimeout(300);
  }
  for (const f of files) {
    const api = JSON.parse(fs.readFileSync(f, "utf8"));
    let ui = null;
    for (let attempt = 0; attempt < 5 && !ui; attempt++) {   // the default workflow may still land on top: retry
      const name = require("path").basename(f, ".api.json") + (attempt ? `_${attempt}` : "");
      ui = await page.evaluate(async ([api, name, RESERVE]) => {
        const want = new Set(Object.values(api).map((n) => n.class_type));
        await window.app.loadApiJson(api, name);
        for (let i = 0; i < 30; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const types = window.app.graph._nodes.map((n) => n.type);
          if (types.length === Object.keys(api).length && types.every((t) => want.has(t))) {
            // room for what these nodes show once media loads or the workflow runs, so the arranged layout never
            // puts one node over another (Load Video's preview used to cover the Model Loader)
            for (const n of window.app.graph._nodes) {
              const r = RESERVE[n.type];
              if (r) n.setSize([Math.max(n.size[0], r[0]), Math.max(n.size[1], r[1])]);
            }
            window.app.graph.arrange();
            for (const n of window.app.graph._nodes) for (const w of n.widgets || []) if (w.name === "control_after_generate") w.value = "fixed";
            return window.app.graph.serialize();
          }
        }
        return null;
      }, [api, name, RESERVE]);
    }
    if (!ui) throw new Error(`${f}: the frontend did not load the workflow`);
    const want = [...new Set(Object.values(api).map((n) => n.class_type))].sort().join(",");
    const got = [...new Set(ui.nodes.map((n) => n.type))].sort().join(",");
    if (want !== got) throw new Error(`${f}: canvas has ${got}, expected ${want}`);
    fs.writeFileSync(f.replace(".api.json", ".json"), JSON.stringify(ui, null, 1) + "\n");
  }
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
"""


def write_ui(api_paths: list[Path]) -> None:
    import subprocess
    import tempfile

    from tests.harness.browser import browser_tools
    from tests.harness.server import ComfyServer

    node, chromium, modules = browser_tools()
    with tempfile.TemporaryDirectory() as tmp:
        server = ComfyServer(Path(tmp)).start()
        try:
            script = Path(tmp) / "ui.js"
            script.write_text(UI_SCRIPT)
            subprocess.run([node, str(script), server.url, chromium, *map(str, api_paths)], check=True,
                           env={"NODE_PATH": str(modules), "PATH": "/usr/bin:/bin"})
        finally:
            server.stop()


if __name__ == "__main__":
    paths = write_api()
    if "--ui" in sys.argv:
        write_ui(paths)
        EXAMPLES.mkdir(exist_ok=True)
        for name in EXAMPLE_NAMES:   # ComfyUI lists every .json of example_workflows as a template: UI form only
            (OUT / f"{name}.json").replace(EXAMPLES / f"{name}.json")
    print("\n".join(str(p.relative_to(ROOT)) for p in paths))
