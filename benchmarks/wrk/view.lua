-- wrk -s view.lua: GET one path (BENCH_PATH) as fast as the connections go, signed in (BENCH_AUTH), and at
-- the end one line of JSON with the latency percentiles wrk's own summary leaves out (p95), in milliseconds.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
local bearer = os.getenv("BENCH_AUTH")
if bearer and bearer ~= "" then wrk.headers["Authorization"] = bearer end

done = function(summary, latency, requests)
  io.write(string.format(
    'VIEWBENCH {"requests": %d, "seconds": %.3f, "non_2xx": %d, "errors": %d, '
      .. '"p50": %.3f, "p95": %.3f, "p99": %.3f, "max": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
