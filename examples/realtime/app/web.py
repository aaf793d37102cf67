"""The web console: serves a page that shows every client's health live, and relays the
page's websocket to the API through the load balancer (same origin for the browser).

  GET /          the console page (console.html)
  GET /health    200 when the API answers through the load balancer, else 503
  ws  /ws        relayed to API_URL with role=console (events from every API node)

Environment: API_URL (ws://lb/ws), PORT (8000), APP_VERSION.
"""

import asyncio
import http
import json
import os
import urllib.request

import websockets

API_URL = os.environ.get("API_URL", "ws://127.0.0.1/ws")
PORT = int(os.environ.get("PORT", "8000"))
VERSION = os.environ.get("APP_VERSION", "dev")
PAGE = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "console.html"), "rb").read()
PAGE = PAGE.replace(b"@VERSION@", VERSION.encode())


def api_http(path):
    url = API_URL.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rsplit("/ws", 1)[0]
    with urllib.request.urlopen(url + path, timeout=5) as r:
        return r.status


async def routes(path, headers):
    if headers.get("Upgrade", "").lower() == "websocket" and path.startswith("/ws"):
        return None
    if path == "/" or path.startswith("/?"):
        return (http.HTTPStatus.OK, [("Content-Type", "text/html; charset=utf-8"),
                                     ("Cache-Control", "no-store")], PAGE)
    if path == "/health":
        try:
            status = await asyncio.get_running_loop().run_in_executor(None, api_http, "/health")
        except Exception as e:  # noqa: BLE001
            return (http.HTTPStatus.SERVICE_UNAVAILABLE, [("Content-Type", "application/json")],
                    (json.dumps({"api": str(e)}) + "\n").encode())
        return (http.HTTPStatus.OK, [("Content-Type", "application/json")],
                (json.dumps({"status": "ok", "api": status, "version": VERSION}) + "\n").encode())
    return (http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"not found\n")


async def relay(browser, path):
    async with websockets.connect(API_URL + "?role=console", open_timeout=10) as api:
        async def up():
            async for m in browser:
                await api.send(m)

        async def down():
            async for m in api:
                await browser.send(m)

        done, pending = await asyncio.wait([asyncio.create_task(up()), asyncio.create_task(down())],
                                           return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()


async def main():
    async with websockets.serve(relay, "0.0.0.0", PORT, process_request=routes):
        print(f"web console on :{PORT} -> {API_URL}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
