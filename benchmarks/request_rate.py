"""1. Request rate: ``GET /api/v1/health`` keep-alive on 1 and 32 connections, against
coven-trio and peers answering the same JSON on a Unix socket in the same run."""

from __future__ import annotations

import importlib.util
import json
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ._util import HEALTH_REQUEST, load, python, scratch, server


def _fetch_body(path: Path) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.sendall(HEALTH_REQUEST.replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.partition(b"\r\n\r\n")[2]


def _servers(tmp: Path, body_file: Path) -> list[tuple[str, list[str], Path, dict[str, str]]]:
    env = {"BENCH_BODY_FILE": str(body_file)}
    peers = [
        (
            "trio+h11 (bare)",
            [python(), "-m", "benchmarks.peers", "bare", str(tmp / "bare.sock"), str(body_file)],
            tmp / "bare.sock",
            env,
        )
    ]
    if importlib.util.find_spec("hypercorn"):
        sock = tmp / "hyp.sock"
        config = str(Path(__file__).parent / "hypercorn.toml")
        peers.append(
            (
                "hypercorn (trio)",
                [
                    python(),
                    "-m",
                    "hypercorn",
                    "--worker-class",
                    "trio",
                    "-c",
                    config,
                    "--bind",
                    f"unix:{sock}",
                    "benchmarks.peers:app",
                ],
                sock,
                env,
            )
        )
    if importlib.util.find_spec("uvicorn") and importlib.util.find_spec("httptools"):
        sock = tmp / "uvi.sock"
        peers.append(
            (
                "uvicorn (httptools)",
                [
                    python(),
                    "-m",
                    "uvicorn",
                    "--uds",
                    str(sock),
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "benchmarks.peers:app",
                ],
                sock,
                env,
            )
        )
    return peers


def run(smoke: bool) -> list[dict[str, Any]]:
    """All servers stay up together (idle ones cost nothing) and are measured in turns,
    round after round, so a noisy moment on a shared machine hits every server alike;
    each server's figure is its median round."""
    seconds = 0.3 if smoke else 1.0
    rounds = 1 if smoke else 5
    conns = [1, 4] if smoke else [1, 32]
    rows: list[dict[str, Any]] = []
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with scratch() as tmp, ExitStack() as stack:
        home = tmp / "h"
        daemon = [
            python(),
            "-m",
            "coven_trio",
            "serve",
            "--home",
            str(home),
            "--log-level",
            "warning",
        ]
        stack.enter_context(server(daemon, home / "coven.sock"))
        body = _fetch_body(home / "coven.sock")
        json.loads(body)
        body_file = tmp / "body.json"
        body_file.write_bytes(body)
        targets = {"coven-trio": home / "coven.sock"}
        peers = _servers(tmp, body_file)
        for name, argv, sock, env in peers[:1] if smoke else peers:
            stack.enter_context(server(argv, sock, env))
            targets[name] = sock
        for c in conns:
            samples: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, sock in targets.items():
                    samples[name].append(load(sock, c, seconds))
            for name, runs in samples.items():
                runs.sort(key=lambda r: r["requests"] / r["seconds"])
                median = runs[len(runs) // 2]
                median["errors"] = sum(r["errors"] for r in runs)
                results.setdefault(name, {})[c] = median
    for name, by_conns in results.items():
        for c, r in by_conns.items():
            assert r["errors"] == 0 and r["requests"] > 0, (name, c, r)
            rows.append(
                {
                    "bench": "health req/s",
                    "case": f"{name}, {c} conn",
                    "value": r["requests"] / r["seconds"],
                    "p50_us": r["p50_us"],
                    "p99_us": r["p99_us"],
                    "generator": r["generator"],
                }
            )
    for c in conns:
        ours = results["coven-trio"][c]
        rate = ours["requests"] / ours["seconds"]
        for name in results:
            if name == "coven-trio":
                continue
            peer = results[name][c]
            rows.append(
                {
                    "bench": "health ratio",
                    "case": f"coven-trio / {name}, {c} conn",
                    "value": rate / (peer["requests"] / peer["seconds"]),
                }
            )
    return rows
