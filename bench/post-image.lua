-- wrk -s bench/post-image.lua: POSTs one distinct 1×28×28 image per request, as API_KEY (docs/replicas.md)
local n = 784
local counter = 0
local key = os.getenv("API_KEY") or "ht-alice-0123456789abcdef"
request = function()
  counter = counter + 1
  local px = {}
  px[1] = string.format("%.8f", (counter % 256) / 256)
  px[2] = string.format("%.8f", (math.floor(counter / 256) % 256) / 256)
  for j = 3, n do px[j] = "0.5" end
  local body = '{"images": [[' .. table.concat(px, ",") .. ']]}'
  return wrk.format("POST", "/v1/predict", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
