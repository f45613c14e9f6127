-- wrk has no request-rate option: each connection waits between its requests
-- (wrk's delay hook) for a random time with mean BENCH_DELAY_MS, exponential,
-- so N connections make about N * 1000 / BENCH_DELAY_MS requests per second
-- and arrive as independent clients would (a Poisson stream), not in step.
-- A fixed delay keeps the connections in phase: all of them send at the same
-- instant, and the latency measured is that of a burst, not of the rate.
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

function delay()
  -- 1 - random() is in (0, 1]; capped at 10 means against a rare long wait.
  local w = -d * math.log(1 - math.random())
  if w > 10 * d then w = 10 * d end
  return math.floor(w + 0.5)
end
