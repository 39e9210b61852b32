"""A tiny stateful fake of the GitHub REST endpoints tracker.publish uses, on a loopback server.

Driven by the real PyGithub client (base_url points here), so tests exercise real HTTP, real
pagination (Link headers) and real error decoding. Faults can be queued: an HTTP error response
or a dropped connection (no response at all) for the n-th request matching a method and path.
`after` hooks run after a request is answered (a member editing an issue between two requests).
Like GitHub: `GET /user` is forbidden to an installation token (`installation = True`, whose
writes are authored by github-actions[bot]), and a file over 1 MB read through the contents API
comes back with `"encoding": "none"` and no content (the git blobs API serves it).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

DISCONNECT = "disconnect"


@dataclass
class Fault:
    method: str
    path_re: str  # matched against the path after the API prefix, e.g. r"/repos/o/r/issues$"
    status: int | str = DISCONNECT
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | bytes = field(default_factory=dict)  # bytes: sent as they are (not JSON)
    times: int = 1
    skip: int = 0  # let this many matching requests through first


class FakeGitHub:
    def __init__(self, token: str, full_name: str = "acme/papers", prefix: str = "/api/v3"):
        self.token = token
        self.full_name = full_name
        self.prefix = prefix
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.commits: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.queries: list[dict[str, str]] = []  # query strings of issue listings
        self.sent: list[str] = []  # every issue/comment body and title written through the API
        self.unhandled: list[tuple[str, str]] = []
        self.echo_auth = False  # put the received Authorization header in 401 messages
        self.installation = False  # a GitHub Actions / App token: GET /user is 403, writes by `app_login`
        self.app_login = "github-actions[bot]"  # another GitHub App's installation token writes as "its-slug[bot]"
        self.after: list[Any] = []  # callables (method, path) run after each answered request
        self._ids = 1000
        self._clock = 0
        self._lock = threading.Lock()
        self.base = ""  # set by serve()

    # ------------------------------------------------------------------ helpers for tests

    def add_issue(self, title: str, body: str, labels: list[str], state: str = "open", user: str = "bot") -> dict:
        for name in labels:
            self.labels.setdefault(name, {"name": name, "color": "ededed", "description": ""})
        return self._new_issue({"title": title, "body": body, "labels": labels}, state, user)

    def delete_label(self, name: str) -> None:
        """As a member deleting the label in GitHub's UI: gone from the repository and every issue."""
        with self._lock:
            self.labels.pop(name, None)
            for issue in self.issues.values():
                issue["labels"] = [n for n in issue["labels"] if n != name]

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict:
        return self._new_comment(number, body, user)

    def comments_of(self, number: int) -> list[dict[str, Any]]:
        return sorted((c for c in self.comments.values() if c["_issue"] == number), key=lambda c: c["id"])

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    # ------------------------------------------------------------------ HTTP entry point

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int | str, dict, Any]:
        url = urlsplit(raw_path)
        path = unquote(url.path)
        if not path.startswith(self.prefix):
            return 404, {}, {"message": "Not Found"}
        path = path[len(self.prefix) :]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append((method, path))
            fault = self._take_fault(method, path)
            if fault:
                return fault.status, fault.headers, fault.body
            if headers.get("Authorization", "") not in (f"token {self.token}", f"Bearer {self.token}"):
                message = "Bad credentials"
                if self.echo_auth:
                    message += f" (got {headers.get('Authorization')})"
                return 401, {}, {"message": message}
            data = json.loads(body) if body else {}
            answer = self._route(method, path, query, data)
            for hook in list(self.after):
                hook(method, path)
            return answer

    @property
    def login(self) -> str:
        """Who the token's writes are authored by."""
        return self.app_login if self.installation else "bot"

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and re.search(fault.path_re, path):
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _route(self, method: str, path: str, query: dict, data: dict) -> tuple[int, dict, Any]:
        repo = f"/repos/{self.full_name}"
        routes = [
            ("GET", rf"^{repo}$", lambda m: (200, {}, self._repo_json())),
            ("GET", r"^/user$", lambda m: self._user()),
            ("GET", rf"^{repo}/git/blobs/([0-9a-f]{{40}})$", lambda m: self._get_blob(m.group(1))),
            ("GET", rf"^{repo}/issues/comments/(\d+)$", lambda m: self._get_comment(int(m.group(1)))),
            ("GET", rf"^{repo}/labels/(.+)$", self._get_label),
            ("POST", rf"^{repo}/labels$", lambda m: self._create_label(data)),
            ("GET", rf"^{repo}/issues$", lambda m: self._list_issues(query)),
            ("POST", rf"^{repo}/issues$", lambda m: (201, {}, self._json_issue(self._new_issue(data, "open", self.login)))),
            ("GET", rf"^{repo}/issues/(\d+)$", lambda m: self._with_issue(m, lambda i: (200, {}, self._json_issue(i)))),
            ("PATCH", rf"^{repo}/issues/(\d+)$", lambda m: self._with_issue(m, lambda i: self._edit_issue(i, data))),
            ("GET", rf"^{repo}/issues/(\d+)/comments$", lambda m: self._list_comments(int(m.group(1)), query)),
            ("POST", rf"^{repo}/issues/(\d+)/comments$", lambda m: self._post_comment(int(m.group(1)), data)),
            ("PATCH", rf"^{repo}/issues/comments/(\d+)$", lambda m: self._edit_comment(int(m.group(1)), data)),
            ("DELETE", rf"^{repo}/issues/comments/(\d+)$", lambda m: self._delete_comment(int(m.group(1)))),
            ("GET", rf"^{repo}/contents/?(.*)$", lambda m: self._get_contents(m.group(1).strip("/"))),
            ("PUT", rf"^{repo}/contents/(.+)$", lambda m: self._put_file(m.group(1), data)),
            ("DELETE", rf"^{repo}/contents/(.+)$", lambda m: self._delete_file(m.group(1), data)),
        ]
        if method in ("POST", "PATCH") and "/issues" in path:  # what would reach watchers
            self.sent += [data[key] for key in ("title", "body") if isinstance(data.get(key), str)]
        for verb, pattern, fn in routes:
            match = re.match(pattern, path)
            if verb == method and match:
                return fn(match)
        self.unhandled.append((method, path))
        return 404, {}, {"message": "Not Found"}

    # ------------------------------------------------------------------ resources

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _now(self) -> str:
        self._clock += 1
        return f"2026-01-01T00:{self._clock // 60 % 60:02d}:{self._clock % 60:02d}Z"

    def _repo_json(self) -> dict:
        owner, name = self.full_name.split("/")
        return {
            "id": 1, "name": name, "full_name": self.full_name, "owner": {"login": owner, "id": 2},
            "url": f"{self.base}/repos/{self.full_name}", "html_url": f"https://github.test/{self.full_name}",
            "default_branch": "main", "private": False,
        }

    def _get_label(self, m: re.Match) -> tuple[int, dict, Any]:
        label = self.labels.get(m.group(1))
        return (200, {}, self._json_label(label)) if label else (404, {}, {"message": "Not Found"})

    def _create_label(self, data: dict) -> tuple[int, dict, Any]:
        if data["name"] in self.labels:
            return 422, {}, {"message": "Validation Failed"}
        self.labels[data["name"]] = {"name": data["name"], "color": data.get("color", ""), "description": data.get("description", "")}
        return 201, {}, self._json_label(self.labels[data["name"]])

    def _json_label(self, label: dict) -> dict:
        return {**label, "url": f"{self.base}/repos/{self.full_name}/labels/{label['name']}"}

    def _new_issue(self, data: dict, state: str, user: str) -> dict:
        self._labels_exist(data.get("labels") or [])
        number = max(self.issues, default=0) + 1
        issue = {
            "number": number, "id": self._next_id(), "title": data["title"], "body": data.get("body"),
            "labels": list(data.get("labels") or []), "state": state, "created_at": self._now(), "user": user,
        }
        self.issues[number] = issue
        return issue

    def _json_issue(self, issue: dict) -> dict:
        url = f"{self.base}/repos/{self.full_name}/issues/{issue['number']}"
        return {
            "number": issue["number"], "id": issue["id"], "title": issue["title"], "body": issue["body"],
            "state": issue["state"], "labels": [self._json_label(self.labels[n]) for n in issue["labels"]],
            "url": url, "html_url": f"https://github.test/{self.full_name}/issues/{issue['number']}",
            "comments_url": f"{url}/comments", "created_at": issue["created_at"], "updated_at": issue["created_at"],
            "comments": len(self.comments_of(issue["number"])), "user": {"login": issue["user"], "id": 3},
        }

    def _list_issues(self, query: dict) -> tuple[int, dict, Any]:
        """Filters by state and labels; `since` is recorded in `self.queries` but not applied."""
        self.queries.append(query)
        state = query.get("state", "open")
        wanted = [n for n in query.get("labels", "").split(",") if n]
        creator = query.get("creator")
        issues = [
            i for i in self.issues.values()
            if (state == "all" or i["state"] == state) and all(n in i["labels"] for n in wanted)
            and creator in (None, i["user"])
        ]
        issues.sort(key=lambda i: i["number"], reverse=query.get("direction", "desc") == "desc")
        return self._page(f"/repos/{self.full_name}/issues", query, [self._json_issue(i) for i in issues])

    def _with_issue(self, m: re.Match, fn: Any) -> tuple[int, dict, Any]:
        issue = self.issues.get(int(m.group(1)))
        return fn(issue) if issue else (404, {}, {"message": "Not Found"})

    def _labels_exist(self, names: list[str]) -> None:
        for name in names:  # GitHub creates a label named in an issue write
            self.labels.setdefault(name, {"name": name, "color": "ededed", "description": ""})

    def _edit_issue(self, issue: dict, data: dict) -> tuple[int, dict, Any]:
        self._labels_exist(data.get("labels") or [])
        for key in ("title", "body", "state", "labels"):
            if key in data:
                issue[key] = data[key]
        return 200, {}, self._json_issue(issue)

    def _new_comment(self, number: int, body: str, user: str) -> dict:
        comment = {"id": self._next_id(), "_issue": number, "body": body, "user": user, "created_at": self._now()}
        self.comments[comment["id"]] = comment
        return comment

    def _json_comment(self, c: dict) -> dict:
        return {
            "id": c["id"], "body": c["body"], "user": {"login": c["user"], "id": 4}, "created_at": c["created_at"],
            "updated_at": c["created_at"], "url": f"{self.base}/repos/{self.full_name}/issues/comments/{c['id']}",
            "html_url": f"https://github.test/{self.full_name}/issues/{c['_issue']}#issuecomment-{c['id']}",
            "issue_url": f"{self.base}/repos/{self.full_name}/issues/{c['_issue']}",
        }

    def _list_comments(self, number: int, query: dict) -> tuple[int, dict, Any]:
        if number not in self.issues:
            return 404, {}, {"message": "Not Found"}
        items = [self._json_comment(c) for c in self.comments_of(number)]
        return self._page(f"/repos/{self.full_name}/issues/{number}/comments", query, items)

    def _post_comment(self, number: int, data: dict) -> tuple[int, dict, Any]:
        if number not in self.issues:
            return 404, {}, {"message": "Not Found"}
        return 201, {}, self._json_comment(self._new_comment(number, data["body"], self.login))

    def _get_comment(self, cid: int) -> tuple[int, dict, Any]:
        comment = self.comments.get(cid)
        return (200, {}, self._json_comment(comment)) if comment else (404, {}, {"message": "Not Found"})

    def _user(self) -> tuple[int, dict, Any]:
        if self.installation:
            return 403, {}, {"message": "Resource not accessible by integration"}
        return 200, {}, {"login": self.login, "id": 3, "type": "User"}

    def _get_blob(self, sha: str) -> tuple[int, dict, Any]:
        data = next((d for d in self.files.values() if blob_sha(d) == sha), None)
        if data is None:
            return 404, {}, {"message": "Not Found"}
        encoded = base64.encodebytes(data).decode()  # GitHub wraps its base64 in lines
        return 200, {}, {"sha": sha, "size": len(data), "encoding": "base64", "content": encoded,
                         "url": f"{self.base}/repos/{self.full_name}/git/blobs/{sha}"}

    def _edit_comment(self, cid: int, data: dict) -> tuple[int, dict, Any]:
        if cid not in self.comments:
            return 404, {}, {"message": "Not Found"}
        self.comments[cid]["body"] = data["body"]
        return 200, {}, self._json_comment(self.comments[cid])

    def _delete_comment(self, cid: int) -> tuple[int, dict, Any]:
        if self.comments.pop(cid, None) is None:
            return 404, {}, {"message": "Not Found"}
        return 204, {}, None

    def _file_json(self, path: str) -> dict:
        data = self.files[path]
        big = len(data) > 1024 * 1024  # GitHub sends no content for these (PyGithub #2433)
        return {
            "type": "file", "encoding": "none" if big else "base64", "size": len(data),
            "content": "" if big else base64.b64encode(data).decode(),
            "name": path.rsplit("/", 1)[-1], "path": path, "sha": blob_sha(data),
            "url": f"{self.base}/repos/{self.full_name}/contents/{path}",
        }

    def _get_contents(self, path: str) -> tuple[int, dict, Any]:
        """A file's JSON, or a folder's listing (files and sub-folders directly in it)."""
        if path in self.files:
            return 200, {}, self._file_json(path)
        prefix = f"{path}/" if path else ""
        below = [p[len(prefix):] for p in self.files if p.startswith(prefix)]
        if not below:
            return 404, {}, {"message": "Not Found"}
        entries = []
        for name in sorted({b.split("/", 1)[0] for b in below}):
            full = prefix + name
            if full in self.files:
                entries.append({k: v for k, v in self._file_json(full).items() if k not in ("content", "encoding")})
            else:
                entries.append({"type": "dir", "name": name, "path": full, "sha": blob_sha(full.encode()), "size": 0,
                                "url": f"{self.base}/repos/{self.full_name}/contents/{full}"})
        return 200, {}, entries

    def _delete_file(self, path: str, data: dict) -> tuple[int, dict, Any]:
        if path not in self.files:
            return 404, {}, {"message": "Not Found"}
        if data.get("sha") != blob_sha(self.files[path]):
            return 409, {}, {"message": f"{path} does not match {data.get('sha')}"}
        del self.files[path]
        commit = {"sha": hashlib.sha1(f"{len(self.commits)}-{path}".encode()).hexdigest(), "message": data["message"], "branch": data.get("branch")}
        self.commits.append(commit)
        return 200, {}, {"content": None, "commit": commit}

    def _put_file(self, path: str, data: dict) -> tuple[int, dict, Any]:
        exists = path in self.files
        if exists and data.get("sha") != blob_sha(self.files[path]):
            return 409, {}, {"message": f"{path} does not match {data.get('sha')}"}
        self.files[path] = base64.b64decode(data["content"])
        commit = {"sha": hashlib.sha1(f"{len(self.commits)}{path}".encode()).hexdigest(), "message": data["message"], "branch": data.get("branch")}
        self.commits.append(commit)
        return (200 if exists else 201), {}, {"content": self._file_json(path), "commit": commit}

    def _page(self, path: str, query: dict, items: list) -> tuple[int, dict, Any]:
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        headers = {}
        if page < last:
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
            headers["Link"] = (
                f'<{self.base}{path}?{rest}&page={page + 1}>; rel="next", '
                f'<{self.base}{path}?{rest}&page={last}>; rel="last"'
            )
        return 200, headers, items[(page - 1) * per_page : page * per_page]


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def serve(fake: FakeGitHub) -> ThreadingHTTPServer:
    """Start a loopback server for `fake`; sets fake.base. Call .shutdown() when done."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each response waits ~40 ms for a delayed ACK

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = fake.handle(self.command, self.path, self.headers, body)
            if status == DISCONNECT:
                self.close_connection = True  # drop the connection without a response
                return
            out = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(int(status))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}{fake.prefix}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


TOKEN = "ghp_" + "S3cr3tT0ken" * 4


@pytest.fixture
def fake_github():
    """A running FakeGitHub for repository acme/papers that accepts TOKEN."""
    fake = FakeGitHub(TOKEN)
    server = serve(fake)
    yield fake
    server.shutdown()
    server.server_close()
