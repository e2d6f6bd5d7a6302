-- POST /api/v1/assignments with a different caller on every request, so that every request
-- hashes a new unit into its bucket (as a router's traffic does).
dofile(os.getenv("BENCH_LUA_DIR") .. "/summary.lua")

local agent = os.getenv("BENCH_AGENT")
local headers = {
   ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"),
   ["Content-Type"] = "application/json",
}
local sent = 0

function setup(thread)
   table.insert(bench_threads, thread)
   thread:set("thread_number", #bench_threads)
end

function request()
   sent = sent + 1
   local caller = string.format("+1%02d%09d", thread_number or 0, sent)
   local body = '{"agent":"' .. agent .. '","caller":"' .. caller .. '"}'
   return wrk.format("POST", "/api/v1/assignments", headers, body)
end
