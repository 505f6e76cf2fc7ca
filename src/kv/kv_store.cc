#include "kv/kv_store.h"

#include <algorithm>
#include <cassert>
#include <iterator>

#include "common/big_endian.h"
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

void KvStore::keep_for_image(const SlotView& slot, Keys::iterator at, bool take) {
    if (_build->written_upto && !SlotLess()(*_build->written_upto, slot)) return;  // written already
    if (_build->before.contains(slot)) return;  // kept when it first changed
    std::optional<Value> then;
    if (at != _keys.end()) then = take ? std::move(at->second) : at->second;
    _build->before.emplace(Slot{slot.hash, std::string(slot.key)}, std::move(then));
}

void KvStore::apply(const EffectView& e) {
    if (_build && e.kind == Effect::Kind::flush) {
        // Every key the build has not reached yet is kept aside as it is.
        auto from = _build->written_upto ? _keys.upper_bound(*_build->written_upto) : _keys.begin();
        for (auto it = from; it != _keys.end(); ++it)
            _build->before.try_emplace(it->first, std::move(it->second));
    } else if (_build) {
        SlotView slot{key_hash(e.key), e.key};
        auto at = _keys.find(slot);
        // A delete or an expiry of a missing key changes nothing; a put or a
        // delete replaces the value, which can be moved aside, not copied.
        if (at != _keys.end() || e.kind == Effect::Kind::put)
            keep_for_image(slot, at, e.kind != Effect::Kind::expire);
    }
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

namespace {

void write_image_head(std::string& out, uint64_t count) {
    ByteWriter w(out);
    w.u8(kImageVersion);
    w.u64(count);
}

void write_image_entry(std::string& out, std::string_view key, const Value& value) {
    ByteWriter w(out);
    w.bytes(key);
    w.bytes(value.data);
    w.i64(value.expire_at_ms);
}

}  // namespace

std::string KvStore::image() const {
    std::string out;
    write_image_head(out, _keys.size());
    for (const auto& [slot, value] : _keys) write_image_entry(out, slot.key, value);
    return out;
}

void KvStore::begin_image() {
    _build = std::make_unique<ImageBuild>();
    // The last image's size: the buffer is not copied over and over as it grows.
    _build->out.reserve(_last_image_bytes + _last_image_bytes / 8);
    write_image_head(_build->out, 0);  // the count is filled in at the end
}

void KvStore::abandon_image() {
    _build.reset();
}

std::optional<std::string> KvStore::continue_image(size_t max_keys, size_t max_bytes) {
    assert(_build && "continue_image() without a build in progress");
    ImageBuild& b = *_build;
    size_t started_at = b.out.size();
    // The next key is the smaller of the store's and the kept-aside ones'; a
    // key in both was changed since the build began: its kept value wins.
    auto now = b.written_upto ? _keys.upper_bound(*b.written_upto) : _keys.begin();
    auto kept = b.written_upto ? b.before.upper_bound(*b.written_upto) : b.before.begin();
    const Slot* last = nullptr;
    for (size_t n = 0; n < max_keys && b.out.size() - started_at < max_bytes; ++n) {
        bool have_now = now != _keys.end(), have_kept = kept != b.before.end();
        if (!have_now && !have_kept) break;
        if (have_kept && (!have_now || !SlotLess()(now->first, kept->first))) {
            if (have_now && !SlotLess()(kept->first, now->first)) ++now;
            if (kept->second) {
                write_image_entry(b.out, kept->first.key, *kept->second);
                ++b.count;
            }
            last = &kept->first;
            ++kept;
        } else {
            write_image_entry(b.out, now->first.key, now->second);
            ++b.count;
            last = &now->first;
            ++now;
        }
    }
    if (now != _keys.end() || kept != b.before.end()) {
        if (last) b.written_upto = *last;
        b.before.erase(b.before.begin(), kept);  // behind the build now
        return std::nullopt;
    }
    std::string out = std::move(b.out);
    be::store(out.data() + 1, b.count, 8);
    _build.reset();
    _last_image_bytes = out.size();
    return out;
}

bool KvStore::restore(std::string_view image) {
    _build.reset();
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
