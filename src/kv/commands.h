// The Redis commands fjord knows: their names, arity and class (for routing
// and for COMMAND), and what each does to one shard. Evaluation is pure: a
// write is turned into its reply and the effects to replicate, against a view
// of the shard's keys and the leader's clock; a read is answered from a store.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "kv/effect.h"
#include "kv/kv_store.h"
#include "kv/resp.h"

namespace fjord::kv {

enum class CommandClass : uint8_t {
    connection,  // answered by the node that received it (PING, INFO, WAIT, ...)
    read,        // one key: runs on its shard
    write,
    multi_read,   // several keys (MGET, EXISTS): split by shard, answers merged
    multi_write,  // MSET, DEL: split by shard, atomic per shard
    keyspace,     // every shard (KEYS, SCAN, DBSIZE, FLUSHDB)
};

struct CommandSpec {
    std::string_view name;  // lower case, as COMMAND reports it
    int arity;              // Redis's convention: -N means at least N, the name included
    CommandClass cls;
    bool write;
    int first_key, last_key, key_step;  // for COMMAND; 0 when there are no keys
};

// The spec of a command named in any case, or null.
const CommandSpec* find_command(std::string_view name);
const std::vector<CommandSpec>& command_table();
bool arity_ok(const CommandSpec& spec, size_t argc);

// A shard's keys as a write sees them.
class KeyView {
  public:
    virtual ~KeyView() = default;
    virtual const Value* find(std::string_view key, int64_t now_ms) const = 0;
};

struct Evaluation {
    Reply reply;
    std::vector<Effect> effects;
};

struct Limits {
    size_t max_value_bytes{8u << 20};
};

// A write command (name already checked to be one) against one shard.
Evaluation evaluate_write(const Command& command, const KeyView& view, int64_t now_ms, const Limits& limits);
// A read command against one shard. Internal form of SCAN: SCAN <hash> [MATCH p] [COUNT n], answered as
// [next hash or "done", [keys...]].
Reply evaluate_read(const Command& command, const KvStore& store, int64_t now_ms);
// evaluate_read()'s reply, appended to `out` in RESP; a GET's value is encoded
// straight from the store. `spec` is the command's (find_command), which the
// caller has looked up already.
void encode_read(const CommandSpec& spec, const Command& command, const KvStore& store, int64_t now_ms,
                 std::string& out);

// Upper-cases ASCII in place (command names are case-insensitive).
std::string upper(std::string_view s);
bool parse_int64(std::string_view s, int64_t& out);

}  // namespace fjord::kv
