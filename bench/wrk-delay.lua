-- wrk has no request-rate option: each connection waits BENCH_DELAY_MS
-- between its requests (wrk's delay hook), so N connections make about
-- N * 1000 / BENCH_DELAY_MS requests per second.
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
function delay()
  return d
end
