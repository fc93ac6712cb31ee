#!/usr/bin/env python3
"""Fake Vapi API: starting a web call with a public-scope JWT, verified as Vapi verifies it.

    python3 tests/fakes/vapi.py --port P --state DIR [--org-id ORG] [--private-key KEY]
        [--assistant ASSISTANT_ID]

readgate mints Vapi's public JWT itself (HS256 with the org's private key,
docs.vapi.ai/customization/jwt-authentication); the browser then starts the
call with it. This fake is that second step:

  POST /call/web   Authorization: Bearer <JWT>, Origin, JSON {"assistantId" | "assistant" | ...}
                   -> 201 a call object {"id", "orgId", "type": "webCall", "status": "queued",
                      "webCallUrl", ...}
plus the control API of common.py under /_fake/. Every refusal answers 401
with Vapi's body; the X-Fake-Reason header says which check failed.
"""

import datetime
import hashlib
import hmac
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import json_response  # noqa: E402

# Vapi's API answers errors as NestJS does: {"message", "error", "statusCode"}.
INVALID_KEY = "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."
MISSING_HEADER = "Missing Authorization Header."
PHRASES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable"}
# A null in allowedOrigins makes Vapi answer this 500 (VapiAI/client-sdk-web#108).
INTERNAL = {"statusCode": 500, "message": "Internal server error. Contact support@vapi.ai for help."}
START_KEYS = ("assistantId", "assistant", "squadId", "squad", "workflowId", "workflow")
LEEWAY_S = 5  # clock skew allowed on nbf


def vapi_error(status, message=None, reason=None):
    headers = {"X-Fake-Reason": reason} if reason else None
    return json_response(status, {"message": message or PHRASES.get(status, "Error"),
                                  "error": PHRASES.get(status, "Error"), "statusCode": status}, headers)


def unauthorized(reason, message=INVALID_KEY):
    return vapi_error(401, message, reason)


def origin_key(origin):
    """An origin compared as browsers send it: scheme://host[:port], case-insensitive, no slash."""
    return origin.strip().rstrip("/").lower()


