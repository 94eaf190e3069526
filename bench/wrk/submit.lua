-- POST /api/v1/tickets with a requester token taken in turn from BENCH_TOKENS (one per line).
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local categories = { "legal_registration", "funding", "financial_management", "capacity_building",
  "partnership_networking", "advocacy", "visibility", "other" }
local n = math.random(1, 1000000)

request = function()
  n = n + 1
  local body = string.format(
    '{"subject":"Bench request %d","body":"We need help with our grant budget annex (%d).","category":"%s"}',
    n, n, categories[n % #categories + 1])
  return wrk.format("POST", "/api/v1/tickets",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1] }, body)
end
