-- Attribute releases: each request asks for a different citizen (paths written by bench_seed), with
-- the bench department's bearer token from BENCH_TOKEN.
local token = os.getenv("BENCH_TOKEN")
local paths = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  counter = math.random(#paths)
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter], { ["Authorization"] = "Bearer " .. token })
end
