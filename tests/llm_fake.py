"""A loopback endpoint speaking the OpenAI chat-completions protocol, for the `openai` client.

Each request is answered by the next scripted `Reply` (the last one repeats); a Reply's `text` may
be a function of the paper the request carried, so one script can answer many papers. Replies can
also be HTTP errors with headers, non-JSON or wrongly shaped bodies, and stalls (held until the
server is closed). Every request is recorded: its JSON body and its Authorization header.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union

Text = Union[str, Callable[[dict], str]]


@dataclass
class Reply:
    text: Text = ""  # the assistant's message content (or a function of the request's paper)
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | None = None  # a raw body instead of a completion
    stall: float = 0.0  # seconds to hold the request before answering (cut short when the server closes)
    trickle: bool = False  # send the headers, then one body byte every `stall` seconds


def paper_of(request: dict) -> dict:
    """The title/abstract object the tracker put in the user message."""
    content = request["messages"][-1]["content"]
    return json.loads(content[content.index("{"):])


def honest(request: dict) -> str:
    """A summary made of the paper's own words, as a good model would write it."""
    title = paper_of(request)["title"]
    return f"This paper introduces {title.rstrip('.')} and evaluates it on standard benchmarks."


def obedient(request: dict) -> str:
    """A model that does whatever a sentence of the paper tells it to (quoted text wins), else `honest`."""
    abstract = paper_of(request)["abstract"]
    quoted = re.search(r"[\"“']([^\"”']{8,})[\"”']", abstract)
    return quoted.group(1) if quoted else honest(request)


def completion(content: str, model: str = "fake-model") -> bytes:
    return json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }).encode()


class FakeLLM:
    def __init__(self, *script: Reply):
        self.script = list(script) or [Reply(honest)]
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.closed = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                fake.auth.append(self.headers.get("Authorization", ""))
                reply = fake.script[min(len(fake.requests), len(fake.script)) - 1]
                fake.answer(self, reply, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def answer(self, handler: BaseHTTPRequestHandler, reply: Reply, request: dict) -> None:
        if reply.stall and not reply.trickle and self.closed.wait(reply.stall):
            return
        text = reply.text(request) if callable(reply.text) else reply.text
        body = reply.body if reply.body is not None else completion(text, request.get("model", ""))
        if reply.status >= 400 and reply.body is None:
            body = json.dumps({"error": {"message": text or "error", "type": "server_error"}}).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            if not reply.trickle:
                handler.wfile.write(body)
                return
            for byte in body:
                if self.closed.wait(reply.stall):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:  # the client gave up: that is the point of the test
            pass

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
        time.sleep(0.01)
