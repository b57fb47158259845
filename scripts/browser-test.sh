#!/usr/bin/env bash
# Browser test of the web app: headless Chromium (Debian package) drives the real page served by
# `stream-diffvsr serve` — picks a small video with an audio track, waits for the preview, starts the job,
# watches the live progress and frames, clicks Download — then checks the downloaded file with ffprobe
# (4x size, every frame, source frame rate, audio) and saves a screenshot of the finished page.
#
#   scripts/browser-test.sh [screenshot.png]
#
# By default the server runs with the nearest-neighbour stand-in (no weights needed, ~1 minute in all,
# most of it the build); set BROWSER_TEST_MODEL=<model folder or repo id> (and BROWSER_TEST_FLOW_WEIGHTS)
# to drive the real pipeline instead; BROWSER_TEST_BINARY=<stream-diffvsr> skips the build (SCRATCH_PATH picks
# the build folder otherwise). Needs ffmpeg and python3 (standard library only); installs chromium
# with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

screenshot="${1:-.build-browser-test/webapp-finished.png}"
work="$(mktemp -d "${TMPDIR:-/tmp}/stream-diffvsr-browser-test.XXXXXX")"
server_pid=""
browser_pid=""
cleanup() {
    [ -n "$browser_pid" ] && { pkill -P "$browser_pid" 2>/dev/null; kill "$browser_pid" 2>/dev/null; } || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    # Chromium's helper processes may still be flushing the profile for a moment: retry, never fail the test on it.
    for _ in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$work" 2>/dev/null && break; sleep 0.5; done
    return 0
}
trap cleanup EXIT

browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
    echo "browser-test: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    browser="$(command -v chromium)"
fi

binary="${BROWSER_TEST_BINARY:-}"
if [ -z "$binary" ]; then
    swift build --scratch-path "${SCRATCH_PATH:-.build}" --product stream-diffvsr >&2
    binary="$(swift build --scratch-path "${SCRATCH_PATH:-.build}" --show-bin-path)/stream-diffvsr"
fi

# 24 frames of 96x64 test pattern at 12 fps with a sine tone, in MKV/MPEG-4 Part 2 so the page's preview
# has to be converted to H.264 first.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=96x64:rate=12" \
    -f lavfi -i "sine=frequency=440:sample_rate=22050" -frames:v 24 -t 2 -c:v mpeg4 -c:a aac -shortest "$work/clip.mkv"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
serve_args=(serve --host 127.0.0.1 --port "$port")
if [ -n "${BROWSER_TEST_MODEL:-}" ]; then
    serve_args+=(--model-id "$BROWSER_TEST_MODEL")
    [ -n "${BROWSER_TEST_FLOW_WEIGHTS:-}" ] && serve_args+=(--flow-weights "$BROWSER_TEST_FLOW_WEIGHTS")
else
    serve_args+=(--nearest-upscaler-for-testing)
fi
STREAM_DIFFVSR_TMP_DIR="$work/tmp" STREAM_DIFFVSR_OUTPUT_DIR="$work/outputs" "$binary" "${serve_args[@]}" 2>"$work/server.log" &
server_pid=$!

debug_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$browser" --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$work/profile" --window-size=1280,1500 --remote-debugging-address=127.0.0.1 \
    --remote-debugging-port="$debug_port" about:blank 2>"$work/browser.log" &
browser_pid=$!

mkdir -p "$(dirname "$screenshot")"
python3 - "$port" "$debug_port" "$work" "$screenshot" <<'PYTHON' || { echo "--- server log"; cat "$work/server.log"; exit 1; } >&2
import base64, json, os, socket, struct, subprocess, sys, time, urllib.request

port, debug_port, work, screenshot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
app = f"http://127.0.0.1:{port}"

def wait_for(what, check, timeout=60.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError):
            pass
        time.sleep(interval)
    raise SystemExit(f"browser-test: timed out waiting for {what}")

