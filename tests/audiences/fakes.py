"""Loopback stand-ins for Meta's Marketing API and Google's Data Manager API.

Each server checks every request against the documented shape (paths, methods,
fields, SHA-256 hex values, batch limits, credentials), keeps the audiences' members
so that tests can read what was uploaded, and responds with the platforms' documented
success and error bodies. A request that breaks the documented shape gets the 400
response the platform would send and is recorded in ``problems``, which tests assert
to be empty.
"""

import collections
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_ROWS = 10_000
META_SCHEMA_KEYS = {"EMAIL", "PHONE", "FN", "LN", "COUNTRY"}
GOOGLE_IDENTIFIER_KEYS = {"emailAddress", "phoneNumber"}
CONSENT_VALUES = {"CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"}


class ScriptedResponse:
    """A scripted answer: status, JSON body, headers and a delay in seconds."""

    def __init__(self, status, body, headers=None, delay=0.0):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a random port, run in a thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.problems = []
        self.script = collections.deque()
        self.httpd = None
        self.thread = None

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                server.dispatch(self, "POST")

            def do_DELETE(self):
                server.dispatch(self, "DELETE")

            def do_GET(self):
                server.dispatch(self, "GET")

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def respond_next(self, answer, times=1):
        """Respond to the next ``times`` platform requests with ``answer``."""
        for _ in range(times):
            self.script.append(answer)

    def dispatch(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            answer = self.handle(method, handler.path, handler.headers, raw)
        if answer.delay:
            time.sleep(answer.delay)
        body = json.dumps(answer.body).encode()
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The client timed out and closed the connection.

    def problem(self, text):
        self.problems.append(text)


class FakeMeta(FakeServer):
    """Meta's ``/{version}/{custom_audience_id}/users`` edge.

    POST adds rows and DELETE removes them.
    """

    PATH = re.compile(r"^/v\d+\.\d+/(\d+)/users$")

    def __init__(self, token, app_secret=None):
        super().__init__()
        self.token = token
        self.app_secret = app_secret
        self.members = collections.defaultdict(set)
        self.add_counts = collections.Counter()
        self.invalid_values = set()

    def handle(self, method, path, headers, raw):
        parts = urlsplit(path)
        match = self.PATH.match(parts.path)
        if method not in ("POST", "DELETE") or not match:
            self.problem(f"unexpected {method} {parts.path}")
            return self.error(400, 100, "Unsupported request")
        if parts.query:
            self.problem("query string present; credentials belong in the body")
        if headers.get("Content-Type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            self.problem(f"content type {headers.get('Content-Type')!r}")
            return self.error(400, 100, "Invalid parameter")
        form = parse_qs(raw.decode(), strict_parsing=True, keep_blank_values=True)
        if any(len(values) != 1 for values in form.values()):
            self.problem("a form field appears twice")
        form = {key: values[0] for key, values in form.items()}
        audience_id = match.group(1)
        payload = self.check_payload(form.get("payload"))
        self.requests.append(
            {
                "method": method,
                "audience_id": audience_id,
                "payload": payload,
                "form": form,
                "rows": len(payload["data"]) if payload else 0,
            }
        )

        if form.get("access_token") != self.token:
            return self.error(
                400,
                190,
                "Error validating access token: Session has expired.",
                subcode=463,
                kind="OAuthException",
            )
        if self.app_secret is not None:
            proof = hmac.new(
                self.app_secret.encode(), self.token.encode(), hashlib.sha256
            ).hexdigest()
            if form.get("appsecret_proof") != proof:
                self.problem("appsecret_proof missing or wrong")
                return self.error(400, 100, "Invalid appsecret_proof provided")
        if self.script:
            answer = self.script.popleft()
            return answer
        if payload is None:
            return self.error(400, 100, "Invalid parameter")

        schema = payload["schema"]
        invalid = {}
        for row in payload["data"]:
            values = [value for value in row if value]
            bad = [value for value in values if value in self.invalid_values]
            if bad or not values:
                invalid[bad[0] if bad else ""] = "Invalid entry"
                continue
            key = frozenset(
                (name, value) for name, value in zip(schema, row, strict=True) if value
            )
            if method == "POST":
                self.members[audience_id].add(key)
                self.add_counts[(audience_id, key)] += 1
            else:
                self.members[audience_id].discard(key)
        return ScriptedResponse(
            200,
            {
                "audience_id": audience_id,
                "session_id": str(uuid.uuid4().int)[:16],
                "num_received": len(payload["data"]),
                "num_invalid_entries": len(invalid),
                "invalid_entry_samples": invalid,
            },
        )

    def check_payload(self, text):
        if text is None:
            self.problem("no payload field")
            return None
        try:
            payload = json.loads(text)
        except ValueError:
            self.problem("payload is not JSON")
            return None
        schema = payload.get("schema")
        data = payload.get("data")
        if set(payload) != {"schema", "data"}:
            self.problem(f"payload keys {sorted(payload)}")
        if not isinstance(schema, list) or not schema:
            self.problem("schema is not a non-empty list")
            return None
        if len(set(schema)) != len(schema) or not set(schema) <= META_SCHEMA_KEYS:
            self.problem(f"schema {schema}")
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_ROWS:
            count = len(data) if isinstance(data, list) else "?"
            self.problem(f"data has {count} rows")
            return None
        for row in data:
            if not isinstance(row, list) or len(row) != len(schema):
                self.problem("a row does not match the schema")
                return None
            for value in row:
                if value != "" and not HEX64.match(str(value)):
                    self.problem(f"value {value!r} is not SHA-256 hex")
        return payload

    def error(self, status, code, message, subcode=None, kind="OAuthException"):
        error = {"message": message, "type": kind, "code": code, "fbtrace_id": "Afake"}
        if subcode:
            error["error_subcode"] = subcode
        return ScriptedResponse(status, {"error": error})

    def audience(self, audience_id):
        """Return the members of an audience as a set of {schema key: hash} dicts."""
        return [dict(key) for key in self.members[str(audience_id)]]


def meta_rate_limited(minutes=0):
    """Meta's answer when the Custom Audience rate limit (code 80003) is reached."""
    usage = {
        "1234567890": [
            {
                "type": "custom_audience",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return ScriptedResponse(
        400,
        {
            "error": {
                "message": "There have been too many calls to this ad-account. Wait "
                "a bit and try again.",
                "type": "OAuthException",
                "code": 80003,
                "error_subcode": 2446079,
                "fbtrace_id": "Afake",
            }
        },
        {"X-Business-Use-Case-Usage": json.dumps(usage)},
    )


def meta_unavailable():
    """Meta's answer for a temporary failure (code 2, transient)."""
    return ScriptedResponse(
        503,
        {
            "error": {
                "message": "Service temporarily unavailable",
                "type": "OAuthException",
                "code": 2,
                "is_transient": True,
                "fbtrace_id": "Afake",
            }
        },
    )


class FakeGoogle(FakeServer):
    """Google's Data Manager API audience member methods and an OAuth token endpoint."""

    SCOPE = "https://www.googleapis.com/auth/datamanager"

    def __init__(self, public_key=None, client_email=None):
        super().__init__()
        self.public_key = public_key
        self.client_email = client_email
        self.tokens = {"static-google-token"}
        self.issued = 0
        self.members = collections.defaultdict(set)
        self.add_counts = collections.Counter()
        self.invalid_values = set()

    @property
    def token_url(self):
        return f"{self.url}/token"

    def expire_tokens(self):
        self.tokens.clear()

    def handle(self, method, path, headers, raw):
        if path == "/token":
            return self.issue_token(method, headers, raw)
        if method != "POST" or path not in (
            "/v1/audienceMembers:ingest",
            "/v1/audienceMembers:remove",
        ):
            self.problem(f"unexpected {method} {path}")
            return self.error(404, "NOT_FOUND", "Method not found.")
        if headers.get("Content-Type", "").split(";")[0] != "application/json":
            self.problem(f"content type {headers.get('Content-Type')!r}")
        ingest = path.endswith(":ingest")
        try:
            body = json.loads(raw)
        except ValueError:
            self.problem("body is not JSON")
            return self.error(400, "INVALID_ARGUMENT", "Invalid JSON payload.")
        self.requests.append(
            {
                "method": "ingest" if ingest else "remove",
                "body": body,
                "members": len(body.get("audienceMembers") or []),
                "authorization": headers.get("Authorization", ""),
            }
        )

        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self.error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
            )
        if self.script:
            return self.script.popleft()
        shape = self.check_body(body, ingest)
        if shape:
            return self.error(400, "INVALID_ARGUMENT", shape)

        violations = []
        for index, member in enumerate(body["audienceMembers"]):
            identifiers = member["userData"]["userIdentifiers"]
            for position, identifier in enumerate(identifiers):
                value = next(iter(identifier.values()))
                if value in self.invalid_values:
                    violations.append(
                        {
                            "field": f"audience_members[{index}].user_data."
                            f"user_identifiers[{position}]",
                            "description": "The hashed value was not produced by "
                            "SHA-256 after normalisation.",
                        }
                    )
        if violations:
            return ScriptedResponse(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "Request contains an invalid argument.",
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.BadRequest",
                                "fieldViolations": violations,
                            }
                        ],
                    }
                },
            )

        destination = body["destinations"][0]["productDestinationId"]
        for member in body["audienceMembers"]:
            key = frozenset(
                next(iter(identifier.items()))
                for identifier in member["userData"]["userIdentifiers"]
            )
            if ingest:
                self.members[destination].add(key)
                self.add_counts[(destination, key)] += 1
            else:
                self.members[destination].discard(key)
        return ScriptedResponse(200, {"requestId": str(uuid.uuid4())})

    def check_body(self, body, ingest):
        """Return what breaks the documented request shape, or an empty string."""
        allowed = {"destinations", "audienceMembers", "encoding", "validateOnly"}
        if ingest:
            allowed |= {"consent", "termsOfService"}
        if not set(body) <= allowed:
            return self.fail(f"unknown fields {sorted(set(body) - allowed)}")
        if body.get("encoding") != "HEX":
            return self.fail(f"encoding {body.get('encoding')!r}")
        destinations = body.get("destinations")
        if not isinstance(destinations, list) or len(destinations) != 1:
            return self.fail("destinations is not a list of one")
        destination = destinations[0]
        account = destination.get("operatingAccount") or {}
        if account.get("accountType") != "GOOGLE_ADS":
            return self.fail(f"operatingAccount.accountType {account!r}")
        if not re.fullmatch(r"\d{10}", str(account.get("accountId", ""))):
            return self.fail(f"operatingAccount.accountId {account.get('accountId')!r}")
        if not re.fullmatch(r"\d+", str(destination.get("productDestinationId", ""))):
            return self.fail("productDestinationId is not a user list id")
        members = body.get("audienceMembers")
        if not isinstance(members, list) or not 1 <= len(members) <= MAX_ROWS:
            count = len(members) if isinstance(members, list) else "?"
            return self.fail(f"audienceMembers has {count} members, limit 10000")
        for member in members:
            if set(member) != {"userData"}:
                return self.fail(f"member fields {sorted(member)}")
            identifiers = member["userData"].get("userIdentifiers")
            if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= 10:
                return self.fail("userIdentifiers is not a list of 1 to 10")
            for identifier in identifiers:
                if (
                    len(identifier) != 1
                    or not set(identifier) <= GOOGLE_IDENTIFIER_KEYS
                ):
                    return self.fail(f"identifier fields {sorted(identifier)}")
                if not HEX64.match(next(iter(identifier.values()))):
                    return self.fail("an identifier is not SHA-256 hex")
        if ingest:
            consent = body.get("consent") or {}
            if (
                set(consent) != {"adUserData", "adPersonalization"}
                or not set(consent.values()) <= CONSENT_VALUES
            ):
                return self.fail(f"consent {consent!r}")
            terms = (body.get("termsOfService") or {}).get(
                "customerMatchTermsOfServiceStatus"
            )
            if terms != "ACCEPTED":
                return "The Customer Match terms of service must be accepted."
        return ""

    def fail(self, text):
        self.problem(text)
        return text

    def issue_token(self, method, headers, raw):
        form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            self.problem(f"grant_type {form.get('grant_type')!r}")
            return ScriptedResponse(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_url,
            )
        except jwt.PyJWTError as error:
            return ScriptedResponse(
                400, {"error": "invalid_grant", "error_description": str(error)}
            )
        if claims.get("iss") != self.client_email or claims.get("scope") != self.SCOPE:
            self.problem(f"claims {claims}")
            return ScriptedResponse(400, {"error": "invalid_scope"})
        self.issued += 1
        token = f"issued-token-{self.issued}"
        self.tokens.add(token)
        return ScriptedResponse(
            200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def error(self, status, code, message, details=None):
        return ScriptedResponse(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "status": code,
                    "details": details or [],
                }
            },
        )

    def audience(self, destination):
        return [dict(key) for key in self.members[str(destination)]]


def google_rate_limited(seconds=1):
    """Google's answer when the quota is exhausted, with a RetryInfo detail."""
    return ScriptedResponse(
        429,
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded for quota metric 'Requests'.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{seconds}s",
                    }
                ],
            }
        },
    )


def google_unavailable():
    return ScriptedResponse(
        503,
        {
            "error": {
                "code": 503,
                "message": "The service is currently unavailable.",
                "status": "UNAVAILABLE",
            }
        },
    )


def google_permission_denied():
    return ScriptedResponse(
        403,
        {
            "error": {
                "code": 403,
                "message": "The caller does not have permission",
                "status": "PERMISSION_DENIED",
            }
        },
    )
