"""The real MLflow UI on a tracking server, in headless Chromium (driven over the DevTools protocol).

usage: tracking_ui_pages.py BASE_URL OUT_DIR [--ids IDS_JSON] [--chromium PATH]

Unless --ids names what is already in the store, the real mlflow client first logs a small experiment
to BASE_URL ("ui-demo": two runs with params, a metric history, a text artifact, a pyfunc logged model
registered as "ui-model" with alias "champion"; an HTML artifact page.html). Then one Chromium process opens each UI page in its
own tab and records every data request the page makes (/ajax-api/..., /graphql, /get-artifact,
/model-versions/get-artifact) with its status, the console's errors (Content-Security-Policy
violations among them) and the page's text. A page passes when every data request answered 2xx, no
CSP violation was reported, and the text shows what the page must show. The runs table is saved as
OUT_DIR/runs-table.png; everything observed goes to OUT_DIR/report.json. Prints OK when all pages
pass, else the failures, and exits 1. Stdlib plus aiohttp (in the venv as an mlflow dependency).
"""

import asyncio
import base64
import json
import os
import re
import shutil
import sys
import time
import urllib.parse

import aiohttp

PAGE_TIMEOUT_S = 60.0
IDLE_S = 2.0
DATA_PATHS = ("/ajax-api/", "/graphql", "/get-artifact", "/model-versions/get-artifact")
# The one data request allowed to fail: the UI asks who is logged in, and `mlflow server` without
# authentication answers 404 (so does homeml server without --auth); the UI then shows no user menu.
ALLOWED_404 = ("/ajax-api/2.0/mlflow/users/current",)


def populate(base):
    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(base)
    mlflow.set_experiment("ui-demo")

    class Model(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return [1] * len(model_input)

    run_ids, info = [], None
    for name, lr in [("alpha-run", 0.1), ("beta-run", 0.01)]:
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"lr": lr, "depth": 3})
            for s in range(10):
                mlflow.log_metric("train_loss", 1.0 / (s + 1 + lr), step=s)
            mlflow.log_metric("val_accuracy", 0.9 + lr)
            mlflow.log_text("hello from " + name, "notes/hello.txt")
            mlflow.log_text("<script>alert(1)</script>", "page.html")
            if info is None:
                info = mlflow.pyfunc.log_model(name="model", python_model=Model())
            run_ids.append(run.info.run_id)
    mv = mlflow.register_model(info.model_uri, "ui-model")
    mlflow.MlflowClient().set_registered_model_alias("ui-model", "champion", mv.version)
    exp = mlflow.get_experiment_by_name("ui-demo")
    return {
        "experiment_id": exp.experiment_id,
        "run_ids": run_ids,
        "model_id": info.model_id,
        "model": "ui-model",
        "version": str(mv.version),
    }


