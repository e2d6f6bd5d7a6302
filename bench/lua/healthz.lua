-- GET /healthz: the bare Django JSON view the assignment endpoint is compared with.
dofile(os.getenv("BENCH_LUA_DIR") .. "/summary.lua")
