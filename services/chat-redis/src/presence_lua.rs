//! The Lua scripts of presence; each runs atomically in Redis and reads the
//! clock of Redis (`TIME`), in milliseconds.
//!
//! Keys: a user's set of connections is `{prefix}online:{user}` (members
//! `{node}:{conn}:{device}` scored with their expiry), and the index
//! `{prefix}online_index` scores each user with the latest expiry of its
//! members. The sweep script builds the users' keys itself from the prefix,
//! so the keys of one deployment must live on one Redis node (no cluster).

/// `KEYS[1]`: the user's set; `KEYS[2]`: the index; `ARGV[1]`: the
/// connection's member; `ARGV[2]`: the TTL in ms; `ARGV[3]`: the user.
/// Drops expired members, (re)scores this one, sets the key to expire with
/// the latest member and indexes the user with that expiry. Returns 1 when
/// the user had no live connection before.
pub(crate) const TOUCH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = function(x) return string.format('%.0f', x) end
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ms(now), '+inf')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms(now))
redis.call('ZADD', KEYS[1], ms(now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('ZADD', KEYS[2], last[2], ARGV[3])
if live == 0 then return 1 end
return 0
";

/// `KEYS[1]`: the user's set; `KEYS[2]`: the index; `ARGV[1]`: the
/// connection's member; `ARGV[2]`: the user. Removes the member and the
/// expired ones. While live members remain, the index keeps their latest
/// expiry and 0 is returned. Otherwise the user leaves the index, and 1 is
/// returned when the user is to be announced offline now: the member was
/// still there or the user was indexed, that is the sweeper has not
/// announced it already.
pub(crate) const LEAVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last > 0 then
  redis.call('ZADD', KEYS[2], last[2], ARGV[2])
  return 0
end
local indexed = redis.call('ZREM', KEYS[2], ARGV[2])
if gone + indexed > 0 then return 1 end
return 0
";

/// `KEYS[1]`: the index; `ARGV[1]`: the key prefix; `ARGV[2]`: how many
/// users at most. Takes the indexed users whose latest expiry has passed;
/// for each, removes the expired members of its set. A user left with live
/// members is indexed again with their latest expiry; a user left with none
/// leaves the index and is returned as `{user, expiry}`, the expiry being
/// that of its latest member (or its index score when the set is gone).
/// Since the index entry goes in the same step, one caller only gets each.
pub(crate) const SWEEP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = string.format('%.0f', now)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff,
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local offline = {}
for i = 1, #due, 2 do
  local user = due[i]
  local key = ARGV[1] .. 'online:' .. user
  local at = tonumber(due[i + 1])
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local left = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #left > 0 then
    redis.call('ZADD', KEYS[1], left[2], user)
  else
    redis.call('ZREM', KEYS[1], user)
    if #top > 0 then at = tonumber(top[2]) end
    offline[#offline + 1] = {user, at}
  end
end
return offline
";

/// `KEYS[1]`: the user's set. Returns how many of its members are live.
pub(crate) const LIVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
";

/// `KEYS[1]`: the user's set. Returns its live members, in score order.
pub(crate) const LIVE_MEMBERS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
";
