//! The Lua scripts that make lock operations atomic on the server.
//!
//! Tokens stay strings inside Lua: Lua numbers are doubles, and a token
//! seeded from the clock in microseconds must never pass through a float
//! (a large double may print in exponent form). The counter is read back
//! with `GET` after `INCR` for that reason.

/// Takes a free lock, or reports the holder and records a pre-emption
/// request when a decision-path request meets an automatic holder.
///
/// KEYS: lock hash, fence counter. ARGV: priority, holder, ttl in ms.
/// Returns `{acquired (0|1), token, priority, holder, preempt ("0"|"1")}`.
///
/// A missing fence counter (first use, or Redis lost its data in a restart
/// without persistence, or evicted it) is seeded from the server clock in
/// microseconds before the increment. Without that, a Redis that restarted
/// empty would hand out token 1 again while a paused holder of an earlier,
/// larger token may still act; with it, tokens keep increasing as long as
/// fewer than one million were issued per second of the counter's lifetime.
pub(crate) const ACQUIRE: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'token', 'priority', 'holder', 'preempt')
if cur[1] then
  local preempt = '0'
  if cur[4] == '1' then preempt = '1' end
  if ARGV[1] == 'decision' and cur[2] == 'automatic' and preempt == '0' then
    redis.call('HSET', KEYS[1], 'preempt', '1')
    preempt = '1'
  end
  return {0, cur[1], cur[2] or '', cur[3] or '', preempt}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], now[1] .. string.rep('0', 6 - #now[2]) .. now[2])
end
redis.call('INCR', KEYS[2])
local token = redis.call('GET', KEYS[2])
redis.call('HSET', KEYS[1], 'token', token, 'priority', ARGV[1], 'holder', ARGV[2], 'preempt', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, token, ARGV[1], ARGV[2], '0'}
";

/// Resets the TTL of the lock only if `token` is current.
///
/// KEYS: lock hash. ARGV: token, ttl in ms. Returns 1 if extended, else 0.
pub(crate) const EXTEND: &str = r"
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Deletes the lock only if `token` is current. The fence counter stays.
///
/// KEYS: lock hash. ARGV: token. Returns 1 if released, else 0.
pub(crate) const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";
