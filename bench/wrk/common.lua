-- Shared by the benchmark's wrk scripts: each thread's number (1..threads) as `tid`, and one
-- JSON line with the figures at the end.
local threads = 0
function number_threads(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function report(summary, latency, requests)
  local s = summary
  local errors = s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout + s.errors.status
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"timeouts":%d,' ..
    '"p50Ms":%.3f,"p95Ms":%.3f,"p99Ms":%.3f,"maxMs":%.3f,"meanMs":%.3f}\n',
    s.requests, s.duration, errors, s.errors.status, s.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
