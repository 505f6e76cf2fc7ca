// What a key-value write does to a shard, as replicated: the leader turns each
// command into effects (absolute expiry times, computed values), so that
// every replica applies them identically, with no clock or state of its own.
// One command's effects are one record of the shard's record batch:
//
//   put:    [u8 1][bytes key][bytes value][i64 expire_at_ms]
//   del:    [u8 2][bytes key]
//   expire: [u8 3][bytes key][i64 expire_at_ms]   (0: no expiry)
//   flush:  [u8 4]
//
// Integers are big-endian, bytes a u32 length then the bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kv {

struct Effect {
    enum class Kind : uint8_t { put = 1, del = 2, expire = 3, flush = 4 };
    Kind kind{Kind::put};
    std::string key;
    std::string value;
    int64_t expire_at_ms{0};  // wall-clock milliseconds; 0: never
    bool operator==(const Effect&) const = default;
};

// An effect as decoded, pointing into the record it came from: replicas
// apply effects without copying them first.
struct EffectView {
    Effect::Kind kind{Effect::Kind::put};
    std::string_view key;
    std::string_view value;
    int64_t expire_at_ms{0};
    EffectView() = default;
    EffectView(const Effect& e) : kind(e.kind), key(e.key), value(e.value), expire_at_ms(e.expire_at_ms) {}
};

void encode_effects(const std::vector<Effect>& effects, std::string& out);
// Replaces `out` with the effects of one record; they stay valid while `bytes` does.
Result<Ok, std::string> decode_effects(std::string_view bytes, std::vector<EffectView>& out);

}  // namespace fjord::kv
