-- StartLogin with a fresh email per request (no per-email limit is met).
-- Environment: BENCH_KEY (API key), BENCH_RUN (a label that makes the addresses unique).
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require("common")
local key = os.getenv("BENCH_KEY")
local run = os.getenv("BENCH_RUN")
setup = number_threads
local n = 0
function request()
  n = n + 1
  local body = string.format('{"email":"b-%s-%d-%d@bench.example"}', run, tid, n)
  return wrk.format("POST", "/emailauth.auth.v1.AuthService/StartLogin",
    { ["content-type"] = "application/json", ["authorization"] = "Bearer " .. key }, body)
end
done = report
