-- VerifyLogin by email with codes captured from the SMTP sink: each request uses a pair that
-- no other request uses; a thread stops when its pairs are used up (never reusing a code,
-- which would only measure refusals). Environment: BENCH_KEY, BENCH_PAIRS (a file of "email code" lines),
-- BENCH_THREADS (wrk's -t).
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require("common")
local key = os.getenv("BENCH_KEY")
setup = number_threads
local pairs_ = {}
local i = 0
function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS"))
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_PAIRS")) do
    line_no = line_no + 1
    if line_no % total == tid - 1 then table.insert(pairs_, line) end
  end
end
function request()
  i = i + 1
  local line = pairs_[math.min(i, #pairs_)]
  local email, code = line:match("^(%S+) (%S+)$")
  local body = string.format('{"email":"%s","code":"%s"}', email, code)
  return wrk.format("POST", "/emailauth.auth.v1.AuthService/VerifyLogin",
    { ["content-type"] = "application/json", ["authorization"] = "Bearer " .. key }, body)
end
function response(status, headers, body)
  -- Stop while every in-flight request still has a code of its own.
  if i >= #pairs_ - 64 then wrk.thread:stop() end
end
done = report
