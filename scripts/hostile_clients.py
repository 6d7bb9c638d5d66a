#!/usr/bin/env python3
"""Hostile upload clients for scripts/overload.sh (standard library only).

  trickle: N connections, each POSTing a 100 KB image to PATH and sending one body byte every
           GAP seconds; a connection the server closes is reopened at once, so N stay open.
  hold:    N connections, each sending only the headers of a 1 MB upload to PATH and then
           nothing; reopened when the server closes them.

Runs for DURATION seconds and prints one JSON line: connections opened, status codes the server
answered with, connections refused or reset.
Usage: hostile_clients.py URL MODE N DURATION [PATH] [GAP]
"""
import asyncio
import collections
import json
import sys
import time
from urllib.parse import urlparse


async def one(host, port, path, mode, gap, until, stats):
    length = 100_000 if mode == "trickle" else 1_000_000
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            stats["connect_error:" + type(e).__name__] += 1
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        try:
            writer.write(head.encode())
            await writer.drain()
            while time.monotonic() < until:
                try:
                    line = await asyncio.wait_for(reader.readline(), timeout=gap)
                except asyncio.TimeoutError:
                    if mode == "trickle":
                        writer.write(b"\0")
                        await writer.drain()
                    continue
                if line:
                    parts = line.split()
                    stats["status:" + (parts[1].decode() if len(parts) > 1 else "?")] += 1
                else:
                    stats["closed_without_answer"] += 1
                break
        except (ConnectionError, OSError) as e:
            stats["reset:" + type(e).__name__] += 1
        finally:
            writer.close()


async def main():
    url, mode, n, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    path = sys.argv[5] if len(sys.argv) > 5 else "/v1/ocr"
    gap = float(sys.argv[6]) if len(sys.argv) > 6 else 5.0
    u = urlparse(url)
    until = time.monotonic() + duration
    stats = collections.Counter()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(u.hostname, u.port, path, mode, gap, until, stats)))
        if i % 500 == 499:
            await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    print(json.dumps({"mode": mode, "connections": n, "path": path, **stats}))


asyncio.run(main())
