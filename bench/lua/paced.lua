-- Assignments (as assign.lua) at a fixed rate: BENCH_RATE requests a second per wrk thread.
-- Request k is due at start + k / rate; a connection that is free waits for the next due
-- time (wrk's delay()), so the rate does not follow the server's speed. A request sent more
-- than 1 ms after its due time (every connection was still waiting for an answer) is counted
-- as late. Use at most as many connections as gunicorn has sync workers: a sync worker that
-- accepts a connection waits on it, so more idle connections would hold requests back.
dofile(os.getenv("BENCH_LUA_DIR") .. "/assign.lua")

local ffi = require("ffi") -- wrk embeds LuaJIT
ffi.cdef([[
   typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
   int clock_gettime(int clock_id, bench_timespec *tp);
]])
local now_buffer = ffi.new("bench_timespec")
local function now_ms()
   ffi.C.clock_gettime(1, now_buffer) -- CLOCK_MONOTONIC
   return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local interval = 1000 / tonumber(os.getenv("BENCH_RATE"))
local start = nil
local due_count = 0
late = 0

function delay()
   local now = now_ms()
   start = start or now
   local due = start + due_count * interval
   due_count = due_count + 1
   if now - due > 1 then
      late = late + 1
   end
   local wait = due - now
   if wait <= 0 then
      return 0
   end
   return math.floor(wait + 0.5)
end
