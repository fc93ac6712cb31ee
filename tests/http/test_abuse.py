"""Hostile requests (issue 4): malformed, oversized and ill-typed bodies,
broken HTTP framing and header tricks, slow (slowloris) clients and bursts.

Every case checks the exact status and error code the gateway answers with,
that nothing beyond the answer leaks out (no injected header, no stack), and
that the gateway stays up; a burst of thousands of hostile requests must not
make its memory grow. The suite runs against a gateway of its own, started
with short header and body deadlines so the slow-client cases take seconds.

Answers that come from the HTTP layer itself (libevent) rather than from the
gateway's routes are plain HTML pages, not JSON: an unparsable request line or
header, a body beyond libevent's hard cap (4 x max_body_bytes + 4 KiB, which
keeps a huge body from ever being buffered), a broken chunk. libevent 2.1
offers no hook to replace those pages (2.2 adds evhttp_set_errorcb); the
tests check their status and that the connection is closed.
"""

import json
import select
import socket
import threading
import time
import unittest

import harness
import rgclient
from harness import SITE

P = "products"
QPATH = "/v1/%s/query" % SITE
CPATH = "/v1/%s/collections" % SITE
HEADER_TIMEOUT_MS = 2000
BODY_TIMEOUT_MS = 2000
# libevent's own cap on a body (see server.c): beyond it the answer is
# libevent's 413 page and the connection is closed before the body is read.
MAX_BODY = 16384
LIBEVENT_CAP = MAX_BODY * 4 + 4096

_SERVER = None


def server():
    """The gateway of this module, started once: short deadlines so slow
    clients are cut off within seconds; everything else as the main one."""
    global _SERVER
    if _SERVER is None:
        env = harness.env()
        _SERVER = env.start_server("abuse", {SITE: env.test_site()}, extra={
            "limits": {"header_timeout_ms": HEADER_TIMEOUT_MS,
                       "body_timeout_ms": BODY_TIMEOUT_MS}})
    return _SERVER


def F(field, op, value):
    return {"field": field, "op": op, "value": value}


def signed_headers(session, method, path, body, content_type="application/json"):
    ts = str(int(time.time()))
    nonce = rgclient.new_nonce()
    h = [("X-Readgate-Session", session.token), ("X-Readgate-Timestamp", ts),
         ("X-Readgate-Nonce", nonce),
         ("X-Readgate-Signature", rgclient.sign(session.secret, ts, nonce, method, path, body))]
    if content_type is not None:
        h.append(("Content-Type", content_type))
    return h


def http_request(method, path, body=b"", headers=(), version="HTTP/1.1",
                 content_length=True):
    """The bytes of one request, exactly as given (no checks)."""
    h = [("Host", "127.0.0.1")] + list(headers)
    if content_length:
        h.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % kv for kv in h) + "\r\n"
    return head.encode("latin-1") + body


class RawConn:
    """A client socket that sends exactly the bytes it is given and parses
    whatever responses come back (Content-Length or chunked)."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False  # the server closed (or reset) the connection

    def send(self, data):
        """False if the server already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def readable(self, timeout):
        return bool(select.select([self.sock], [], [], timeout)[0])

    def _fill(self, deadline):
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0 or not self.readable(left):
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def response(self, timeout=30.0):
        """The next response, or None if the connection closed (or the time
        ran out) before a whole one arrived."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        names = {k.lower(): v for k, v in headers}
        if "content-length" in names:
            n = int(names["content-length"])
            while len(rest) < n:
                if not self._fill(deadline):
                    return None
                rest = self.buf.split(b"\r\n\r\n", 1)[1]
            body, self.buf = rest[:n], rest[n:]
        elif names.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in rest:
                    if not self._fill(deadline):
                        return None
                    rest = self.buf.split(b"\r\n\r\n", 1)[1]
                size_line, after = rest.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(after) < size + 2:
                    if not self._fill(deadline):
                        return None
                    rest = self.buf.split(b"\r\n\r\n", 1)[1]
                    after = rest.split(b"\r\n", 1)[1]
                body += after[:size]
                rest = after[size + 2:]
                self.buf = head + b"\r\n\r\n" + rest
                if size == 0:
                    break
            self.buf = rest
        else:  # no length: the body runs to the close
            while self._fill(deadline):
                pass
            body, self.buf = self.buf.split(b"\r\n\r\n", 1)[1], b""
        return rgclient.Response(status, headers, body)

    def wait_closed(self, timeout):
        """True once the server has closed the connection (data that still
        arrives is collected, not lost)."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._fill(deadline)
        return self.closed

    def close(self):
        self.sock.close()


class AbuseCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.srv = server()
        cls.c = cls.srv.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)

    def q(self, body, **kw):
        return self.c.query(self.s, body, **kw)

    def err(self, body, code, status=400, field=None, **kw):
        r = self.q(body, **kw)
        self.assert_error(r, status, code, field)
        return r

    def assert_error(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        codes = code if isinstance(code, (set, tuple, list)) else {code}
        self.assertIn(r.code, codes, r)
        msg = r.json["error"].get("message")
        self.assertTrue(isinstance(msg, str) and msg, r)
        # a message names what was wrong without echoing a hostile input whole
        self.assertLess(len(r.body), 2048, r)
        if field is not None:
            self.assertEqual(r.json["error"].get("field"), field, r)
        self.assert_headers(r)

    def assert_headers(self, r):
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", r.headers)
        self.assertIsNone(r.header("Server"), r.headers)

    def raw(self, timeout=30.0):
        conn = RawConn(self.srv.port, timeout)
        self.addCleanup(conn.close)
        return conn

    def assert_alive(self):
        self.assertIsNone(self.srv.proc.poll(), "the gateway exited")
        r = self.q({"collection": P, "limit": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["rows"]), 1)


class MalformedBodyTest(AbuseCase):
    def test_malformed_json(self):
        for raw in (b"{", b"}", b"", b" ", b"nul", b"[]", b'"products"', b"42", b"null",
                    b'{"collection":"products",}', b'{"collection":"products"',
                    b'{"collection" "products"}', b"{'collection':'products'}",
                    b'{collection:"products"}', b'{"collection":"products"} {}',
                    b'{"collection":"products"}]', b'{"collection":"products"}garbage',
                    b'\xef\xbb\xbf{"collection":"products"}', b'{"collection":"prod\\xucts"}',
                    b'{"collection":"products","limit":01}', b'{"collection":"products","limit":+1}',
                    b'{"collection":"products","limit":.5}', b'{"collection":"products","limit":1.}',
                    b'{"collection":"products","limit":0x10}', b'/* */{"collection":"products"}'):
            with self.subTest(body=raw[:40]):
                self.err(raw, "invalid_json")
        self.assert_alive()

    def test_deep_nesting(self):
        # limits.max_json_depth is 8: the top-level object is level 1
        def nest(n):
            return "[" * n + "1" + "]" * n
        ok = '{"collection":"products","filters":[{"field":"id","op":"in","value":%s}]}'
        # filters array (2), filter object (3), value array (4): 4 more levels fit
        r = self.q(ok % nest(1))
        self.assertEqual(r.status, 200, r)
        self.err(ok % nest(6), "invalid_json")
        for depth in (9, 64, 2000):
            with self.subTest(depth=depth):
                self.err('{"collection":"products","x":%s}' % nest(depth), "invalid_json")
        # as deep as 16 KiB allows: 8000 levels of arrays, 2500 of objects
        self.err("[" * 8000 + "]" * 8000, "invalid_json")
        self.err('{"a":' * 2500 + "1" + "}" * 2500, "invalid_json")
        self.assert_alive()

    def test_huge_numbers(self):
        def one(field, literal):
            return ('{"collection":"products","filters":[{"field":"%s","op":"eq","value":%s}]}'
                    % (field, literal))
        # beyond what a double or an int64 holds: not a number the gateway can
        # compare exactly, refused by the parser
        for field, lit in (("price", "1e400"), ("price", "-1e400"), ("id", "18446744073709551616"),
                           ("id", "9223372036854775808"), ("id", "-9223372036854775809"),
                           ("price", "1" * 400)):
            with self.subTest(value=lit[:30]):
                self.err(one(field, lit), "invalid_json")
        # fractions and exponents are not integers, even when whole
        for lit in ("1.0", "1e2", "1E0", "-0.0", "5e-1"):
            with self.subTest(value=lit):
                self.err(one("id", lit), "invalid_value", field="filters[0].value")
        for lit in ("1.0", "2e1"):
            with self.subTest(limit=lit):
                self.err('{"collection":"products","limit":%s}' % lit, "invalid_limit")
        self.err('{"collection":"products","limit":9223372036854775807}', "invalid_limit")
        # the extremes that are representable are just values
        for field, lit in (("id", "9223372036854775807"), ("id", "-9223372036854775808"),
                           ("id", "-0"), ("price", "-0.0"), ("price", "1e308"),
                           ("price", "4.9e-324"), ("price", "0.1")):
            with self.subTest(value=lit):
                r = self.q(one(field, lit))
                self.assertEqual(r.status, 200, r)
        self.assert_alive()

    def test_nan_and_infinity(self):
        for lit in ("NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "1e99999"):
            with self.subTest(value=lit):
                self.err('{"collection":"products","filters":[{"field":"price","op":"eq",'
                         '"value":%s}]}' % lit, "invalid_json")
        self.err('{"collection":"products","limit":NaN}', "invalid_json")

    def test_duplicate_keys(self):
        for raw in ('{"collection":"products","collection":"products"}',
                    '{"collection":"products","limit":1,"limit":2}',
                    '{"collection":"products","filters":[{"field":"id","field":"price",'
                    '"op":"eq","value":1}]}',
                    '{"collection":"products","filters":[{"field":"id","op":"eq","op":"ne",'
                    '"value":1}]}',
                    '{"collection":"products","sort":[{"field":"id","dir":"asc","dir":"desc"}]}',
                    '{"collection":"products","x":{"a":1,"a":1}}'):
            with self.subTest(body=raw[:50]):
                self.err(raw, "invalid_json")

    def test_wrong_types_everywhere(self):
        # member -> (code, values of a wrong JSON type for it)
        cases = {
            "collection": ("unknown_collection", [5, 1.5, True, [], {}, ["products"]]),
            "filters": ("invalid_filter", [5, 1.5, True, "x", {}, {"field": "id"}]),
            "search": ("invalid_search", [5, 1.5, True, [], {}, ["red"]]),
            "sort": ("invalid_sort", [5, 1.5, True, "price", {}, {"field": "price"}]),
            "fields": ("invalid_fields", [5, 1.5, True, "id", {}, {"id": True}]),
            "limit": ("invalid_limit", [1.5, True, "5", [], {}, [5], 0, -1, 101, 2 ** 62]),
            "cursor": ("invalid_cursor", [5, 1.5, True, [], {}, ["x"], "", "x"]),
        }
        for key, (code, values) in cases.items():
            for v in values:
                with self.subTest(key=key, value=v):
                    self.err({"collection": P, key: v}, code, field=key)
        # a null optional member is the same as leaving it out
        r = self.q({"collection": P, "filters": None, "search": None, "sort": None,
                    "fields": None, "limit": None, "cursor": None})
        self.assertEqual(r.status, 200, r)
        self.err({"collection": None}, "unknown_collection", field="collection")
        # inside a filter and a sort key
        for flt in (5, "x", None, [], [1, 2, 3]):
            with self.subTest(filter=flt):
                self.err({"collection": P, "filters": [flt]}, "invalid_filter",
                         field="filters[0]")
        for part, v in (("field", 5), ("field", None), ("field", ["id"]), ("op", 5),
                        ("op", None), ("op", ["eq"])):
            with self.subTest(part=part, value=v):
                flt = dict(F("id", "eq", 1), **{part: v})
                self.err({"collection": P, "filters": [flt]}, "invalid_filter",
                         field="filters[0].%s" % part)
        for field, v in (("id", "1"), ("id", True), ("id", None), ("id", {"$gt": 1}),
                         ("price", "1"), ("price", [1]), ("in_stock", 1), ("in_stock", "true"),
                         ("name", 1), ("name", {"a": "b"}), ("released", 20240101),
                         ("updated_at", 1700000000), ("category", ["boots"])):
            with self.subTest(field=field, value=v):
                op = "eq"
                self.err({"collection": P, "filters": [F(field, op, v)]}, "invalid_value",
                         field="filters[0].value")
        for key in ({"field": 5}, {"field": "price", "dir": 5}, {"field": "price", "dir": None,
                                                                 "x": 1}):
            with self.subTest(sort=key):
                self.err({"collection": P, "sort": [key]}, "invalid_sort")
        self.assert_alive()


class StringTest(AbuseCase):
    def test_overlong_strings(self):
        for value, status in (("x" * 256, 200), ("x" * 257, 400), ("é" * 128, 200),
                              ("é" * 128 + "x", 400), ("👟" * 64, 200), ("👟" * 64 + "x", 400),
                              ("x" * 10000, 400)):
            with self.subTest(length=len(value.encode())):
                body = {"collection": P, "filters": [F("name", "eq", value)]}
                if status == 200:
                    r = self.q(body)
                    self.assertEqual(r.status, 200, r)
                else:
                    r = self.err(body, "invalid_value", field="filters[0].value")
                    self.assertIn("at most 256 bytes", r.json["error"]["message"])
        self.err({"collection": P, "filters": [F("name", "in", ["a", "x" * 257])]},
                 "invalid_value", field="filters[0].value[1]")

    def test_overlong_search(self):
        words = " ".join(["abcdefghijk"] * 16)  # 16 words (the most), 191 bytes
        for value, status in (("r" * 200, 200), ("r" * 201, 400), ("é" * 100, 200),
                              ("é" * 100 + "x", 400), (words + " " * 9, 200),
                              (words + " " * 10, 400), ("x" * 12000, 400)):
            with self.subTest(length=len(value.encode())):
                body = {"collection": P, "search": value}
                if status == 200:
                    r = self.q(body)
                    self.assertIn(r.status, (200,), r)
                else:
                    self.err(body, "invalid_search", field="search")

    def test_overlong_names_are_not_echoed_whole(self):
        long_name = "n" * 12000
        r = self.err({"collection": long_name}, "unknown_collection")
        self.assertNotIn(long_name[:200], r.json["error"]["message"])
        r = self.err({"collection": P, "filters": [F(long_name, "eq", 1)]}, "unknown_field")
        self.assertNotIn(long_name[:200], r.json["error"]["message"])
        r = self.err({"collection": P, long_name: 1}, "unknown_property")
        self.assertNotIn(long_name[:200], r.json["error"]["message"])
        r = self.err({"collection": P, "filters": [F("name", long_name, "x")]},
                     "operator_not_allowed")
        self.assertNotIn(long_name[:200], r.json["error"]["message"])

    def test_invalid_utf8(self):
        bad = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
               b"\xf8\x88\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"caf\xe9"]
        for seq in bad:
            with self.subTest(where="value", seq=seq):
                self.err(b'{"collection":"products","filters":[{"field":"name","op":"eq",'
                         b'"value":"a' + seq + b'b"}]}', "invalid_json")
            with self.subTest(where="search", seq=seq):
                self.err(b'{"collection":"products","search":"' + seq + b'"}', "invalid_json")
            with self.subTest(where="key", seq=seq):
                self.err(b'{"collection":"products","' + seq + b'":1}', "invalid_json")
            with self.subTest(where="raw body", seq=seq):
                self.err(seq + b'{"collection":"products"}', "invalid_json")
        # escaped lone surrogates are not text either
        for esc in (b"\\ud800", b"\\udfff", b"\\ud800\\u0041"):
            with self.subTest(escape=esc):
                self.err(b'{"collection":"products","search":"' + esc + b'"}', "invalid_json")
        # a valid escaped pair is fine
        r = self.q(b'{"collection":"products","search":"\\ud83d\\udc5f"}')
        self.assertEqual(r.status, 200, r)
        self.assert_alive()

    def test_nul_bytes(self):
        for raw in (b'{"collection":"products"}\x00', b'\x00{"collection":"products"}',
                    b'{"collection":"prod\x00ucts"}', b'{"collection":"products","search":"a\x00"}',
                    b'{"collection":"products","search":"a\\u0000b"}',
                    b'{"collection":"products","filters":[{"field":"name","op":"eq",'
                    b'"value":"a\\u0000"}]}',
                    b'{"collection":"products\\u0000"}', b'{"collection":"products","a\\u0000":1}'):
            with self.subTest(body=raw[:50]):
                self.err(raw, "invalid_json")

    def test_control_characters(self):
        # raw control characters inside a JSON string break the JSON grammar
        for ch in (b"\x01", b"\x1b", b"\x1f", b"\n", b"\t"):
            with self.subTest(raw=ch):
                self.err(b'{"collection":"products","search":"a' + ch + b'b"}', "invalid_json")
        # escaped, they are well-formed JSON but not allowed in a value
        for esc in ("\u0001", "\u001b", "\u007f", "\u0085", "\u009f", "\n", "\t", "\r"):
            with self.subTest(value=repr(esc)):
                self.err({"collection": P, "filters": [F("name", "eq", "a%sb" % esc)]},
                         "invalid_value", field="filters[0].value")
        # search splits words on white space, other control characters are refused
        for esc in ("\u0001", "\u001b", "\u007f", "\u0085", "\u009b"):
            with self.subTest(search=repr(esc)):
                self.err({"collection": P, "search": "red%sshoe" % esc}, "invalid_search",
                         field="search")
        r = self.q({"collection": P, "search": "red\tshoe\nboot\r\x0b\x0c"})
        self.assertEqual(r.status, 200, r)
        # characters that merely look odd are text
        for value in ("\u00a0", "\u2028", "\u200b", "\ufeff", "\U0010ffff"):
            with self.subTest(value=repr(value)):
                r = self.q({"collection": P, "filters": [F("name", "eq", value)]})
                self.assertEqual(r.status, 200, r)


class SizeTest(AbuseCase):
    def test_many_filters(self):
        one = F("id", "eq", 1)
        self.err({"collection": P, "filters": [one] * 21}, "invalid_filter", field="filters")
        # as many as fit in 16 KiB
        many = {"collection": P, "filters": [one] * 400}
        self.assertLess(len(json.dumps(many, separators=(",", ":"))), MAX_BODY)
        r = self.q(json.dumps(many, separators=(",", ":")))
        self.assert_error(r, 400, "invalid_filter", "filters")
        self.assertIn("at most 20", r.json["error"]["message"])
        r = self.q(json.dumps({"collection": P, "filters": [one] * 20}))
        self.assertEqual(r.status, 200, r)

    def test_ten_thousand_filters(self):
        # 10 000 filters cannot fit in max_body_bytes: refused for size, and
        # beyond libevent's cap before the body is even read
        body = json.dumps({"collection": P, "filters": [F("id", "eq", 1)] * 10000},
                          separators=(",", ":")).encode()
        self.assertGreater(len(body), LIBEVENT_CAP)
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", signed_headers(self.s, "POST", QPATH, body),
                               content_length=False)
                  .replace(b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % len(body)))
        r = conn.response()
        self.assertIsNotNone(r, "no answer to a 10 000-filter body")
        self.assertEqual(r.status, 413, r)
        self.assertTrue(conn.wait_closed(30), "connection left open after a 413")
        self.assert_alive()

    def test_body_between_limit_and_cap(self):
        # above max_body_bytes but below libevent's cap: the gateway's own JSON 413
        for size in (MAX_BODY + 1, 40000, LIBEVENT_CAP - 1000):
            with self.subTest(size=size):
                body = b'{"collection":"products","search":"' + b"x" * (size - 37) + b'"}'
                self.assertEqual(len(body), size)
                self.err(body, "body_too_large", status=413)

    def test_enormous_body_with_honest_length(self):
        # 8 MB announced: refused on the headers alone, nothing of it is read
        conn = self.raw()
        body_len = 8 * 1024 * 1024
        conn.send(http_request("POST", QPATH, b"", [("Content-Type", "application/json")],
                               content_length=False)
                  .replace(b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % body_len))
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 413, r)
        self.assertTrue(conn.wait_closed(30))
        self.assert_alive()

    def test_enormous_chunked_body(self):
        # no length at all: libevent counts the chunks and stops at its cap.
        # Sending stops a chunk past the cap (the gateway must answer by then);
        # more would only fill socket buffers and race the answer with a reset.
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", [("Content-Type", "application/json"),
                                                    ("Transfer-Encoding", "chunked")],
                               content_length=False))
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        sent = 0
        while sent <= LIBEVENT_CAP + 0x10000 and conn.send(chunk):
            sent += 0x10000
        r = conn.response(timeout=30)
        self.assertIsNotNone(r, "no answer to an oversized chunked body")
        self.assertEqual(r.status, 413, r)
        self.assertTrue(conn.wait_closed(30))
        # one chunk announcing 8 MB is refused on its size line
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", [("Content-Type", "application/json"),
                                                    ("Transfer-Encoding", "chunked")],
                               content_length=False) + b"800000\r\n" + b"x" * 1000)
        r = conn.response(timeout=30)
        self.assertIsNotNone(r, "no answer to an 8 MB chunk")
        self.assertEqual(r.status, 413, r)
        self.assertTrue(conn.wait_closed(30))
        self.assert_alive()

    def test_lying_content_length(self):
        # Content-Length says 64 but megabytes follow: the 64 bytes are the
        # request, the rest is garbage where the next request should start
        body = b'{"collection":"products","limit":1}'.ljust(64)
        conn = self.raw()
        conn.send(http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH, body)))
        first = conn.response()
        self.assertIsNotNone(first)
        self.assertEqual(first.status, 200, first)
        for _ in range(80):  # 5 MB of garbage, until the gateway hangs up
            if not conn.send(b"x" * 65536) or conn.readable(0.01):
                break
        second = conn.response(timeout=30)
        if second is not None:  # the reset may beat the answer to us
            self.assertEqual(second.status, 400, second)
        self.assertTrue(conn.wait_closed(30))
        # a short Content-Length cuts the body: what is left is not the JSON signed
        conn = self.raw()
        full = b'{"collection":"products","limit":1}'
        conn.send(http_request("POST", QPATH, full, signed_headers(self.s, "POST", QPATH, full),
                               content_length=False)
                  .replace(b"\r\n\r\n", b"\r\nContent-Length: 10\r\n\r\n"))
        r = conn.response()
        self.assertIsNotNone(r)
        self.assert_error(r, 401, "invalid_signature")
        self.assert_alive()

    def test_content_length_variants(self):
        for value in ("-1", "12abc", "0x10", "1e3", " ", "99999999999999999999999"):
            with self.subTest(content_length=value):
                conn = self.raw()
                conn.send(http_request("POST", QPATH, b"{}", [("Content-Type", "application/json")],
                                       content_length=False)
                          .replace(b"\r\n\r\n", b"\r\nContent-Length: %s\r\n\r\n" % value.encode()))
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertIn(r.status, (400, 413), r)
                self.assertTrue(conn.wait_closed(30))
        self.assert_alive()

    def test_duplicate_content_length(self):
        # two lengths that disagree: which one holds is exactly what request
        # smuggling exploits, so the request is refused and the connection closed
        body = b'{"collection":"products","limit":1}'
        for lengths in ((len(body), 10), (10, len(body)), (len(body), len(body))):
            with self.subTest(lengths=lengths):
                conn = self.raw()
                extra = "".join("Content-Length: %d\r\n" % n for n in lengths)
                conn.send(http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH,
                                                                           body),
                                       content_length=False)
                          .replace(b"\r\n\r\n", b"\r\n" + extra.encode() + b"\r\n"))
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 400, r)
                if r.json is not None:
                    self.assert_error(r, 400, "invalid_request")
                self.assertTrue(conn.wait_closed(30))
        self.assert_alive()

    def test_chunked_and_content_length(self):
        body = b'{"collection":"products","limit":1}'
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", signed_headers(self.s, "POST", QPATH, body) +
                               [("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                               content_length=False) + chunked)
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(conn.wait_closed(30))
        # a well-formed chunked body is just a body
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", signed_headers(self.s, "POST", QPATH, body) +
                               [("Transfer-Encoding", "chunked")], content_length=False) + chunked)
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)
        # a broken chunk size: libevent 2.1 reports every chunk error as 413
        conn = self.raw()
        conn.send(http_request("POST", QPATH, b"", [("Content-Type", "application/json"),
                                                    ("Transfer-Encoding", "chunked")],
                               content_length=False) + b"zz\r\nabc\r\n0\r\n\r\n")
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertIn(r.status, (400, 413), r)
        self.assertTrue(conn.wait_closed(30))
        self.assert_alive()


