#include "kv/effect.h"

#include "common/byte_codec.h"

namespace fjord::kv {

void encode_effects(const std::vector<Effect>& effects, std::string& out) {
    size_t size = out.size();
    for (const Effect& e : effects) size += 1 + 4 + e.key.size() + 4 + e.value.size() + 8;
    out.reserve(size);  // one allocation, not one per doubling
    ByteWriter w(out);
    for (const Effect& e : effects) {
        w.u8(static_cast<uint8_t>(e.kind));
        if (e.kind == Effect::Kind::flush) continue;
        w.bytes(e.key);
        if (e.kind == Effect::Kind::put) w.bytes(e.value);
        if (e.kind != Effect::Kind::del) w.i64(e.expire_at_ms);
    }
}

Result<Ok, std::string> decode_effects(std::string_view bytes, std::vector<EffectView>& out) {
    ByteReader r(bytes);
    out.clear();
    while (r.ok() && r.remaining() > 0) {
        EffectView e;
        uint8_t kind = r.u8("effect kind");
        if (kind < 1 || kind > 4) {
            r.fail("unknown effect kind " + std::to_string(kind));
            break;
        }
        e.kind = static_cast<Effect::Kind>(kind);
        if (e.kind != Effect::Kind::flush) {
            e.key = r.bytes("key");
            if (e.kind == Effect::Kind::put) e.value = r.bytes("value");
            if (e.kind != Effect::Kind::del) e.expire_at_ms = r.i64("expiry");
        }
        out.push_back(e);
    }
    if (!r.ok()) return make_unexpected(r.error());
    return Ok{};
}

}  // namespace fjord::kv
