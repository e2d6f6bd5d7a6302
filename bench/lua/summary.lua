-- Shared by the wrk scripts: print the run's figures as one JSON line for bench/lib.py.
-- Scripts that pace their requests keep a count of late ones in each thread ("late").
bench_threads = {}

function done(summary, latency, requests)
   local e = summary.errors
   local late = 0
   for _, thread in ipairs(bench_threads) do
      late = late + (thread:get("late") or 0)
   end
   io.write(string.format(
      'BENCH-WRK {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
      '"write_errors":%d,"status_errors":%d,"timeouts":%d,"late":%d,' ..
      '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, late,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
