"""A realtime client: connects to the API through the load balancer over a websocket and
pushes its health every few seconds (load, memory, a sequence number). It reconnects with
a bounded backoff when the connection drops.

A small status page on STATUS_PORT (8081) says what it is doing:
  GET /health   {"connected": bool, "node": API node of the current session,
                 "sent": messages sent, "acks": acks received, "node_changes": acks
                 from another node than the session's, "sessions": [API node of each
                 session so far]}

Environment: CLIENT_NAME, API_URL (ws://lb/ws), INTERVAL (seconds, 2), STATUS_PORT.
"""

import asyncio
import json
import os
import time

import websockets

NAME = os.environ.get("CLIENT_NAME", os.uname().nodename)
API_URL = os.environ.get("API_URL", "ws://127.0.0.1/ws")
INTERVAL = float(os.environ.get("INTERVAL", "2"))
STATUS_PORT = int(os.environ.get("STATUS_PORT", "8081"))
VERSION = os.environ.get("APP_VERSION", "dev")

# node_changes counts acks that came from another API node than the session's welcome:
# with sticky sessions it stays 0.
state = {"connected": False, "node": None, "sent": 0, "sessions": [], "client": NAME,
         "version": VERSION, "api_url": API_URL, "acks": 0, "node_changes": 0}


def health():
    load1 = float(open("/proc/loadavg").read().split()[0])
    mem = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":", 1)
        mem[k] = int(v.split()[0])
    return {"client": NAME, "load1": load1,
            "mem_used_pct": round(100 * (1 - mem["MemAvailable"] / mem["MemTotal"]), 1),
            "seq": state["sent"] + 1, "ts": time.time(), "version": VERSION}


async def session():
    async with websockets.connect(API_URL, open_timeout=10, ping_interval=20) as ws:
        welcome = json.loads(await ws.recv())
        state.update(connected=True, node=welcome.get("node"))
        state["sessions"] = (state["sessions"] + [welcome.get("node")])[-50:]
        print(f"{NAME}: connected to {welcome.get('node')}", flush=True)
        while True:
            await ws.send(json.dumps(health()))
            state["sent"] += 1
            ack = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            state["acks"] += 1
            if ack.get("node") != welcome.get("node"):
                state["node_changes"] += 1
            await asyncio.sleep(INTERVAL)


async def run_forever():
    backoff = 0.5
    while True:
        try:
            await session()
        except Exception as e:  # noqa: BLE001 - any failure: reconnect
            print(f"{NAME}: {e!r}; reconnecting in {backoff:.1f} s", flush=True)
        state.update(connected=False, node=None)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5)


async def status(reader, writer):
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        body = (json.dumps(state, sort_keys=True) + "\n").encode()
        code = "200 OK" if state["connected"] else "503 Service Unavailable"
        writer.write(f"HTTP/1.1 {code}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
    except Exception:  # noqa: BLE001 - a broken status request is not our problem
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(status, "0.0.0.0", STATUS_PORT)
    print(f"client {NAME} -> {API_URL}, status on :{STATUS_PORT}", flush=True)
    async with server:
        await run_forever()


if __name__ == "__main__":
    asyncio.run(main())
