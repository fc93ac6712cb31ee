#!/usr/bin/env python3
"""Fake Retell AI API: create-web-call with Retell's error bodies and rate limit.

    python3 tests/fakes/retell.py --port P --state DIR [--api-key KEY] [--agent ID[:LATEST_VERSION]]

Endpoints (documented shapes; see README.md for what each follows):
  POST /v2/create-web-call   Authorization: Bearer <API key>, JSON
                             {"agent_id", "agent_version"?, "metadata"?, "retell_llm_dynamic_variables"?}
                             -> 201 {"call_type": "web_call", "access_token", "call_id", "agent_id",
                                     "agent_version", "call_status": "registered", ...}
plus the control API of common.py under /_fake/.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import json_response  # noqa: E402

# The error responses of Retell's OpenAPI spec (docs.retellai.com/api-references):
# every error is {"status": "error", "message": ...}.
MESSAGES = {400: "Invalid request format, please check API reference.",
            401: "API key is missing or invalid.",
            402: "Trial has ended, please add payment method.",
            404: "Not Found",
            422: "Cannot find requested asset under given api key.",
            429: "Account rate limited, please throttle your requests.",
            500: "An unexpected server error occurred."}
# AgentVersionReference: a version number, or a tag / "latest" / "latest_published".
VERSION_TAG = re.compile(r"latest|latest_published|(?!(?:latest|latest_published|v\d+)$)[a-z][a-z0-9_-]{0,19}")
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# exp of the fake's access token: a web call is joined right after it is created
# (the lifetime is the fake's choice).
ACCESS_TOKEN_TTL = 30


def retell_error(status, message=None):
    return json_response(status, {"status": "error",
                                  "message": message or MESSAGES.get(status, "Error %d" % status)})


class RetellFake(common.KeyedProvider):
    """Fake Retell AI API (POST /v2/create-web-call)."""

    name = "retell"
    default_keys = ("key_test_readgate_retell",)
    agent_option = "--agent"
    agent_help = "an agent id the fake knows, optionally ID:LATEST_VERSION (versions 0..LATEST; repeatable)"
    default_agents = ("oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",)

    def routes(self):
        return [common.Route("POST", r"/v2/create-web-call", self.create_web_call)]

    def error(self, status, kind=None, message=None):
        return retell_error(status, message)

    def not_found(self, req):
        return retell_error(404)

    def bad_request(self, req, message):
        return retell_error(400)

    def agents(self):
        """{agent_id: latest version} from the config ("ID" or "ID:N")."""
        out = {}
        for spec in self.config["agents"]:
            aid, _, latest = spec.partition(":")
            out[aid] = int(latest) if latest.isdigit() else 0
        return out

    def apply_config_key(self, key, value, config, dry_run):
        if key == "agents" and isinstance(value, list):
            for spec in value:
                if isinstance(spec, str) and ":" in spec and not spec.partition(":")[2].isdigit():
                    raise ValueError("an agent is ID or ID:LATEST_VERSION")
        return super().apply_config_key(key, value, config, dry_run)

    # -- POST /v2/create-web-call
    def create_web_call(self, req):
        key = req.bearer()
        if not self.key_ok(key):
            return retell_error(401)
        wait = self.admit(key)
        if wait is not None:
            return self.throttled(wait)
        body = req.json()
        if not isinstance(body, dict):
            return retell_error(400)
        agent_id = body.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id:
            return retell_error(400)
        version = body.get("agent_version")
        if version is not None and not (
                (isinstance(version, int) and not isinstance(version, bool) and version >= 0)
                or (isinstance(version, str) and VERSION_TAG.fullmatch(version))):
            return retell_error(400)
        metadata = body.get("metadata")
        if "metadata" in body and not isinstance(metadata, dict):
            return retell_error(400)
        variables = body.get("retell_llm_dynamic_variables")
        if "retell_llm_dynamic_variables" in body and not (
                isinstance(variables, dict) and all(isinstance(v, str) for v in variables.values())):
            return retell_error(400)
        agents = self.agents()
        if agent_id not in agents:
            return retell_error(422)
        latest = agents[agent_id]
        if version is None or version in ("latest", "latest_published"):
            resolved = latest
        elif isinstance(version, int) and version <= latest:
            resolved = version
        else:
            return retell_error(422)  # a version or tag the agent does not have
        call_id = self.fresh("call", 32, ID_ALPHABET)
        now = int(time.time())
        # A LiveKit-style room token, as Retell's access_token is.
        access_token = common.jwt_hs256({
            "iss": "APIrgfake", "sub": "user_" + call_id[:8], "nbf": now, "exp": now + ACCESS_TOKEN_TTL,
            "video": {"room": "web_call_" + call_id, "roomJoin": True, "canPublish": True,
                      "canSubscribe": True}}, self.args.seed + ":retell")
        out = {"call_type": "web_call", "access_token": access_token, "call_id": call_id,
               "agent_id": agent_id, "agent_version": resolved, "agent_name": "readgate fake agent",
               "call_status": "registered"}
        if metadata is not None:
            out["metadata"] = metadata
        if variables is not None:
            out["retell_llm_dynamic_variables"] = variables
        out.update({"data_storage_setting": "everything", "opt_in_signed_url": False})
        return json_response(201, out)


if __name__ == "__main__":
    common.serve(RetellFake)
