-- wrk script: pupils visiting the stand-in ENT portal (preau ent load).
-- Each wrk thread is one pupil account; its connections replay a visit of 8 requests:
-- GET /login, POST /login, /, /timetable, /homework, /messages, /timetable, /.
-- Between two requests a connection "thinks" ENT_THINK_MS milliseconds, which sets the rate
-- (connections / (think + latency)). The password comes from ENT_DEMO_PASSWORD, never argv.
-- done() prints one JSON line with counts and latency percentiles for preau to parse.

local password = os.getenv("ENT_DEMO_PASSWORD") or ""
local think = tonumber(os.getenv("ENT_THINK_MS") or "100")
local pupils = tonumber(os.getenv("ENT_PUPILS") or "2000")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  step = 0
  cookie = nil
  bad = 0
  logins = 0
  login = string.format("eleve%05d", ((id * 7919) % pupils) + 1)
  visit = {
    {"GET", "/login"},
    {"POST", "/login"},
    {"GET", "/"},
    {"GET", "/timetable"},
    {"GET", "/homework"},
    {"GET", "/messages"},
    {"GET", "/timetable"},
    {"GET", "/"},
  }
end

function request()
  step = step % #visit + 1
  local method, path = visit[step][1], visit[step][2]
  if cookie == nil and path ~= "/login" then
    method, path = "POST", "/login"
  end
  local headers = {}
  if cookie ~= nil then headers["Cookie"] = cookie end
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", path, headers, "login=" .. login .. "&password=" .. password)
  end
  return wrk.format(method, path, headers)
end

function response(status, headers, body)
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set ~= nil then
    cookie = string.match(set, "^([^;]+)")
    logins = logins + 1
  end
  -- a page that sends us back to /login lost its session: that is a failure for a pupil
  local location = headers["Location"] or headers["location"]
  if status >= 400 or (status == 303 and location == "/login") then
    bad = bad + 1
  end
end

function delay()
  return think
end

function done(summary, latency, requests)
  local bad_total, logins_total = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
    logins_total = logins_total + (t:get("logins") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "bad": %d, "logins": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, bad_total, logins_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
