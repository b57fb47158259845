/// The single page of the app, inline so the binary needs no resource files and the page works offline
/// (no CDN, no web fonts: system font stacks only).
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stream-DiffVSR</title>
<style>
  :root { --accent: #2563eb; --bg: #f5f6f8; --card: #fff; --text: #1f2937; --muted: #6b7280; --error: #b91c1c; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
  header { padding: 18px 28px; background: #111827; color: #f9fafb; }
  header h1 { margin: 0; font-size: 20px; }
  header p { margin: 2px 0 0; color: #9ca3af; font-size: 13px; }
  main { max-width: 1180px; margin: 0 auto; padding: 22px; display: grid; gap: 18px; }
  section { background: var(--card); border-radius: 10px; padding: 18px 20px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h2 { margin: 0 0 12px; font-size: 16px; }
  #drop { border: 2px dashed #cbd5e1; border-radius: 10px; padding: 26px; text-align: center; cursor: pointer; color: var(--muted); }
  #drop.over { border-color: var(--accent); background: #eff6ff; }
  #drop strong { color: var(--accent); }
  .row { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
  .hidden { display: none !important; }
  video, .frames img { max-width: 100%; background: #000; border-radius: 6px; }
  /* Small clips are shown enlarged; both frames of the live pair get the same width so they compare. */
  #preview video { width: 100%; max-width: 480px; }
  #resultVideo { width: 100%; max-width: 960px; }
  .frames img { width: 100%; }
  button, .button { font: inherit; padding: 8px 18px; border-radius: 6px; border: 0; background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
  button.secondary { background: #e5e7eb; color: var(--text); }
  button:disabled { opacity: .5; cursor: default; }
  input[type=number] { width: 70px; font: inherit; padding: 6px; }
  .meta { color: var(--muted); font-size: 13px; }
  .bar { height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; flex: 1; min-width: 200px; }
  .bar div { height: 100%; width: 0; background: var(--accent); transition: width .3s; }
  .frames { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 12px; }
  .frames figure { margin: 0; }
  .frames figcaption { font-size: 13px; color: var(--muted); }
  .frames img.lr { image-rendering: pixelated; }
  .error { color: var(--error); background: #fef2f2; border: 1px solid #fecaca; padding: 10px 14px; border-radius: 6px; }
  .warning { color: #92400e; font-size: 13px; }
</style>
</head>
<body>
<header>
  <h1>Stream-DiffVSR</h1>
  <p>Video super-resolution (x4), one temporal stream from the first frame to the last. Model: <span id="model">…</span></p>
</header>
<main>
  <section id="input">
    <h2>1. Video</h2>
    <div id="drop" tabindex="0">Drop a video here or <strong>choose a file</strong><input id="file" type="file" accept="video/*" class="hidden"></div>
    <p id="uploading" class="meta hidden">Uploading… <span id="uploadPercent">0</span>%</p>
    <div id="preview" class="hidden">
      <p class="meta" id="videoMeta"></p>
      <video id="previewVideo" controls muted playsinline></video>
      <div class="row">
        <label>Inference steps <input id="steps" type="number" min="1" max="50" value="4"></label>
        <label>Quality <select id="quality">
          <option value="standard" selected>standard (H.264 CRF 16)</option>
          <option value="high">high (CRF 10, larger file)</option>
          <option value="small">small file (CRF 23)</option>
        </select></label>
        <button id="start">Upscale</button>
      </div>
    </div>
    <p id="error" class="error hidden" role="alert"></p>
  </section>
  <section id="progress" class="hidden">
    <h2>2. Progress</h2>
    <div class="row">
      <div class="bar"><div id="barFill"></div></div>
      <span id="progressText">waiting…</span>
      <button id="cancel" class="secondary">Cancel</button>
    </div>
    <p class="meta" id="timing"></p>
    <div id="warnings"></div>
    <div class="frames">
      <figure><figcaption>Low-resolution input</figcaption><img id="lrFrame" class="lr" alt=""></figure>
      <figure><figcaption>Upscaled (latest frame)</figcaption><img id="hrFrame" alt=""></figure>
    </div>
  </section>
  <section id="result" class="hidden">
    <h2>3. Result</h2>
    <p class="meta" id="resultMeta"></p>
    <video id="resultVideo" controls playsinline></video>
    <p><a id="download" class="button" href="#">Download</a></p>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let upload = null, job = null, events = null, shownFrame = 0;

function show(id, visible) { $(id).classList.toggle("hidden", !visible); }
function showError(text) { $("error").textContent = text; show("error", !!text); }
function seconds(s) {
  if (s == null || !isFinite(s)) return "–";
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return m < 60 ? `${m} min ${r} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

fetch("/api/info").then(r => r.json()).then(info => {
  $("model").textContent = info.model;
  $("steps").value = info.defaultInferenceSteps;
}).catch(() => {});

$("drop").addEventListener("click", () => $("file").click());
$("drop").addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
$("drop").addEventListener("dragover", e => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", e => {
  e.preventDefault(); $("drop").classList.remove("over");
  if (e.dataTransfer.files.length) sendFile(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", () => { if ($("file").files.length) sendFile($("file").files[0]); });

function sendFile(file) {
  showError(""); show("preview", false); show("result", false); show("progress", false);
  if (upload) { fetch(`/api/uploads/${upload.id}`, { method: "DELETE" }); upload = null; }
  show("uploading", true); $("uploadPercent").textContent = "0";
  const request = new XMLHttpRequest();
  request.open("POST", "/api/uploads?name=" + encodeURIComponent(file.name));
  request.setRequestHeader("Content-Type", "application/octet-stream");
  request.upload.onprogress = e => { if (e.lengthComputable) $("uploadPercent").textContent = Math.round(100 * e.loaded / e.total); };
  request.onload = () => {
    show("uploading", false);
    let reply = {};
    try { reply = JSON.parse(request.responseText); } catch (_) {}
    if (request.status >= 300) { showError(reply.error || `upload failed (HTTP ${request.status})`); return; }
    upload = reply;
    const i = reply.info;
    $("videoMeta").textContent = `${reply.name}: ${i.width}×${i.height}, ${i.frameCount} frames at ${i.frameRate.toFixed(2)} fps` +
      `${i.hasAudio ? ", with audio" : ""} → ${i.width * 4}×${i.height * 4}` + (i.browserPlayable ? "" : " (preview converted to H.264)");
    $("previewVideo").src = reply.previewURL;
    $("start").disabled = false;
    show("preview", true);
  };
  request.onerror = () => { show("uploading", false); showError("upload failed: the server closed the connection (file too large?)"); };
  request.send(file);
}

$("start").addEventListener("click", async () => {
  if (!upload) return;
  showError(""); $("start").disabled = true;
  const response = await fetch("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ upload: upload.id, inferenceSteps: Number($("steps").value), quality: $("quality").value }) });
  const reply = await response.json();
  if (!response.ok) { showError(reply.error); $("start").disabled = false; return; }
  upload = null; job = reply; shownFrame = 0;
  $("lrFrame").removeAttribute("src"); $("hrFrame").removeAttribute("src"); $("warnings").textContent = "";
  show("progress", true); show("result", false); $("cancel").disabled = false;
  render(reply);
  events = new EventSource(`/api/jobs/${reply.id}/events`);
  events.addEventListener("status", e => render(JSON.parse(e.data)));
  events.onerror = () => { if (job && !["finished", "failed", "cancelled"].includes(job.state)) setTimeout(poll, 2000); };
});

async function poll() {
  if (!job) return;
  const response = await fetch(`/api/jobs/${job.id}`);
  if (response.ok) render(await response.json());
}

$("cancel").addEventListener("click", async () => {
  if (!job) return;
  $("cancel").disabled = true;
  await fetch(`/api/jobs/${job.id}/cancel`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
});

function render(status) {
  job = status;
  const fraction = status.frameCount ? status.framesDone / status.frameCount : 0;
  $("barFill").style.width = (100 * fraction).toFixed(1) + "%";
  if (status.state === "queued") {
    $("progressText").textContent = status.queuePosition ? `queued: position ${status.queuePosition}` : "queued";
  } else {
    $("progressText").textContent = `frame ${status.framesDone} / ${status.frameCount} (${status.state})`;
  }
  $("timing").textContent = status.secondsPerFrame != null
    ? `${seconds(status.secondsPerFrame)} per frame · ETA ${seconds(status.etaSeconds)} · ${status.inferenceSteps} steps · ${status.quality}` : `${status.inferenceSteps} steps · ${status.quality}`;
  $("warnings").innerHTML = "";
  for (const w of status.warnings) { const p = document.createElement("p"); p.className = "warning"; p.textContent = w; $("warnings").appendChild(p); }
  if (status.framesDone > shownFrame && status.state === "running") {
    shownFrame = status.framesDone;
    $("lrFrame").src = `/api/jobs/${status.id}/frames/input?n=${shownFrame}`;
    $("hrFrame").src = `/api/jobs/${status.id}/frames/output?n=${shownFrame}`;
  }
  if (["finished", "failed", "cancelled"].includes(status.state)) {
    if (events) { events.close(); events = null; }
    $("cancel").disabled = true;
  }
  if (status.state === "failed") showError(`The job failed: ${status.message}`);
  if (status.state === "cancelled") $("progressText").textContent = `cancelled after ${status.framesDone} frames`;
  if (status.state === "finished") {
    $("resultVideo").src = status.resultURL;
    $("download").href = status.resultURL + "?download=1";
    $("download").setAttribute("download", "");
    $("resultMeta").textContent = `${status.inputName}: ${status.framesDone} frames, ${status.outputWidth}×${status.outputHeight}`;
    show("result", true);
  }
}
</script>
</body>
</html>
"""#
}
