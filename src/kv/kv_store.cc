#include "kv/kv_store.h"

#include <algorithm>
#include <iterator>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "kv/glob.h"

namespace fjord::kv {

namespace {
constexpr uint8_t kImageVersion = 1;
// How much larger than a new value an old buffer may be and still be reused.
constexpr size_t kReusedSlackBytes = 256;
}  // namespace

uint32_t key_hash(std::string_view key) {
    return crc32c(key);
}

const Value* KvStore::find(std::string_view key, int64_t now_ms) const {
    auto it = _keys.find(SlotView{key_hash(key), key});
    if (it == _keys.end() || it->second.expired(now_ms)) return nullptr;
    return &it->second;
}

void KvStore::erase_expiry(std::string_view key, int64_t expire_at_ms) {
    if (expire_at_ms != 0) _expiries.erase({expire_at_ms, std::string(key)});
}

void KvStore::apply(const EffectView& e) {
    switch (e.kind) {
        case Effect::Kind::put: {
            // Overwrites in place: a key written again costs no allocation.
            uint32_t hash = key_hash(e.key);
            auto it = _keys.find(SlotView{hash, e.key});
            if (it == _keys.end()) {
                it = _keys.try_emplace(Slot{hash, std::string(e.key)}).first;
            } else {
                erase_expiry(e.key, it->second.expire_at_ms);
            }
            // In place when the old buffer fits without hoarding: a key that
            // once held a large value must not keep its memory.
            std::string& data = it->second.data;
            if (data.capacity() > 2 * e.value.size() + kReusedSlackBytes) {
                data.clear();
                data.shrink_to_fit();  // (assigning a new string would keep the buffer)
            }
            data.assign(e.value);
            it->second.expire_at_ms = e.expire_at_ms;
            if (e.expire_at_ms != 0) _expiries.emplace(e.expire_at_ms, e.key);
            break;
        }
        case Effect::Kind::del: {
            auto it = _keys.find(SlotView{key_hash(e.key), e.key});
            if (it == _keys.end()) break;
            erase_expiry(e.key, it->second.expire_at_ms);
            _keys.erase(it);
            break;
        }
        case Effect::Kind::expire: {
            auto it = _keys.find(SlotView{key_hash(e.key), e.key});
            if (it == _keys.end()) break;
            erase_expiry(e.key, it->second.expire_at_ms);
            it->second.expire_at_ms = e.expire_at_ms;
            if (e.expire_at_ms != 0) _expiries.emplace(e.expire_at_ms, e.key);
            break;
        }
        case Effect::Kind::flush:
            _keys.clear();
            _expiries.clear();
            break;
    }
}

size_t KvStore::live_size(int64_t now_ms) const {
    size_t expired = 0;
    for (auto it = _expiries.begin(); it != _expiries.end() && it->first <= now_ms; ++it) ++expired;
    return _keys.size() - expired;
}

KvStore::ScanPage KvStore::scan(uint32_t from, size_t count, std::string_view pattern, int64_t now_ms) const {
    ScanPage page;
    count = std::max<size_t>(count, 1);
    size_t visited = 0;
    auto it = _keys.lower_bound(SlotView{from, std::string_view()});
    for (; it != _keys.end(); ++it) {
        // Stop only where the hash changes, so that the next page starts cleanly.
        if (visited >= count && it->first.hash != std::prev(it)->first.hash) {
            page.next = it->first.hash;
            return page;
        }
        ++visited;
        if (it->second.expired(now_ms)) continue;
        if (!pattern.empty() && !glob_match(pattern, it->first.key)) continue;
        page.keys.push_back(it->first.key);
    }
    return page;
}

std::vector<std::string> KvStore::expired_keys(int64_t now_ms, size_t max) const {
    std::vector<std::string> keys;
    for (auto it = _expiries.begin(); it != _expiries.end() && it->first <= now_ms && keys.size() < max; ++it)
        keys.push_back(it->second);
    return keys;
}

std::string KvStore::image() const {
    std::string out;
    ByteWriter w(out);
    w.u8(kImageVersion);
    w.u64(_keys.size());
    for (const auto& [slot, value] : _keys) {
        w.bytes(slot.key);
        w.bytes(value.data);
        w.i64(value.expire_at_ms);
    }
    return out;
}

bool KvStore::restore(std::string_view image) {
    _keys.clear();
    _expiries.clear();
    ByteReader r(image);
    if (r.u8("version") != kImageVersion) return false;
    uint64_t count = r.u64("count");
    for (uint64_t i = 0; i < count && r.ok(); ++i) {
        EffectView put;
        put.key = r.bytes("key");
        put.value = r.bytes("value");
        put.expire_at_ms = r.i64("expiry");
        if (r.ok()) apply(put);
    }
    r.expect_end();
    if (r.ok()) return true;
    _keys.clear();
    _expiries.clear();
    return false;
}

}  // namespace fjord::kv
