-- GCRA (governor's semantics), one or more buckets checked in order, atomically.
-- KEYS[i]      bucket key (per-IP first, then the route's)
-- ARGV[2i-1]   T   = emission interval, microseconds (period / n)
-- ARGV[2i]     tau = T * (burst - 1), microseconds
-- Returns {0, 0} if allowed (a cell taken from every bucket),
--      or {i, retry_after_us}: refused by bucket i (buckets before i were charged).
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5 only; no-op on 7
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
for i, key in ipairs(KEYS) do
  local t = tonumber(ARGV[2 * i - 1])
  local tau = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local allow_at = tat - tau
  if now < allow_at then
    return {i, allow_at - now}
  end
  local new_tat = tat + t
  -- the key is only needed while new_tat is in the future: then a missing key == tat = now
  redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000))
end
return {0, 0}
