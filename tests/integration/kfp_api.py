"""A small Kubeflow Pipelines API server on 127.0.0.1 for the submit tests: the KFP v2 REST endpoints kfp.Client
uses to start a run (healthz, experiments list/create, runs create), recording every request it receives."""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KfpApi:
    def __init__(self, require_token: str | None = None):
        self.require_token = require_token
        self.requests: list[dict] = []
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.requests.append({"method": self.command, "path": url.path, "query": urllib.parse.parse_qs(url.query),
                                     "authorization": self.headers.get("Authorization"), "body": body})
                if url.path == "/apis/v2beta1/healthz":
                    return self._reply(200, {"multi_user": False})
                if api.require_token and self.headers.get("Authorization") != f"Bearer {api.require_token}":
                    return self._reply(401, {"error": "missing or invalid bearer token", "code": 16})
                if url.path == "/apis/v2beta1/experiments" and self.command == "GET":
                    wanted = json.loads(urllib.parse.parse_qs(url.query)["filter"][0])["predicates"][0]["stringValue"]
                    found = [e for e in api.experiments.values() if e["display_name"] == wanted]
                    return self._reply(200, {"experiments": found, "total_size": len(found)} if found else {})
                if url.path == "/apis/v2beta1/experiments" and self.command == "POST":
                    experiment = {**body, "experiment_id": str(uuid.uuid4())}
                    api.experiments[experiment["experiment_id"]] = experiment
                    return self._reply(200, experiment)
                if url.path == "/apis/v2beta1/runs" and self.command == "POST":
                    if body.get("experiment_id") not in api.experiments:
                        return self._reply(400, {"error": "unknown experiment"})
                    run = {**body, "run_id": str(uuid.uuid4()), "state": "PENDING"}
                    api.runs[run["run_id"]] = run
                    return self._reply(200, run)
                return self._reply(404, {"error": f"no such endpoint: {self.command} {url.path}"})

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "KfpApi":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
