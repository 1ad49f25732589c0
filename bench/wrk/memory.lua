-- wrk script for machvm's memory endpoints (and the baseline app's copies of them).
--   wrk ... -s bench/wrk/memory.lua -- MODE TASK BASE SIZE SLOTS
-- MODE  write: PUT  /tasks/TASK/memory/ADDR (application/octet-stream body of SIZE bytes)   -> vm_write
--       read:  GET  /tasks/TASK/memory/ADDR?size=SIZE (Accept: application/octet-stream)    -> vm_read
--       copy:  POST /tasks/TASK/copy {"sourceAddress","size":SIZE,"destAddress"}            -> vm_copy
--       batchwrite / batchread: POST /tasks/TASK/batch with CALLS (6th argument, default 16) vm_write calls of SIZE
--              bytes (base64) / vm_read calls of SIZE bytes, at consecutive walk positions           -> batch
-- Addresses walk SLOTS slots of SIZE bytes from BASE (decimal), each thread from its own start, so reads hit
-- pages that run.sh wrote beforehand. copy moves slot i to slot i+SLOTS/2.
-- done() prints one line "WRKJSON {...}" that run.sh parses.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local mode, task, base, size, slots, i, stride, status_bad, calls, data64

function init(args)
  mode = args[1]
  task = args[2]
  base = tonumber(args[3])
  size = tonumber(args[4])
  slots = tonumber(args[5])
  -- threads start far apart; stride 7919 (prime) spreads consecutive requests over the region
  i = (tid or 1) * 104729
  stride = 7919
  status_bad = 0
  if mode == "write" then
    wrk.method = "PUT"
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.body = string.rep("m", size)
  elseif mode == "read" then
    wrk.method = "GET"
    wrk.headers["Accept"] = "application/octet-stream"
    wrk.body = nil
  elseif mode == "copy" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  elseif mode == "batchwrite" or mode == "batchread" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    calls = tonumber(args[6] or "16")
    -- base64 of SIZE bytes of "m" (0x6d): "bW1t" per 3 bytes, then the padded rest
    local rest = size % 3
    data64 = string.rep("bW1t", math.floor(size / 3)) .. (rest == 1 and "bQ==" or (rest == 2 and "bW0=" or ""))
  else
    error("unknown mode " .. tostring(mode))
  end
end

local function slot_address(k)
  return base + (k % slots) * size
end

function request()
  i = i + stride
  if mode == "write" then
    return wrk.format(nil, string.format("/tasks/%s/memory/%.0f", task, slot_address(i)))
  elseif mode == "read" then
    return wrk.format(nil, string.format("/tasks/%s/memory/%.0f?size=%d", task, slot_address(i), size))
  elseif mode == "batchwrite" or mode == "batchread" then
    local parts = {}
    for k = 1, calls do
      if k > 1 then
        i = i + stride
      end
      if mode == "batchwrite" then
        parts[k] = string.format('{"call":"vm_write","address":"%.0f","data":"%s"}', slot_address(i), data64)
      else
        parts[k] = string.format('{"call":"vm_read","address":"%.0f","size":"%d"}', slot_address(i), size)
      end
    end
    local body = '{"atomic":false,"calls":[' .. table.concat(parts, ",") .. ']}'
    return wrk.format(nil, string.format("/tasks/%s/batch", task), nil, body)
  else
    local half = math.floor(slots / 2)
    local src = slot_address(i % half)
    local dst = slot_address(i % half + half)
    local body = string.format('{"sourceAddress":"%.0f","size":"%d","destAddress":"%.0f"}', src, size, dst)
    return wrk.format(nil, string.format("/tasks/%s/copy", task), nil, body)
  end
end

function response(status, headers, body)
  if calls and status == 200 and body and string.find(body, '"status":[45]%d%d') then
    status = 207 -- a call of the batch failed: counted as an error
  end
  if status >= 300 then
    status_bad = status_bad + 1
    if status_bad <= 3 then
      io.stderr:write("HTTP " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
