-- The ceiling: POST a small JSON body to a bare node:http server.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require("common")
wrk.method = "POST"
wrk.body = '{"email":"ceiling@bench.example"}'
wrk.headers["content-type"] = "application/json"
done = report
