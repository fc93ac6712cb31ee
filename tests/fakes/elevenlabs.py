#!/usr/bin/env python3
"""Fake ElevenLabs Agents Platform (Conversational AI) API: conversation token and signed URL.

    python3 tests/fakes/elevenlabs.py --port P --state DIR [--api-key KEY] [--agent AGENT_ID]

Endpoints (documented shapes; see README.md for what each follows):
  GET /v1/convai/conversation/token?agent_id=...           header xi-api-key -> {"token": "..."}
  GET /v1/convai/conversation/get-signed-url?agent_id=...  header xi-api-key -> {"signed_url": "wss://..."}
  GET /v1/convai/conversation/get_signed_url?agent_id=...  the deprecated spelling, same answer
plus the control API of common.py under /_fake/.
"""

import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import json_response  # noqa: E402

# elevenlabs.io/docs/eleven-api/resources/errors: {"detail": {type, code, message,
# status (legacy, = code), request_id, param?}}. (status, type, code, message):
ERRORS = {
    400: ("validation_error", "invalid_parameters", "Invalid request."),
    401: ("authentication_error", "invalid_api_key", "Invalid API key"),
    403: ("authorization_error", "missing_permissions",
          "The API key you used is missing the permission convai_write to execute this operation."),
    404: ("not_found", "agent_not_found", "Agent not found."),
    429: ("rate_limit_error", "rate_limit_exceeded",
          "You have exceeded the rate limit for this endpoint. Please retry after a short wait."),
    500: ("internal_error", "internal_server_error", "An internal server error occurred."),
    503: ("service_unavailable", "service_unavailable", "The service is temporarily unavailable."),
}
# The header-less answer: the legacy `needs_authorization` status.
NEEDS_AUTH = ("authentication_error", "needs_authorization",
              "Neither authorization header nor xi-api-key received, please provide one.")
CONCURRENT = ("rate_limit_error", "concurrent_limit_exceeded",
              "You have too many concurrent requests. Please wait for your other requests to finish.")
WS_BASE = "wss://api.elevenlabs.io/v1/convai/conversation"
BOOL_TRUE, BOOL_FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
TOKEN_TTL = 600  # exp of the fake's LiveKit token (the lifetime is the fake's choice)


def missing_query(name):
    # FastAPI's 422 for a required query parameter (HTTPValidationError in the OpenAPI spec).
    return json_response(422, {"detail": [{"type": "missing", "loc": ["query", name], "msg": "Field required",
                                           "input": None}]})


def bad_bool(name, value):
    return json_response(422, {"detail": [{"type": "bool_parsing", "loc": ["query", name],
                                           "msg": "Input should be a valid boolean, unable to interpret input",
                                           "input": value}]})


class ElevenLabsFake(common.KeyedProvider):
    """Fake ElevenLabs Conversational AI API (conversation token, signed URL)."""

    name = "elevenlabs"
    default_keys = ("sk_test_readgate_elevenlabs",)
    agent_option = "--agent"
    default_agents = ("agent_01jrgfake0000000000000000",)
    kind_status = {"concurrent": 429}

    def routes(self):
        R = common.Route
        return [R("GET", r"/v1/convai/conversation/token", self.token),
                R("GET", r"/v1/convai/conversation/get-signed-url", self.signed_url),
                R("GET", r"/v1/convai/conversation/get_signed_url", self.signed_url)]

    def detail(self, status, entry, message=None, param=None):
        type_, code, msg = entry
        d = {"type": type_, "code": code, "message": message or msg, "status": code,
             "request_id": self.fresh("req")}
        if param is not None:
            d["param"] = param
        return json_response(status, {"detail": d})

    def error(self, status, kind=None, message=None):
        if status == 401 and kind == "missing":
            return self.detail(401, NEEDS_AUTH)
        if status == 429 and kind == "concurrent":
            return self.detail(429, CONCURRENT)
        entry = ERRORS.get(status, ("internal_error", "error", "Error %d" % status))
        return self.detail(status, entry, message)

    def not_found(self, req):
        return json_response(404, {"detail": "Not Found"})  # FastAPI's unknown route

    def bad_request(self, req, message):
        return self.error(400)

    def authorize(self, req):
        """(key, None) or (None, the 401 answer)."""
        key = req.header("xi-api-key")
        if key is None:
            return None, self.error(401, "missing")
        if not self.key_ok(key):
            return None, self.error(401)
        return key, None

    def common_checks(self, req):
        """(agent_id, None) or (None, the error answer): key, rate limit, agent_id."""
        key, err = self.authorize(req)
        if err:
            return None, err
        wait = self.admit(key)
        if wait is not None:
            return None, self.throttled(wait)
        agent_id = req.arg("agent_id")
        if agent_id is None:
            return None, missing_query("agent_id")
        for name in ("include_conversation_id", "debug_events_request"):
            v = req.arg(name)
            if v is not None and v.lower() not in BOOL_TRUE | BOOL_FALSE:
                return None, bad_bool(name, v)
        if not self.agent_ok(agent_id):
            return None, self.detail(404, ERRORS[404], "Agent with id %s not found." % agent_id, "agent_id")
        return agent_id, None

    # -- GET /v1/convai/conversation/token
    def token(self, req):
        agent_id, err = self.common_checks(req)
        if err:
            return err
        now = int(time.time())
        room = "room_" + agent_id + "_conv_" + self.fresh("conv", 26, "0123456789abcdefghjkmnpqrstvwxyz")
        # A LiveKit room token (the WebRTC connection's credential).
        token = common.jwt_hs256({
            "iss": "APIrgfake", "sub": req.arg("participant_name") or "user", "nbf": now,
            "exp": now + TOKEN_TTL, "video": {"room": room, "roomJoin": True, "canPublish": True,
                                              "canSubscribe": True}}, self.args.seed + ":elevenlabs")
        return json_response(200, {"token": token})

    # -- GET /v1/convai/conversation/get-signed-url
    def signed_url(self, req):
        agent_id, err = self.common_checks(req)
        if err:
            return err
        signature = "cvtkn_" + self.fresh("sig", 26, "0123456789abcdefghjkmnpqrstvwxyz")
        query = urllib.parse.urlencode({"agent_id": agent_id, "conversation_signature": signature})
        return json_response(200, {"signed_url": WS_BASE + "?" + query})


if __name__ == "__main__":
    common.serve(ElevenLabsFake)
