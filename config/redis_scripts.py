"""The Lua scripts of ``config.layers.RedisLayer``: the same keys and message
format as channels_redis, in fewer round trips."""

from __future__ import annotations

from redis.commands.core import AsyncScript

# KEYS[1]: the group; ARGV[1]: memberships added before this are stale;
# ARGV[2]: "1" if the group ends with this message (``group_send_last``).
_MEMBERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if ARGV[2] == '1' then
    redis.call('DEL', KEYS[1])
end
"""
GROUP_MEMBERS = _MEMBERS + "return members\n"

# KEYS: channel keys; ARGV: a message for each, a capacity for each, then the
# time now, the keys' expiry and the time before which messages are stale.
# The stock layer's send: drop stale messages, refuse a full channel, add.
SEND_EACH = """
local n = #KEYS
local now, expiry, stale = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3]
local over = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, stale)
    if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over = over + 1
    end
end
return over
"""


# One group send, all in Redis. KEYS[1]: the group; KEYS[2], if given: a group
# its members join as they are sent to. ARGV: memberships added before
# ARGV[1] are stale; ARGV[2] "1" if the group ends with this message; ARGV[3]
# a channel not sent to ("" for none); ARGV[4] the channel keys' prefix;
# ARGV[5] the message's msgpack bytes with the random prefix, up to the
# ``__asgi_channel__`` key (its value, the list of the channels it is for on
# that key, is packed here); ARGV[6] a channel's capacity; ARGV[7] the time
# now; ARGV[8] the channel keys' expiry; ARGV[9] messages before this are
# stale; ARGV[10] the groups' expiry. A channel's key, as the stock layer
# makes it: the prefix and the name up to its "!" (a process's channels
# share one key), or the whole name.
GROUP_SEND = (
    _MEMBERS
    + """
if KEYS[2] and #members > 0 then
    for _, member in ipairs(members) do
        redis.call('ZADD', KEYS[2], ARGV[7], member)
    end
    redis.call('EXPIRE', KEYS[2], ARGV[10])
end
local keys, channels = {}, {}
for _, member in ipairs(members) do
    if member ~= ARGV[3] then
        local bang = string.find(member, '!', 1, true)
        local key = ARGV[4] .. (bang and string.sub(member, 1, bang) or member)
        if channels[key] == nil then
            channels[key] = {}
            keys[#keys + 1] = key
        end
        table.insert(channels[key], member)
    end
end
local over = 0
for _, key in ipairs(keys) do
    redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[9])
    if redis.call('ZCARD', key) < tonumber(ARGV[6]) then
        redis.call('ZADD', key, ARGV[7], ARGV[5] .. cmsgpack.pack(channels[key]))
        redis.call('EXPIRE', key, ARGV[8])
    else
        over = over + 1
    end
end
return over
"""
)

# KEYS[1]: the group; ARGV[1]: the channel, ARGV[2] the time now, ARGV[3]
# the group's expiry.
GROUP_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""

# Run by digest, loaded on first use: one object a script, not one a call.
_SCRIPTS = {
    text: AsyncScript(None, text.encode())
    for text in (GROUP_MEMBERS, SEND_EACH, GROUP_SEND, GROUP_ADD)
}


def run_script(text: str, client, keys: list, args: list):
    """Run one of the scripts above on ``client`` (a coroutine)."""
    return _SCRIPTS[text](keys=keys, args=args, client=client)