class VapiFake(common.KeyedProvider):
    """Fake Vapi API (POST /call/web with a public-scope JWT)."""

    name = "vapi"
    key_option = "--private-key"
    key_help = "the org's private key that signs the JWTs (HS256; repeatable)"
    default_keys = ("vapi-private-key-readgate-test",)
    agent_option = "--assistant"
    agent_help = "an assistant id the org has (repeatable)"
    default_agents = ("1cbf8c70-5fd7-4f61-a220-376ab35be1b0",)

    @classmethod
    def add_arguments(cls, p):
        super().add_arguments(p)
        p.add_argument("--org-id", default="6da6841c-0fca-4604-8941-3d5d65f43a17",
                       help="the org the JWTs must name in orgId")

    def default_config(self):
        cfg = super().default_config()
        cfg["org_id"] = self.args.org_id
        return cfg

    def provider_config_keys(self):
        return super().provider_config_keys() + ["org_id"]

    def apply_config_key(self, key, value, config, dry_run):
        if key == "org_id":
            if not isinstance(value, str) or not value:
                raise ValueError("org_id must be a non-empty string")
            if not dry_run:
                config[key] = value
            return True
        return super().apply_config_key(key, value, config, dry_run)

    def routes(self):
        return [common.Route("POST", r"/call/web", self.web_call)]

    def error(self, status, kind=None, message=None):
        if status == 401:
            return vapi_error(401, message or INVALID_KEY)
        if status == 429:
            # NestJS's throttler answer.
            return json_response(429, {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"})
        if status == 500 and message is None:
            return json_response(500, INTERNAL)
        return vapi_error(status, message)

    def not_found(self, req):
        return vapi_error(404, "Cannot %s %s" % (req.method, req.path))

    def bad_request(self, req, message):
        return vapi_error(400, "Unexpected token in JSON")

    # -- the JWT
    def verify(self, token, origin):
        """(claims, None) for a public JWT of this org that allows `origin`,
        else (None, the 401 or 500 answer)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None, unauthorized("malformed")
        try:
            header = json.loads(common.b64url_decode(parts[0]))
            claims = json.loads(common.b64url_decode(parts[1]))
            signature = common.b64url_decode(parts[2])
        except ValueError:
            return None, unauthorized("malformed")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None, unauthorized("malformed")
        if header.get("alg") != "HS256":
            return None, unauthorized("alg")
        signing = (parts[0] + "." + parts[1]).encode("ascii")
        if not any(hmac.compare_digest(hmac.new(k.encode("utf-8"), signing, hashlib.sha256).digest(), signature)
                   for k in self.config["api_keys"]):
            return None, unauthorized("signature")
        if claims.get("orgId") != self.config["org_id"]:
            return None, unauthorized("org")
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            return None, unauthorized("exp missing")
        if now >= exp:
            return None, unauthorized("expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, (int, float)) or now + LEEWAY_S < nbf):
            return None, unauthorized("not yet valid")
        scope = claims.get("token")
        if not isinstance(scope, dict) or scope.get("tag") != "public":
            return None, unauthorized("tag")
        restrictions = scope.get("restrictions", {})
        if restrictions is None:
            restrictions = {}
        if not isinstance(restrictions, dict):
            return None, unauthorized("restrictions")
        if restrictions.get("enabled", True) is False:
            return None, unauthorized("disabled")
        ids = restrictions.get("allowedAssistantIds")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
            return None, unauthorized("restrictions")
        if not isinstance(restrictions.get("allowTransientAssistant", True), bool):
            return None, unauthorized("restrictions")
        allowed = restrictions.get("allowedOrigins")
        if allowed:
            if not isinstance(allowed, list) or not all(isinstance(o, str) for o in allowed):
                return None, json_response(500, INTERNAL, {"X-Fake-Reason": "allowedOrigins"})
            if origin is None or origin_key(origin) not in {origin_key(o) for o in allowed}:
                return None, unauthorized("origin")
        return claims, None

    # -- POST /call/web
    def web_call(self, req):
        token = req.bearer()
        if token is None:
            return unauthorized("missing", MISSING_HEADER)
        claims, err = self.verify(token, req.header("Origin"))
        if err:
            return err
        wait = self.admit(claims["orgId"])
        if wait is not None:
            return self.throttled(wait)
        body = req.json()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return vapi_error(400, ["body must be an object"])
        given = [k for k in START_KEYS if body.get(k) is not None]
        if not given:
            return vapi_error(400, "Couldn't Get Assistant. Need Either `assistant`, `assistantId`, `squad`, "
                                   "`squadId`, `workflow`, Or `workflowId`.")
        restrictions = claims["token"].get("restrictions") or {}
        allowed_ids = restrictions.get("allowedAssistantIds")
        # "If allowedAssistantIds is provided, [allowTransientAssistant] is automatically false."
        transient_ok = restrictions.get("allowTransientAssistant", True) and not allowed_ids
        assistant_id = body.get("assistantId")
        if assistant_id is not None:
            if allowed_ids and assistant_id not in allowed_ids:
                return unauthorized("assistant", "Assistant not allowed by the key's restrictions.")
            if not isinstance(assistant_id, str) or not self.agent_ok(assistant_id):
                return vapi_error(400, "Couldn't Get Assistant. `assistantId` %s Does Not Exist." % assistant_id)
        if any(body.get(k) is not None for k in ("assistant", "squad", "workflow")) and not transient_ok:
            return unauthorized("transient", "Transient assistant not allowed by the key's restrictions.")
        if allowed_ids and assistant_id is None:
            return unauthorized("assistant", "Assistant not allowed by the key's restrictions.")
        call_id = self.fresh("call")
        call_id = "%s-%s-4%s-a%s-%s" % (call_id[:8], call_id[8:12], call_id[13:16], call_id[17:20], call_id[20:32])
        room = self.fresh("room", 20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        web_call_url = "https://vapi.daily.co/" + room
        monitor = "wss://phone-call-websocket.aws-us-west-2-backend-production1.vapi.ai/" + call_id
        out = {"id": call_id, "orgId": claims["orgId"], "createdAt": now, "updatedAt": now, "type": "webCall",
               "status": "queued", "webCallUrl": web_call_url,
               "monitor": {"listenUrl": monitor + "/listen",
                           "controlUrl": monitor.replace("wss://", "https://") + "/control"},
               "transport": {"provider": "daily", "assistantVideoEnabled": False, "callUrl": web_call_url}}
        for k in START_KEYS + ("assistantOverrides", "squadOverrides", "workflowOverrides", "metadata"):
            if body.get(k) is not None:
                out[k] = body[k]
        return json_response(201, out)


if __name__ == "__main__":
    common.serve(VapiFake)
