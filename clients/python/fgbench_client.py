"""A small client for `fgbench serve` (protocol fgbench.serve/1, docs/protocol.md).

Standard library only. One connection; requests may be pipelined; responses are matched
to requests by id.
"""

import itertools
import json
import socket

PROTOCOL = "fgbench.serve/1"


class ServerError(Exception):
    """An `error` response: `code` is the protocol's error code."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Client:
    def __init__(self, path, timeout=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.reader = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.ids = itertools.count(1)
        self.parked = {}  # final responses that arrived for other requests

    def close(self):
        self.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, request):
        """Sends a request (an id is added when missing); returns its id."""
        request = dict(request)
        request.setdefault("id", next(self.ids))
        self.sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        return request["id"]

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        return json.loads(line)

    def wait(self, request_id, on_token=None):
        """The final response of `request_id`; `token` events go to `on_token`."""
        if request_id in self.parked:
            return self._final(self.parked.pop(request_id))
        while True:
            msg = self._read()
            if msg.get("id") != request_id:
                if msg.get("type") != "token":
                    self.parked[msg.get("id")] = msg
                continue
            if msg.get("type") == "token":
                if on_token:
                    on_token(msg["text"])
                continue
            return self._final(msg)

    @staticmethod
    def _final(msg):
        if msg.get("type") == "error":
            raise ServerError(msg.get("code"), msg.get("message"))
        return msg

    def request(self, request, on_token=None):
        return self.wait(self.send(request), on_token)

    # Conveniences for each request type.
    def hello(self):
        return self.request({"type": "hello", "protocol": PROTOCOL})

    def models(self):
        return self.request({"type": "models"})["models"]

    def load(self, name, source, engine=None, adapter=None):
        req = {"type": "load", "name": name, "source": source}
        if engine:
            req["engine"] = engine
        if adapter:
            req["adapter"] = adapter
        return self.request(req)

    def unload(self, name):
        return self.request({"type": "unload", "name": name})

    def generate(self, model, on_token=None, settings=None, **input):
        """input: prompt=..., case={"tools":..., "messages":...} or case_id=..."""
        req = {"type": "generate", "model": model, "stream": on_token is not None, **input}
        if settings:
            req["settings"] = settings
        return self.request(req, on_token)

    def call(self, model, settings=None, **input):
        req = {"type": "call", "model": model, **input}
        if settings:
            req["settings"] = settings
        return self.request(req)

    def compare(self, models, settings=None, **input):
        req = {"type": "compare", "models": list(models), **input}
        if settings:
            req["settings"] = settings
        return self.request(req)

    def stats(self):
        return self.request({"type": "stats"})

    def cancel(self, target):
        return self.request({"type": "cancel", "target": target})

    def shutdown(self):
        return self.request({"type": "shutdown"})
