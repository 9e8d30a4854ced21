-- Token grants: every request carries a different single-use client assertion (a replayed jti
-- would be refused), so each thread takes its own share of the pre-signed lines.
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  bodies = {}
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == tid then bodies[#bodies + 1] = line end
    i = i + 1
  end
  idx = 0
end

function request()
  idx = idx + 1
  local body = bodies[idx] or bodies[#bodies]
  return wrk.format("POST", "/oauth2/token", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
