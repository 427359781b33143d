-- Shared by the scripts below: one report body with a unique report_id, as the field app sends it.
-- BENCH_CATEGORIES (comma-separated codes) and BENCH_OBSERVED (ISO time) come from throughput_bench.py.
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local codes = {}
for code in string.gmatch(os.getenv("BENCH_CATEGORIES") or "10101", "[^,]+") do codes[#codes + 1] = code end
local observed = os.getenv("BENCH_OBSERVED") or "2026-12-01T01:00:00Z"
local reporter = os.getenv("BENCH_REPORTER")  -- the signed-in user's name, when the API wants a token

local function uuid()
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x", math.random(0, 0xffffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), math.random(0x8000, 0xbfff), math.random(0, 0xffff), math.random(0, 0xffffffff))
end

function report_body()
  return string.format('{"report_id":"%s","reporter_id":"%s","category":"%s","description":"井盖缺失",'
    .. '"location":{"lon":%.6f,"lat":%.6f,"accuracy_m":8,"crs":"wgs84"},"observed_at":"%s"}',
    uuid(), reporter or string.format("wg%04d", math.random(1, 400)), codes[math.random(1, #codes)],
    121.50 + math.random() * 0.22, 38.86 + math.random() * 0.12, observed)
end

function authorize()
  local bearer = os.getenv("BENCH_AUTH")
  if bearer and bearer ~= "" then wrk.headers["Authorization"] = bearer end
end
