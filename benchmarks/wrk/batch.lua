-- wrk -s batch.lua: POST /api/v1/reports/batch with BENCH_BATCH (500) new reports per request.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require("reports")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
authorize()
local size = tonumber(os.getenv("BENCH_BATCH") or "500")
request = function()
  local items = {}
  for i = 1, size do items[i] = report_body() end
  return wrk.format(nil, "/api/v1/reports/batch", nil, '{"reports":[' .. table.concat(items, ",") .. "]}")
end
