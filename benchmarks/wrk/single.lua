-- wrk -s single.lua: POST /api/v1/reports, one new report per request, as fast as the connections go.
-- With BENCH_DELAY_MS set, each connection waits that long between requests: c connections then offer about
-- c * 1000 / BENCH_DELAY_MS requests per second (a steady rate, for latency at a given load).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require("reports")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
authorize()
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
request = function() return wrk.format(nil, "/api/v1/reports", nil, report_body()) end
if pause > 0 then delay = function() return pause end end