# The runs table shows no metric or param columns until they are chosen: open "Columns" and tick
# the Metrics and Parameters groups, as a user would.
SHOW_COLUMNS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const btn = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Columns');
  if (!btn) return 'no Columns button';
  btn.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true, button: 0, pointerType: 'mouse'}));
  btn.click();
  await sleep(1000);
  for (const group of ['Metrics', 'Parameters']) {
    const node = [...document.querySelectorAll('[role=dialog] .du-bois-light-tree-treenode')]
      .find(n => n.innerText.trim().startsWith(group));
    const box = node && node.querySelector('.du-bois-light-tree-checkbox');
    if (!box) return 'no ' + group + ' in the column chooser';
    box.click();
    await sleep(500);
  }
  document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
  return 'ok';
})()
"""


def pages(ids):
    """(name, hash route, texts the page must show, screenshot file or None[, (script to run then,
    texts the page must show after it)])."""
    e, (r1, r2), mid = ids["experiment_id"], ids["run_ids"], ids["model_id"]
    runs_q = urllib.parse.quote(json.dumps([r1, r2]))
    exps_q = urllib.parse.quote(json.dumps([e]))
    return [
        ("experiment list", "#/experiments", ["ui-demo"], None),
        ("runs table", f"#/experiments/{e}/runs", ["alpha-run", "beta-run"], "runs-table.png",
         (SHOW_COLUMNS, ["train_loss", "val_accuracy", "depth", "0.91", "0.01"])),
        ("run page", f"#/experiments/{e}/runs/{r1}", ["alpha-run", "lr", "train_loss", "val_accuracy"], None),
        ("run metric charts", f"#/experiments/{e}/runs/{r1}/model-metrics", ["train_loss"], "run-charts.png"),
        ("run artifacts", f"#/experiments/{e}/runs/{r1}/artifacts/notes/hello.txt", ["hello from alpha-run"], None),
        ("run comparison", f"#/compare-runs?runs={runs_q}&experiments={exps_q}", ["alpha-run", "beta-run", "lr"], None),
        ("logged model", f"#/experiments/{e}/models/{mid}", ["model"], None),
        ("logged model artifacts", f"#/experiments/{e}/models/{mid}/artifacts", ["MLmodel"], None),
        ("registered models", "#/models", ["ui-model"], None),
        ("registered model", "#/models/ui-model", ["Version 1"], None),
        ("model version", f"#/models/ui-model/versions/{ids['version']}", ["champion"], None),
    ]


class Cdp:
    """One DevTools websocket to the browser, sessions multiplexed (flatten mode)."""

    def __init__(self, ws):
        self.ws, self.next_id, self.waiting, self.listeners = ws, 0, {}, []

    async def pump(self):
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            m = json.loads(msg.data)
            if "id" in m and m["id"] in self.waiting:
                self.waiting.pop(m["id"]).set_result(m)
            else:
                for f in list(self.listeners):
                    f(m)

    async def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = fut
        await self.ws.send_str(json.dumps(msg))
        m = await asyncio.wait_for(fut, timeout)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m.get("result", {})


async def visit(cdp, base, name, route, texts, shot, out_dir, then=None):
    url = base.rstrip("/") + "/" + route
    target = (await cdp.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
    sid = (await cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
    reqs, inflight, console, urls = {}, set(), [], {}
    last = [time.monotonic()]
    prefix = urllib.parse.urlparse(base).path.rstrip("/")

    def on_event(m):
        if m.get("sessionId") != sid:
            return
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Network.requestWillBeSent":
            if not p["request"]["url"].startswith(base.rstrip("/")):
                return
            last[0] = time.monotonic()
            urls[p["requestId"]] = p["request"]["url"]
            path = urllib.parse.urlparse(p["request"]["url"]).path
            if path.startswith(prefix) and path[len(prefix):].startswith(DATA_PATHS):
                # Idle means no data request in flight (a worker's script never reports its end here).
                inflight.add(p["requestId"])
                reqs[p["requestId"]] = {"method": p["request"]["method"], "url": p["request"]["url"],
                                        "status": None}
        elif meth == "Network.responseReceived":
            last[0] = time.monotonic()
            if p["requestId"] in reqs:
                reqs[p["requestId"]]["status"] = p["response"]["status"]
        elif meth in ("Network.loadingFinished", "Network.loadingFailed"):
            last[0] = time.monotonic()
            inflight.discard(p["requestId"])
            if meth == "Network.loadingFailed":
                if p["requestId"] in reqs:
                    reqs[p["requestId"]]["failed"] = p.get("errorText")
                if p.get("blockedReason"):
                    console.append({"level": "error", "text": f"blocked ({p['blockedReason']}): {p.get('errorText')}"})
        elif meth == "Log.entryAdded":
            e = p["entry"]
            if e["level"] in ("error", "warning"):
                console.append({"level": e["level"], "source": e.get("source"), "text": e.get("text", "")})
        elif meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            console.append({"level": p["type"], "source": "console", "text": text[:2000]})
        elif meth == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            console.append({"level": "error", "source": "exception",
                            "text": (d.get("exception") or {}).get("description", d.get("text", ""))[:2000]})

    cdp.listeners.append(on_event)
    try:
        for d in ("Network.enable", "Page.enable", "Runtime.enable", "Log.enable"):
            await cdp.call(d, session=sid)
        started = time.monotonic()
        await cdp.call("Page.navigate", {"url": url}, session=sid)
        deadline = time.monotonic() + PAGE_TIMEOUT_S

        async def settle(want):
            body, missing = "", want
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                r = await cdp.call("Runtime.evaluate", {"expression": "document.body ? document.body.innerText : ''",
                                                        "returnByValue": True}, session=sid)
                body = r.get("result", {}).get("value", "") or ""
                missing = [t for t in want if t not in body]
                if not missing and not inflight and time.monotonic() - last[0] > IDLE_S:
                    break
            return body, missing

        body, missing = await settle(texts)
        if then and not missing:
            r = await cdp.call("Runtime.evaluate", {"expression": then[0], "awaitPromise": True,
                                                    "returnByValue": True}, session=sid)
            done = r.get("result", {}).get("value")
            if done != "ok":
                console.append({"level": "error", "source": "driver", "text": f"page script: {done or r}"})
            body, missing = await settle(then[1])
        if shot:
            await cdp.call("Page.bringToFront", session=sid)
            img = await cdp.call("Page.captureScreenshot", {"format": "png"}, session=sid)
            with open(os.path.join(out_dir, shot), "wb") as f:
                f.write(base64.b64decode(img["data"]))
    finally:
        cdp.listeners.remove(on_event)
        await cdp.call("Target.closeTarget", {"targetId": target})
    def fine(r):
        path = urllib.parse.urlparse(r["url"]).path[len(prefix):]
        return (r["status"] and 200 <= r["status"] < 300) or (r["status"] == 404 and path in ALLOWED_404)

    bad = [r for r in reqs.values() if not fine(r)]
    csp = [c for c in console if "Content Security Policy" in c["text"] or "(csp)" in c["text"]]
    script_failed = [c for c in console if c.get("source") == "driver"]
    return {"page": name, "url": url, "seconds": round(time.monotonic() - started, 1), "requests": list(reqs.values()), "console": console,
            "missing_text": missing, "pending": [urls.get(i) for i in inflight], "bad_requests": bad, "csp_violations": csp,
            "ok": not bad and not csp and not missing and not script_failed and bool(reqs), "text": body[:4000]}


async def drive(base, ids, out_dir, chromium):
    profile = os.path.join(out_dir, "chromium-profile")
    proc = await asyncio.create_subprocess_exec(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--window-size=2400,1000",
        "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        ws_url = None
        deadline = time.monotonic() + 60
        while ws_url is None:
            line = await asyncio.wait_for(proc.stderr.readline(), max(1, deadline - time.monotonic()))
            if not line:
                raise RuntimeError("chromium exited before it listened for DevTools")
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            if found:
                ws_url = found.group(1).decode()

        async def drain():
            while await proc.stderr.readline():
                pass

        drainer = asyncio.create_task(drain())
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url, max_msg_size=0) as ws:
                cdp = Cdp(ws)
                pump = asyncio.create_task(cdp.pump())
                results = []
                only = [w for w in os.environ.get("UI_PAGES", "").split(",") if w]
                for name, route, texts, shot, *then in pages(ids):
                    if only and not any(w in name for w in only):
                        continue
                    results.append(await visit(cdp, base, name, route, texts, shot, out_dir, *then))
                    if os.environ.get("UI_DEBUG"):
                        r = results[-1]
                        print(r["page"], r["seconds"], r["pending"], r["bad_requests"], r["missing_text"],
                              [c["text"][:300] for c in r["console"]], flush=True)
                pump.cancel()
        drainer.cancel()
        return results
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) > 2 and args[-2].startswith("--"):
        opts[args[-2]] = args[-1]
        args = args[:-2]
    base, out_dir = args[0], args[1]
    os.makedirs(out_dir, exist_ok=True)
    ids = json.loads(opts["--ids"]) if "--ids" in opts else populate(base)
    print("ids", json.dumps(ids), flush=True)
    chromium = opts.get("--chromium") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is missing: apt-get install chromium (scripts/test.sh does)")
    results = asyncio.run(drive(base, ids, out_dir, chromium))
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"ids": ids, "pages": results}, f, indent=1)
    failed = False
    for r in results:
        calls = sorted({f"{q['method']} {urllib.parse.urlparse(q['url']).path} {q['status']}" for q in r["requests"]})
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['page']}: {len(r['requests'])} data requests, {r['seconds']} s")
        for c in calls:
            print("      ", c)
        if not r["ok"]:
            failed = True
            if not r["requests"]:
                print("   no data request was seen")
            for q in r["bad_requests"]:
                print(f"   not 2xx: {q['method']} {q['url']} -> {q['status']} {q.get('failed') or ''}")
            for c in r["console"]:
                if c.get("source") == "driver":
                    print(f"   {c['text']}")
            for c in r["csp_violations"]:
                print(f"   CSP: {c['text']}")
            if r["missing_text"]:
                print(f"   missing text: {r['missing_text']}; page text: {r['text'][:600]!r}")
    if failed:
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
