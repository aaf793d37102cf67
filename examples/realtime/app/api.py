"""The realtime API: a websocket server whose nodes share events through Redis.

Clients connect to /ws and push their health as JSON messages; every message is stored
in Redis (hash `clients`: the latest health of each client) and published on the Redis
channel `events`. Every API node subscribes to `events` and relays each event to the web
consoles connected to it (/ws?role=console), so a console on one node sees the clients
of every node. Plain HTTP on the same port:

  GET /node      this node's name and version (JSON)
  GET /clients   every client with its last health and when it was seen (JSON, from Redis)
  GET /health    200 when Redis answers PING, else 503 (the deploy's health gate)

Environment: NODE_NAME, REDIS_URL (redis://host:port), PORT (8080), APP_VERSION (baked
into the image), APP_HEALTHY (0 makes /health fail: a broken release for rollout tests).
"""

import asyncio
import http
import json
import os
import signal
import time
from urllib.parse import parse_qs, urlparse

import redis.asyncio as aioredis
import websockets

NODE = os.environ.get("NODE_NAME", os.uname().nodename)
VERSION = os.environ.get("APP_VERSION", "dev")
HEALTHY = os.environ.get("APP_HEALTHY", "1") != "0"
PORT = int(os.environ.get("PORT", "8080"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
CHANNEL = "events"

consoles = set()
rds = aioredis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def reply(status, body, ctype="application/json"):
    data = body if isinstance(body, bytes) else body.encode()
    headers = [("Content-Type", ctype), ("Content-Length", str(len(data))),
               ("Cache-Control", "no-store"), ("X-Api-Node", NODE)]
    return (status, headers, data)


async def http_routes(path, headers):
    """websockets' process_request hook: plain HTTP requests are answered here."""
    url = urlparse(path)
    if headers.get("Upgrade", "").lower() == "websocket" and url.path == "/ws":
        return None
    if url.path == "/node":
        return reply(http.HTTPStatus.OK, json.dumps({"node": NODE, "version": VERSION}) + "\n")
    if url.path == "/clients":
        try:
            raw = await rds.hgetall("clients")
        except Exception as e:  # noqa: BLE001 - report any Redis failure as 503
            return reply(http.HTTPStatus.SERVICE_UNAVAILABLE, json.dumps({"error": str(e)}) + "\n")
        clients = {k.decode(): json.loads(v) for k, v in raw.items()}
        return reply(http.HTTPStatus.OK, json.dumps(clients, sort_keys=True) + "\n")
    if url.path == "/health":
        if not HEALTHY:
            return reply(http.HTTPStatus.SERVICE_UNAVAILABLE, '{"status": "unhealthy release"}\n')
        try:
            await rds.ping()
        except Exception as e:  # noqa: BLE001
            return reply(http.HTTPStatus.SERVICE_UNAVAILABLE, json.dumps({"redis": str(e)}) + "\n")
        return reply(http.HTTPStatus.OK, json.dumps({"status": "ok", "node": NODE, "version": VERSION}) + "\n")
    return reply(http.HTTPStatus.NOT_FOUND, '{"error": "not found"}\n')


async def handle(ws, path):
    query = parse_qs(urlparse(path).query)
    role = query.get("role", ["client"])[0]
    await ws.send(json.dumps({"type": "welcome", "node": NODE, "version": VERSION}))
    if role == "console":
        consoles.add(ws)
        try:
            raw = await rds.hgetall("clients")
            for k, v in sorted(raw.items()):
                await ws.send(json.dumps({"type": "health", "snapshot": True, **json.loads(v)}))
            await ws.wait_closed()
        finally:
            consoles.discard(ws)
        return
    async for message in ws:
        try:
            event = json.loads(message)
            client = str(event["client"])
        except (ValueError, KeyError, TypeError):
            await ws.send(json.dumps({"type": "error", "error": "expected JSON with a 'client' key"}))
            continue
        event.update({"type": "health", "node": NODE, "seen": time.time()})
        data = json.dumps(event, sort_keys=True)
        await rds.hset("clients", client, data)
        await rds.publish(CHANNEL, data)
        await ws.send(json.dumps({"type": "ack", "node": NODE}))


async def relay():
    """Every event published by any node goes to this node's consoles."""
    while True:
        try:
            pubsub = rds.pubsub()
            await pubsub.subscribe(CHANNEL)
            async for msg in pubsub.listen():
                if msg.get("type") != "message":
                    continue
                data = msg["data"].decode()
                for ws in list(consoles):
                    try:
                        await ws.send(data)
                    except websockets.ConnectionClosed:
                        consoles.discard(ws)
        except Exception as e:  # noqa: BLE001 - Redis away: retry, bounded by the wait
            print(f"relay: {e!r}; retrying in 1 s", flush=True)
            await asyncio.sleep(1)


async def main():
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(handle, "0.0.0.0", PORT, process_request=http_routes,
                                ping_interval=20, ping_timeout=20):
        print(f"api {NODE} {VERSION} on :{PORT}, redis {REDIS_URL}", flush=True)
        task = asyncio.create_task(relay())
        await stop
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
