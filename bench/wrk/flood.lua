-- The overload phase's flood: StartLogin with a fresh email per request, counting the answers
-- by status and the refusals (429/503) that came without Retry-After. Environment: BENCH_KEY,
-- BENCH_RUN (as start-login.lua).
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require("common")
local key = os.getenv("BENCH_KEY")
local run = os.getenv("BENCH_RUN")
local threads_ = {}
function setup(thread)
  number_threads(thread)
  table.insert(threads_, thread)
end
local n = 0
statuses = {}
no_retry_after = 0
function request()
  n = n + 1
  local body = string.format('{"email":"f-%s-%d-%d@bench.example"}', run, tid, n)
  return wrk.format("POST", "/emailauth.auth.v1.AuthService/StartLogin",
    { ["content-type"] = "application/json", ["authorization"] = "Bearer " .. key }, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status == 429 or status == 503) and headers["retry-after"] == nil and headers["Retry-After"] == nil then
    no_retry_after = no_retry_after + 1
  end
end
function done(summary, latency, requests)
  report(summary, latency, requests)
  local total, missing = {}, 0
  for _, t in ipairs(threads_) do
    for status, count in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + count end
    missing = missing + t:get("no_retry_after")
  end
  local parts = {}
  for status, count in pairs(total) do table.insert(parts, string.format('"%d":%d', status, count)) end
  io.write(string.format('FLOOD_RESULT {"byStatus":{%s},"refusalsWithoutRetryAfter":%d}\n',
    table.concat(parts, ","), missing))
end
