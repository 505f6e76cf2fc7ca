#include "kv/commands.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include "kv/glob.h"

namespace fjord::kv {

namespace {

using C = CommandClass;

const std::vector<CommandSpec> kCommands = {
    {"ping", -1, C::connection, false, 0, 0, 0},
    {"echo", 2, C::connection, false, 0, 0, 0},
    {"select", 2, C::connection, false, 0, 0, 0},
    {"quit", 1, C::connection, false, 0, 0, 0},
    {"info", -1, C::connection, false, 0, 0, 0},
    {"command", -1, C::connection, false, 0, 0, 0},
    {"client", -2, C::connection, false, 0, 0, 0},
    {"config", -2, C::connection, false, 0, 0, 0},
    {"hello", -1, C::connection, false, 0, 0, 0},
    {"wait", 3, C::connection, false, 0, 0, 0},
    {"readonly", 1, C::connection, false, 0, 0, 0},
    {"readwrite", 1, C::connection, false, 0, 0, 0},
    {"writemode", -1, C::connection, false, 0, 0, 0},
    {"readmode", -1, C::connection, false, 0, 0, 0},
    {"get", 2, C::read, false, 1, 1, 1},
    {"strlen", 2, C::read, false, 1, 1, 1},
    {"ttl", 2, C::read, false, 1, 1, 1},
    {"pttl", 2, C::read, false, 1, 1, 1},
    {"type", 2, C::read, false, 1, 1, 1},
    {"set", -3, C::write, true, 1, 1, 1},
    {"setnx", 3, C::write, true, 1, 1, 1},
    {"getset", 3, C::write, true, 1, 1, 1},
    {"incr", 2, C::write, true, 1, 1, 1},
    {"decr", 2, C::write, true, 1, 1, 1},
    {"incrby", 3, C::write, true, 1, 1, 1},
    {"decrby", 3, C::write, true, 1, 1, 1},
    {"append", 3, C::write, true, 1, 1, 1},
    {"expire", 3, C::write, true, 1, 1, 1},
    {"pexpire", 3, C::write, true, 1, 1, 1},
    {"persist", 2, C::write, true, 1, 1, 1},
    {"mget", -2, C::multi_read, false, 1, -1, 1},
    {"exists", -2, C::multi_read, false, 1, -1, 1},
    {"mset", -3, C::multi_write, true, 1, -1, 2},
    {"del", -2, C::multi_write, true, 1, -1, 1},
    {"unlink", -2, C::multi_write, true, 1, -1, 1},
    {"keys", 2, C::keyspace, false, 0, 0, 0},
    {"scan", -2, C::keyspace, false, 0, 0, 0},
    {"dbsize", 1, C::keyspace, false, 0, 0, 0},
    {"flushdb", -1, C::keyspace, true, 0, 0, 0},
    {"flushall", -1, C::keyspace, true, 0, 0, 0},
    // The simple line protocol of single-master stores: PUT key value, READ key, DELETE key.
    {"put", 3, C::write, true, 1, 1, 1},
    {"read", 2, C::read, false, 1, 1, 1},
    {"delete", -2, C::multi_write, true, 1, -1, 1},
};

const std::string kNotInteger = "ERR value is not an integer or out of range";

Reply syntax_error() {
    return Reply::error("ERR syntax error");
}

Effect put(std::string key, std::string value, int64_t expire_at_ms) {
    return Effect{Effect::Kind::put, std::move(key), std::move(value), expire_at_ms};
}
Effect del(std::string key) {
    return Effect{Effect::Kind::del, std::move(key), {}, 0};
}

Reply too_large(const Limits& limits) {
    return Reply::error("ERR value is larger than the maximum of " + std::to_string(limits.max_value_bytes) +
                        " bytes");
}

Reply bulk_or_nil(const Value* v) {
    return v ? Reply::bulk(v->data) : Reply::nil();
}

// A write's answer and its one effect, moved in: a braced {effect} list
// would copy the effect's key and value once more.
Evaluation change(Reply reply, Effect effect) {
    Evaluation e{std::move(reply), {}};
    e.effects.reserve(1);
    e.effects.push_back(std::move(effect));
    return e;
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
Evaluation set(const Command& c, const KeyView& view, int64_t now, const Limits& limits) {
    bool nx = false, xx = false, get = false, keepttl = false;
    int64_t expire_at = 0;
    bool has_expiry = false;
    for (size_t i = 3; i < c.size(); ++i) {
        std::string opt = upper(c[i]);
        if (opt == "NX" && !xx) {
            nx = true;
        } else if (opt == "XX" && !nx) {
            xx = true;
        } else if (opt == "GET") {
            get = true;
        } else if (opt == "KEEPTTL" && !has_expiry) {
            keepttl = true;
        } else if ((opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && !has_expiry &&
                   !keepttl && i + 1 < c.size()) {
            int64_t n = 0;
            if (!parse_int64(c[++i], n)) return {Reply::error(kNotInteger), {}};
            bool seconds = opt == "EX" || opt == "EXAT";
            if (n <= 0 || (seconds && n > std::numeric_limits<int64_t>::max() / 1000))
                return {Reply::error("ERR invalid expire time in 'set' command"), {}};
            int64_t ms = seconds ? n * 1000 : n;
            bool relative = opt == "EX" || opt == "PX";
            if (relative && ms > std::numeric_limits<int64_t>::max() - now)
                return {Reply::error("ERR invalid expire time in 'set' command"), {}};
            expire_at = relative ? now + ms : ms;
            has_expiry = true;
        } else {
            return {syntax_error(), {}};
        }
    }
    if (c[2].size() > limits.max_value_bytes) return {too_large(limits), {}};
    const Value* old = view.find(c[1], now);
    Reply reply = get ? bulk_or_nil(old) : Reply::ok();
    if ((nx && old) || (xx && !old)) return {get ? reply : Reply::nil(), {}};
    if (keepttl && old) expire_at = old->expire_at_ms;
    return change(std::move(reply), put(c[1], c[2], expire_at));
}

Evaluation incr_by(const Command& c, const KeyView& view, int64_t now, int64_t delta) {
    const Value* old = view.find(c[1], now);
    int64_t current = 0;
    if (old && !parse_int64(old->data, current)) return {Reply::error(kNotInteger), {}};
    if ((delta > 0 && current > std::numeric_limits<int64_t>::max() - delta) ||
        (delta < 0 && current < std::numeric_limits<int64_t>::min() - delta))
        return {Reply::error("ERR increment or decrement would overflow"), {}};
    int64_t next = current + delta;
    return change(Reply::integer_of(next), put(c[1], std::to_string(next), old ? old->expire_at_ms : 0));
}

Evaluation expire(const Command& c, const KeyView& view, int64_t now, bool seconds) {
    int64_t n = 0;
    if (!parse_int64(c[2], n)) return {Reply::error(kNotInteger), {}};
    if (seconds &&
        (n > std::numeric_limits<int64_t>::max() / 1000 || n < std::numeric_limits<int64_t>::min() / 1000))
        return {Reply::error("ERR invalid expire time in '" + std::string(seconds ? "expire" : "pexpire") +
                             "' command"),
                {}};
    int64_t ms = seconds ? n * 1000 : n;
    const Value* old = view.find(c[1], now);
    if (!old) return {Reply::integer_of(0), {}};
    // A time already past deletes the key, as in Redis.
    if (ms <= 0) return change(Reply::integer_of(1), del(c[1]));
    if (ms > std::numeric_limits<int64_t>::max() - now)
        return {Reply::error("ERR invalid expire time in '" + std::string(seconds ? "expire" : "pexpire") +
                             "' command"),
                {}};
    return change(Reply::integer_of(1), Effect{Effect::Kind::expire, c[1], {}, now + ms});
}

}  // namespace

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& ch : out) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return out;
}

bool parse_int64(std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 20 || s[0] == '+') return false;
    // No leading zeros ("01", "-0", "-01"), as in Redis's string2ll.
    if (s.size() > 1 && (s[0] == '0' || (s[0] == '-' && s[1] == '0'))) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

const CommandSpec* find_command(std::string_view name) {
    // Lower-cased into a small buffer: every command passes here several times.
    char lower[16];
    if (name.empty() || name.size() > sizeof(lower)) return nullptr;
    for (size_t i = 0; i < name.size(); ++i) {
        char ch = name[i];
        lower[i] = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
    }
    std::string_view wanted(lower, name.size());
    // The table, bucketed by first letter, so a lookup compares a few names, not all.
    static const auto by_letter = [] {
        std::array<std::vector<const CommandSpec*>, 26> buckets;
        // A name not starting with a-z would be in no bucket, and found by no
        // lookup: CommandsTest's every-name lookup fails on it.
        for (const CommandSpec& spec : kCommands) {
            if (spec.name[0] >= 'a' && spec.name[0] <= 'z')
                buckets[static_cast<size_t>(spec.name[0] - 'a')].push_back(&spec);
        }
        return buckets;
    }();
    if (wanted[0] < 'a' || wanted[0] > 'z') return nullptr;
    for (const CommandSpec* spec : by_letter[static_cast<size_t>(wanted[0] - 'a')]) {
        if (spec->name == wanted) return spec;
    }
    return nullptr;
}

const std::vector<CommandSpec>& command_table() {
    return kCommands;
}

bool arity_ok(const CommandSpec& spec, size_t argc) {
    return spec.arity >= 0 ? argc == static_cast<size_t>(spec.arity)
                           : argc >= static_cast<size_t>(-spec.arity);
}

Evaluation evaluate_write(const Command& c, const KeyView& view, int64_t now, const Limits& limits) {
    std::string name = upper(c[0]);
    if (name == "SET") return set(c, view, now, limits);
    if (name == "PUT") return set({c[0], c[1], c[2]}, view, now, limits);
    if (name == "SETNX" || name == "GETSET") {
        if (c[2].size() > limits.max_value_bytes) return {too_large(limits), {}};
        const Value* old = view.find(c[1], now);
        if (name == "SETNX") {
            if (old) return {Reply::integer_of(0), {}};
            return change(Reply::integer_of(1), put(c[1], c[2], 0));
        }
        return change(bulk_or_nil(old), put(c[1], c[2], 0));
    }
    if (name == "MSET") {
        if (c.size() % 2 != 1) return {Reply::error("ERR wrong number of arguments for 'mset' command"), {}};
        Evaluation e{Reply::ok(), {}};
        for (size_t i = 1; i + 1 < c.size(); i += 2) {
            if (c[i + 1].size() > limits.max_value_bytes) return {too_large(limits), {}};
            e.effects.push_back(put(c[i], c[i + 1], 0));
        }
        return e;
    }
    if (name == "DEL" || name == "UNLINK" || name == "DELETE") {
        Evaluation e;
        int64_t deleted = 0;
        std::vector<std::string_view> seen;
        for (size_t i = 1; i < c.size(); ++i) {
            if (std::find(seen.begin(), seen.end(), c[i]) != seen.end()) continue;
            seen.push_back(c[i]);
            if (!view.find(c[i], now)) continue;
            ++deleted;
            e.effects.push_back(del(c[i]));
        }
        e.reply = Reply::integer_of(deleted);
        return e;
    }
    if (name == "INCR") return incr_by(c, view, now, 1);
    if (name == "DECR") return incr_by(c, view, now, -1);
    if (name == "INCRBY" || name == "DECRBY") {
        int64_t delta = 0;
        if (!parse_int64(c[2], delta)) return {Reply::error(kNotInteger), {}};
        if (name == "DECRBY") {
            if (delta == std::numeric_limits<int64_t>::min())
                return {Reply::error("ERR decrement would overflow"), {}};
            delta = -delta;
        }
        return incr_by(c, view, now, delta);
    }
    if (name == "APPEND") {
        const Value* old = view.find(c[1], now);
        std::string value = old ? old->data + c[2] : c[2];
        if (value.size() > limits.max_value_bytes) return {too_large(limits), {}};
        auto length = static_cast<int64_t>(value.size());
        return change(Reply::integer_of(length), put(c[1], std::move(value), old ? old->expire_at_ms : 0));
    }
    if (name == "EXPIRE") return expire(c, view, now, true);
    if (name == "PEXPIRE") return expire(c, view, now, false);
    if (name == "PERSIST") {
        const Value* old = view.find(c[1], now);
        if (!old || old->expire_at_ms == 0) return {Reply::integer_of(0), {}};
        return change(Reply::integer_of(1), Effect{Effect::Kind::expire, c[1], {}, 0});
    }
    if (name == "FLUSHDB" || name == "FLUSHALL") {
        if (c.size() > 2 || (c.size() == 2 && upper(c[1]) != "ASYNC" && upper(c[1]) != "SYNC"))
            return {syntax_error(), {}};
        return change(Reply::ok(), Effect{Effect::Kind::flush, {}, {}, 0});
    }
    return {Reply::error("ERR unknown write command '" + c[0] + "'"), {}};
}

void encode_read(const CommandSpec& spec, const Command& c, const KvStore& store, int64_t now,
                 std::string& out) {
    if (spec.name == "get" && c.size() == 2) {
        const Value* v = store.find(c[1], now);
        return encode_bulk(v ? &v->data : nullptr, out);
    }
    encode_reply(evaluate_read(c, store, now), out);
}

Reply evaluate_read(const Command& c, const KvStore& store, int64_t now) {
    std::string name = upper(c[0]);
    if (name == "GET" || name == "READ") return bulk_or_nil(store.find(c[1], now));
    if (name == "STRLEN") {
        const Value* v = store.find(c[1], now);
        return Reply::integer_of(v ? static_cast<int64_t>(v->data.size()) : 0);
    }
    if (name == "TYPE") return Reply::simple(store.find(c[1], now) ? "string" : "none");
    if (name == "TTL" || name == "PTTL") {
        const Value* v = store.find(c[1], now);
        if (!v) return Reply::integer_of(-2);
        if (v->expire_at_ms == 0) return Reply::integer_of(-1);
        int64_t left = v->expire_at_ms - now;
        return Reply::integer_of(name == "TTL" ? (left + 500) / 1000 : left);
    }
    if (name == "MGET") {
        std::vector<Reply> values;
        for (size_t i = 1; i < c.size(); ++i) values.push_back(bulk_or_nil(store.find(c[i], now)));
        return Reply::array(std::move(values));
    }
    if (name == "EXISTS") {
        int64_t n = 0;
        for (size_t i = 1; i < c.size(); ++i) n += store.find(c[i], now) ? 1 : 0;
        return Reply::integer_of(n);
    }
    if (name == "DBSIZE") return Reply::integer_of(static_cast<int64_t>(store.live_size(now)));
    if (name == "KEYS") {
        auto page = store.scan(0, std::numeric_limits<size_t>::max(), c[1], now);
        std::vector<Reply> keys;
        for (std::string& k : page.keys) keys.push_back(Reply::bulk(std::move(k)));
        return Reply::array(std::move(keys));
    }
    if (name == "SCAN") {
        int64_t from = 0, count = 10;
        std::string pattern;
        if (!parse_int64(c[1], from) || from < 0 || from > std::numeric_limits<uint32_t>::max())
            return Reply::error("ERR invalid cursor");
        for (size_t i = 2; i + 1 < c.size(); i += 2) {
            std::string opt = upper(c[i]);
            if (opt == "MATCH") {
                pattern = c[i + 1];
            } else if (opt == "COUNT") {
                if (!parse_int64(c[i + 1], count)) return Reply::error(kNotInteger);
                if (count < 1) return syntax_error();
            } else {
                return syntax_error();
            }
        }
        if (c.size() % 2 != 0) return syntax_error();
        auto page = store.scan(static_cast<uint32_t>(from), static_cast<size_t>(count), pattern, now);
        std::vector<Reply> keys;
        for (std::string& k : page.keys) keys.push_back(Reply::bulk(std::move(k)));
        return Reply::array(
            {Reply::bulk(page.next ? std::to_string(*page.next) : "done"), Reply::array(std::move(keys))});
    }
    return Reply::error("ERR unknown read command '" + c[0] + "'");
}

}  // namespace fjord::kv