class ContentTypeTest(AbuseCase):
    def test_content_type_variants(self):
        body = {"collection": P, "limit": 1}
        for ct in ("application/json", "Application/JSON", "application/json;charset=utf-8",
                   "application/json; charset=UTF-8", "APPLICATION/JSON; CHARSET=UTF-8"):
            with self.subTest(ct=ct):
                r = self.q(body, content_type=ct)
                self.assertEqual(r.status, 200, r)
        for ct in ("text/plain", "text/json", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "application/jsonp", "application/json-seq",
                   "application/jsonx", "application/problem+json", "application/json, text/plain",
                   "application/javascript", "*/*", "", None):
            with self.subTest(ct=ct):
                self.err(body, "unsupported_media_type", status=415, content_type=ct)


class HeaderTest(AbuseCase):
    def test_crlf_in_header_values(self):
        # a bare CR inside a value, or a header line without a colon, is not HTTP
        for head in (b"X-Readgate-Session: abc\rX-Injected: 1\r\n",
                     b"X-Readgate-Nonce: a\rb\r\n",
                     b"Origin: https://shop.example.com\rAccess-Control-Allow-Origin: *\r\n",
                     b"NoColonHere\r\n"):
            with self.subTest(head=head):
                conn = self.raw()
                conn.send(b"POST " + QPATH.encode() + b" HTTP/1.1\r\nHost: x\r\n" + head +
                          b"Content-Length: 0\r\n\r\n")
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 400, r)
                self.assertIsNone(r.header("X-Injected"))
                self.assertIsNone(r.header("Access-Control-Allow-Origin"))
                self.assertTrue(conn.wait_closed(30))
        self.assert_alive()

    def test_nothing_injected_into_responses(self):
        # the only request header ever echoed is an allowed Origin, which can't
        # hold a line break; folded or odd values don't match the allowlist
        origins = ["https://shop.example.com\r\n X-Injected: 1",  # obsolete line folding
                   "https://shop.example.com, https://evil.example",
                   "https://shop.example.com%0d%0aX-Injected:%201",
                   "https://shop.example.com\tX-Injected: 1"]
        for origin in origins:
            with self.subTest(origin=origin):
                conn = self.raw()
                body = b'{"collection":"products","limit":1}'
                h = signed_headers(self.s, "POST", QPATH, body) + [("Origin", origin)]
                conn.send(http_request("POST", QPATH, body, h))
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 200, r)
                self.assertIsNone(r.header("X-Injected"), r.headers)
                self.assertIsNone(r.header("Access-Control-Allow-Origin"), r.headers)
        # the same request with the plain origin: echoed, so the checks above can see it
        r = self.q({"collection": P, "limit": 1}, origin="https://shop.example.com")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://shop.example.com")
        # CR LF encoded in the path stays in the path
        r = self.c.request("POST", "/v1/%s/query%%0d%%0aX-Injected:%%201" % SITE, b"{}",
                           [("Content-Type", "application/json")])
        self.assertEqual(r.status, 404, r)
        self.assertIsNone(r.header("X-Injected"))
        self.assert_alive()

    def test_overlong_and_many_headers(self):
        body = b'{"collection":"products","limit":1}'
        # large but within libevent's 16 KiB of headers: an ordinary request
        r = self.q(body, extra_headers=[("X-Padding", "p" * 8000)])
        self.assertEqual(r.status, 200, r)
        r = self.q(body, extra_headers=[("X-H%d" % i, "v") for i in range(500)])
        self.assertEqual(r.status, 200, r)
        # beyond it: refused before routing, connection closed
        for headers in ([("X-Long", "a" * 20000)], [("X-H%d" % i, "v" * 10) for i in range(2000)],
                        [("X-Readgate-Session", "s" * 30000)]):
            with self.subTest(n=len(headers), size=sum(len(v) for _, v in headers)):
                conn = self.raw()
                conn.send(http_request("POST", QPATH, body, headers))
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertEqual(r.status, 400, r)
                self.assertTrue(conn.wait_closed(30))
        # an overlong value of a header the gateway reads is a plain refusal
        r = self.q(body, token="sst_" + "A" * 10000)
        self.assert_error(r, 401, "invalid_session")
        r = self.q(body, nonce="n" * 5000)
        self.assert_error(r, 401, "invalid_signature_header")
        self.assert_alive()

    def test_odd_request_lines(self):
        for line in (b"BREW " + QPATH.encode() + b" HTTP/1.1", b"POST " + QPATH.encode() +
                     b" HTTP/9.9", b"POST " + QPATH.encode(), b"\x00\x01\x02\xff",
                     b"POST /v1/testsite01\x00/query HTTP/1.1", b"GET /" + b"a" * 20000 +
                     b" HTTP/1.1"):
            with self.subTest(line=line[:40]):
                conn = self.raw()
                conn.send(line + b"\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                r = conn.response()
                self.assertIsNotNone(r)
                self.assertIn(r.status, (400, 501), r)
                self.assertTrue(conn.wait_closed(30))
        self.assert_alive()


class ProtocolTest(AbuseCase):
    def test_http10(self):
        body = b'{"collection":"products","limit":2}'
        conn = self.raw()
        conn.send(http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH, body),
                               version="HTTP/1.0"))
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["rows"]), 2)
        self.assert_headers(r)
        # HTTP/1.0 without keep-alive: the gateway closes after the answer
        self.assertTrue(conn.wait_closed(30))

    def test_pipelined_requests(self):
        bodies = [b'{"collection":"products","limit":1}', b'{"collection":', b'{"collection":"x"}']
        data = b""
        for b in bodies:
            data += http_request("POST", QPATH, b, signed_headers(self.s, "POST", QPATH, b))
        data += http_request("GET", CPATH, b"", signed_headers(self.s, "GET", CPATH, b"", None),
                             content_length=False)
        conn = self.raw()
        conn.send(data)
        got = [conn.response() for _ in range(4)]
        self.assertTrue(all(r is not None for r in got), got)
        self.assertEqual([r.status for r in got], [200, 400, 400, 200])
        self.assertEqual([r.code for r in got], [None, "invalid_json", "unknown_collection", None])
        self.assertEqual(len(got[0].json["rows"]), 1)
        self.assertIn("collections", got[3].json)
        # and the connection still serves
        b = bodies[0]
        conn.send(http_request("POST", QPATH, b, signed_headers(self.s, "POST", QPATH, b)))
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)

    def test_security_headers(self):
        c, s = self.c, self.s
        checks = [
            ("query", self.q({"collection": P, "limit": 1})),
            ("validation error", self.q({"collection": "nope"})),
            ("signature error", self.q({"collection": P}, signature="sha256=" + "0" * 64)),
            ("415", self.q({"collection": P}, content_type="text/plain")),
            ("413", self.q(b"{" + b" " * 20000 + b"}")),
            ("collections", c.collections(s)),
            ("unknown site", c.request("POST", "/v1/nosuchsite1/token", b"")),
            ("unknown path", c.request("GET", "/nope")),
            ("wrong method", c.request("PUT", QPATH, b"{}")),
        ]
        tok = c.token(SITE, api_key=self.env.api_key)
        checks.append(("token", tok))
        for name, r in checks:
            with self.subTest(response=name):
                self.assertIsNotNone(r.json, r)
                self.assert_headers(r)
        # session secrets and rows must never sit in a cache
        self.assertEqual(tok.status, 200, tok)
        self.assertEqual(tok.header("Cache-Control"), "no-store")
        self.assertEqual(checks[0][1].header("Cache-Control"), "no-store")
        r = c.request("OPTIONS", QPATH, b"", [("Origin", "https://shop.example.com"),
                                              ("Access-Control-Request-Method", "POST")])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIsNone(r.header("Server"))
        # libevent's own error pages carry no Server header either
        conn = self.raw()
        conn.send(b"GARBAGE\r\n\r\n")
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertIsNone(r.header("Server"), r.headers)