wait_for("the server", lambda: urllib.request.urlopen(app + "/api/info", timeout=2).status == 200)
targets = wait_for("chromium", lambda: json.load(urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json", timeout=2)))
page = next(t for t in targets if t.get("type") == "page")

class DevTools:
    """The Chrome DevTools Protocol over a minimal RFC 6455 client (text frames, client-side masking)."""
    def __init__(self, url):
        host, path = url[len("ws://"):].split("/", 1)
        address, ws_port = host.split(":")
        self.sock = socket.create_connection((address, int(ws_port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert b" 101 " in response.split(b"\r\n")[0], response
        self.next_id = 0

    def _recv_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise SystemExit("browser-test: DevTools connection closed")
            data += chunk
        return data

    def _recv_message(self):
        message = b""
        while True:
            first, second = self._recv_exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._recv_exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._recv_exact(8))[0]
            message += self._recv_exact(length)
            if first & 0x80:
                return message

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            reply = json.loads(self._recv_message())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"browser-test: {method} failed: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise SystemExit(f"browser-test: script error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

tools = DevTools(page["webSocketDebuggerUrl"])
downloads = os.path.join(work, "downloads")
os.makedirs(downloads)
tools.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=downloads)
tools.call("Page.navigate", url=app + "/")
wait_for("the page", lambda: tools.evaluate("document.readyState === 'complete' && document.getElementById('model').textContent !== '…'"))
print("browser-test: page loaded, model:", tools.evaluate("document.getElementById('model').textContent"))

# Pick the file the way a user does: through the page's file input.
document = tools.call("DOM.getDocument")
node = tools.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#file")
tools.call("DOM.setFileInputFiles", files=[os.path.join(work, "clip.mkv")], nodeId=node["nodeId"])
visible = "(id => !document.getElementById(id).classList.contains('hidden'))"
wait_for("the upload and preview", lambda: tools.evaluate(f"{visible}('preview') || {visible}('error')"), timeout=120)
error = tools.evaluate(f"{visible}('error') ? document.getElementById('error').textContent : ''")
if error:
    raise SystemExit(f"browser-test: the page shows an error after the upload: {error}")
print("browser-test: preview:", tools.evaluate("document.getElementById('videoMeta').textContent"))
wait_for("the preview video to load", lambda: tools.evaluate("document.getElementById('previewVideo').readyState >= 2"))

tools.evaluate("document.getElementById('steps').value = 2; document.getElementById('start').click(); true")
saw = {"progress": False, "frames": False}
def finished():
    state = tools.evaluate("""({
        progress: document.getElementById('progressText').textContent,
        lr: document.getElementById('lrFrame').naturalWidth, hr: document.getElementById('hrFrame').naturalWidth,
        done: !document.getElementById('result').classList.contains('hidden'),
        error: document.getElementById('error').classList.contains('hidden') ? '' : document.getElementById('error').textContent })""")
    if state["error"]:
        raise SystemExit(f"browser-test: the page shows an error: {state['error']}")
    saw["progress"] |= state["progress"].startswith("frame ")
    # The live pair: the LR frame and its upscaled frame, 4x wider.
    saw["frames"] |= state["lr"] == 96 and state["hr"] == 384
    return state["done"]
wait_for("the result", finished, timeout=float(os.environ.get("BROWSER_TEST_TIMEOUT", "300")), interval=0.05)
if not saw["progress"]:
    raise SystemExit("browser-test: never saw the progress text 'frame n / N'")
print("browser-test: saw live progress; saw the live LR/HR frame pair:", saw["frames"])
wait_for("the result video to load", lambda: tools.evaluate("document.getElementById('resultVideo').readyState >= 2"))

metrics = tools.call("Page.getLayoutMetrics")["cssContentSize"]
shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                  clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1})
with open(screenshot, "wb") as file:
    file.write(base64.b64decode(shot["data"]))
print("browser-test: screenshot of the finished page:", screenshot)

tools.evaluate("document.getElementById('download').click(); true")
downloaded = wait_for("the download", lambda: [f for f in os.listdir(downloads) if f.endswith(".mp4")], timeout=60)
path = os.path.join(downloads, downloaded[0])
wait_for("the download to finish", lambda: not any(f.endswith(".crdownload") for f in os.listdir(downloads)))
probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-print_format", "json", "-show_entries",
                                   "stream=codec_type,width,height,r_frame_rate,nb_read_frames", path],
                                  check=True, capture_output=True).stdout)
video = next(s for s in probe["streams"] if s["codec_type"] == "video")
checks = {"size 384x256": (video["width"], video["height"]) == (384, 256), f"24 frames (found {video['nb_read_frames']})": video["nb_read_frames"] == "24",
          "12 fps": video["r_frame_rate"] == "12/1", "audio": any(s["codec_type"] == "audio" for s in probe["streams"])}
print(f"browser-test: downloaded {downloaded[0]}:", ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in checks.items()))
if not all(checks.values()):
    raise SystemExit("browser-test: the downloaded video is wrong")

PYTHON
echo "browser-test: passed"
