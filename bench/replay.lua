-- wrk script: replays the pre-signed requests written by bench/prepare.py,
-- each once (a nonce is accepted once), in order across wrk's threads.
-- Requests beyond the file would be replays: answered 401, counted by wrk.

local reqs, token = {}, nil
local n, i, thread_count = 0, 0, 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

-- No response() callback: with one, wrk parses every answer's headers into a
-- Lua table, which cost the load generator more than the request itself.
-- Answers other than 2xx/3xx are counted by wrk ("Non-2xx or 3xx responses").

function init(args)
  local path = args[1]
  local f = assert(io.open(path, "r"))
  token = f:read("*l")
  -- Every request is formatted here, once, before the clock starts:
  -- request() only hands out the next string, so the load generator spends
  -- about as little per request as it does on a plain URL.
  for line in f:lines() do
    local m, p, ts, nonce, sig, body = line:match("^(%u+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    local headers = {
      ["X-Readgate-Session"] = token,
      ["X-Readgate-Timestamp"] = ts,
      ["X-Readgate-Nonce"] = nonce,
      ["X-Readgate-Signature"] = sig,
    }
    n = n + 1
    if m == "POST" then
      headers["Content-Type"] = "application/json"
      reqs[n] = wrk.format("POST", p, headers, body)
    else
      reqs[n] = wrk.format(m, p, headers, nil)
    end
  end
  f:close()
  -- Each thread takes every thread_count-th request, starting at its id.
  stride = tonumber(args[2] or "1")
  i = id + 1
end

function request()
  local r = reqs[i]
  if r == nil then
    r = reqs[n]  -- exhausted: a replay, answered 401 and counted as non-2xx
  end
  i = i + stride
  return r
end