class SlowClientTest(AbuseCase):
    """Slowloris: clients that never finish (or trickle) their request are
    disconnected after limits.header_timeout_ms / body_timeout_ms, and while
    they hang on, everyone else is served."""

    header_s = HEADER_TIMEOUT_MS / 1000.0
    body_s = BODY_TIMEOUT_MS / 1000.0

    def closed_after(self, conn, t0, low, limit=30.0):
        """Seconds from t0 until the gateway closed conn; checks it was not
        before `low` (deadlines never fire early; no upper bound is asserted
        beyond `limit`, as a loaded machine may be late)."""
        self.assertTrue(conn.wait_closed(limit), "still open after %.0f s" % limit)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, low * 0.95, "closed before the deadline")
        return took

    def test_half_sent_request_is_closed(self):
        conn = self.raw(timeout=60)
        t0 = time.monotonic()
        conn.send(b"POST " + QPATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        # others are served meanwhile
        self.assert_alive()
        self.closed_after(conn, t0, self.header_s)
        self.assertEqual(conn.buf, b"", "a half-sent request got an answer")

    def test_trickled_headers_are_closed(self):
        # a byte every 0.3 s never lets the connection go idle, so only a
        # deadline on the whole header block ends it
        conn = self.raw(timeout=60)
        t0 = time.monotonic()
        conn.send(b"POST " + QPATH.encode() + b" HTTP/1.1\r\n")
        line = b"X-Slow: " + b"a" * 200
        for ch in line:
            if not conn.send(bytes([ch])) or conn.readable(0.3):
                break
            if time.monotonic() - t0 > 40:
                break
        took = self.closed_after(conn, t0, self.header_s)
        self.assertLess(took, 40, "trickling kept the connection open")

    def test_trickled_body_is_closed(self):
        # long enough that trickling it would outlast the test without a deadline
        body = b'{"collection":"products","limit":1}'.ljust(300)
        conn = self.raw(timeout=60)
        conn.send(http_request("POST", QPATH, b"", signed_headers(self.s, "POST", QPATH, body),
                               content_length=False)
                  .replace(b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % len(body)))
        t0 = time.monotonic()
        for ch in body[:-1]:
            if not conn.send(bytes([ch])) or conn.readable(0.3):
                break
            if time.monotonic() - t0 > 40:
                break
        took = self.closed_after(conn, t0, self.body_s)
        self.assertLess(took, 40, "trickling kept the connection open")
        self.assertEqual(conn.buf, b"")

    def test_body_never_sent(self):
        # Content-Length promises 100 bytes, 10 come
        conn = self.raw(timeout=60)
        conn.send(http_request("POST", QPATH, b"", [("Content-Type", "application/json")],
                               content_length=False)
                  .replace(b"\r\n\r\n", b"\r\nContent-Length: 100\r\n\r\n") + b'{"collecti')
        t0 = time.monotonic()
        self.closed_after(conn, t0, self.body_s)

    def test_idle_keep_alive_is_closed(self):
        body = b'{"collection":"products","limit":1}'
        conn = self.raw(timeout=60)
        conn.send(http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH, body)))
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)
        t0 = time.monotonic()
        self.closed_after(conn, t0, self.header_s)

    def test_slow_but_timely_client_is_served(self):
        # the deadline is generous to a client that is merely slow: headers in
        # three pieces over about a second still make it
        body = b'{"collection":"products","limit":1}'
        req = http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH, body))
        conn = self.raw()
        third = len(req) // 3
        for part in (req[:third], req[third:2 * third], req[2 * third:]):
            self.assertTrue(conn.send(part))
            time.sleep(0.3)
        r = conn.response()
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)
        # the deadline measures each request anew on a kept-alive connection
        for _ in range(3):
            time.sleep(self.header_s * 0.6)
            conn.send(http_request("POST", QPATH, body, signed_headers(self.s, "POST", QPATH,
                                                                        body)))
            r = conn.response()
            self.assertIsNotNone(r, "a kept-alive connection was cut mid-use")
            self.assertEqual(r.status, 200, r)

    def test_many_slow_clients_do_not_block_others(self):
        conns = []
        t0 = time.monotonic()
        for i in range(60):
            conn = self.raw(timeout=60)
            conn.send(b"POST " + QPATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: %d" % i)
            conns.append(conn)
        for _ in range(5):
            self.assert_alive()
        for conn in conns:
            self.assertTrue(conn.wait_closed(max(1.0, 40 - (time.monotonic() - t0))),
                            "a slow client was never disconnected")
        self.assertGreaterEqual(time.monotonic() - t0, self.header_s * 0.95)
        self.assert_alive()


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class BurstMemoryTest(AbuseCase):
    """A burst of thousands of hostile requests leaves the gateway's memory
    where it was."""

    def hostile_requests(self):
        """(method, path, body, headers) of one of each kind, cycled."""
        s = self.s
        big = b'{"collection":"products","search":"' + b"x" * 16300 + b'"}'
        deep = ("[" * 3000 + "]" * 3000).encode()
        many = json.dumps({"collection": P, "filters": [F("id", "eq", 1)] * 300}).encode()
        bodies = [
            b'{"collection":', deep, many, big,
            b'{"collection":"products","filters":[{"field":"price","op":"eq","value":1e400}]}',
            b'{"collection":"products","search":"\xff\xfe"}',
            b'{"collection":"products","search":"a\\u0000b"}',
            b'{"collection":"products","limit":1,"limit":2}',
            json.dumps({"collection": P, "filters": [F("name", "eq", "x" * 257)]}).encode(),
            json.dumps({"collection": P, "filters": [F("name", "in", ["y" * 256] * 50)]}).encode(),
            json.dumps({"collection": P, "cursor": "A" * 5000}).encode(),
            json.dumps({"collection": "n" * 10000}).encode(),
            b"{" + b" " * 40000 + b"}",  # 413 from the gateway
        ]
        out = []
        for b in bodies:
            out.append(("POST", QPATH, b, "signed"))
        out.append(("POST", QPATH, b'{"collection":"products"}', [
            ("X-Readgate-Session", s.token), ("X-Readgate-Timestamp", str(int(time.time()))),
            ("X-Readgate-Nonce", "n" * 20), ("X-Readgate-Signature", "sha256=" + "0" * 64),
            ("Content-Type", "application/json")]))
        out.append(("POST", QPATH, b"{}", [("Content-Type", "text/plain")]))
        out.append(("POST", "/v1/%s/token" % SITE, b"", [("Origin", "https://evil.example")]))
        out.append(("GET", "/" + "z" * 3000, b"", []))
        return out

    def burst(self, n, kinds):
        """n requests over a few keep-alive connections; returns the statuses seen."""
        statuses = {}
        lock = threading.Lock()
        errors = []

        def worker(count, offset):
            conn = None
            try:
                for i in range(count):
                    method, path, body, headers = kinds[(offset + i) % len(kinds)]
                    if headers == "signed":
                        headers = signed_headers(self.s, method, path, body)
                    if conn is None:
                        conn = RawConn(self.srv.port, 30)
                    if not conn.send(http_request(method, path, body, headers)):
                        conn.close()
                        conn = None
                        continue
                    r = conn.response(30)
                    if r is None:
                        errors.append("no answer to a %s of %d bytes" % (path[:30], len(body)))
                        conn.close()
                        conn = None
                        continue
                    with lock:
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.header("Connection") == "close":
                        conn.close()
                        conn = None
            except Exception as e:  # reported below, in the test's thread
                errors.append(repr(e))
            finally:
                if conn:
                    conn.close()

        threads = [threading.Thread(target=worker, args=(n // 4, k * 7)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        self.assertFalse(errors, errors[:5])
        return statuses

    def test_memory_stays_bounded(self):
        pid = self.srv.proc.pid
        kinds = self.hostile_requests()
        # The gateway runs under AddressSanitizer, which keeps freed memory in
        # a quarantine (256 MiB by default) before reusing it, so RSS climbs
        # for a while even without any leak. Warm-up bursts bring the
        # quarantine and the allocator's pools to their working size; the
        # measured burst then shows only lasting growth. Measured with this
        # mix: RSS rises by some 400 MiB over the first 8000 requests, then
        # moves by less than 8 MiB (either way) per further 4000. 4000
        # requests that each kept their body (up to 16 KiB) would add tens of
        # MiB and fail the 32 MiB bound; a leak of a few hundred bytes per
        # request is below what RSS can show and is left to LeakSanitizer,
        # which fails the gateway's exit at the end of the run.
        n = 4000
        warm = self.burst(2 * n, kinds)
        before = vm_rss_kib(pid)
        statuses = self.burst(n, kinds)
        after = vm_rss_kib(pid)
        grew_mib = (after - before) / 1024.0
        print("\n  RSS %.1f MiB -> %.1f MiB (%+.1f MiB) over %d hostile requests; statuses %s"
              % (before / 1024.0, after / 1024.0, grew_mib, n, sorted(statuses.items())))
        # 200: the one heavy but valid query of the mix (50 values of 256 bytes)
        self.assertTrue(set(warm) <= {200, 400, 401, 404, 413, 415}, warm)
        self.assertTrue(set(statuses) <= {200, 400, 401, 404, 413, 415}, statuses)
        self.assertNotIn(429, statuses)
        self.assertLess(grew_mib, 32, "RSS grew by %.1f MiB over %d requests" % (grew_mib, n))
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()
