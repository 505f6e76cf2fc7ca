// One shard's keys and values, as every replica holds them: changed only by
// applying replicated effects (kv/effect.h), in log order. Expiry times are
// absolute and come with the effects; the store itself never expires a key
// (the leader decides, and replicates a delete), it only tells whether a key
// is past its time for whoever reads.
//
// Keys are ordered by a 32-bit hash and then by the key itself, so that SCAN
// can resume from a hash value: a key present for the whole scan is returned
// whatever is added or removed meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/effect.h"

namespace fjord::kv {

struct Value {
    std::string data;
    int64_t expire_at_ms{0};  // 0: never
    bool expired(int64_t now_ms) const { return expire_at_ms != 0 && expire_at_ms <= now_ms; }
};

uint32_t key_hash(std::string_view key);

class KvStore {
  public:
    // The value of `key`, unless it is missing or past its expiry at `now_ms`.
    const Value* find(std::string_view key, int64_t now_ms) const;
    void apply(const EffectView& effect);

    // Keys including those past their expiry but not yet deleted.
    size_t size() const { return _keys.size(); }
    size_t live_size(int64_t now_ms) const;

    struct ScanPage {
        std::vector<std::string> keys;
        std::optional<uint32_t> next;  // where to resume; none once the shard is done
    };
    // Live keys whose hash is at least `from`, matching `pattern` (a glob; empty: all), about `count` of
    // them: a page ends only between two hash values, so resuming neither skips nor repeats a key.
    ScanPage scan(uint32_t from, size_t count, std::string_view pattern, int64_t now_ms) const;
    // Keys past their expiry at `now_ms`, at most `max`, earliest first.
    std::vector<std::string> expired_keys(int64_t now_ms, size_t max) const;

    // The whole state, for a snapshot; restore() replaces the state with one
    // and returns false (leaving the store empty) if `image` is malformed.
    std::string image() const;
    bool restore(std::string_view image);

    // The same image built a piece at a time while the store keeps changing,
    // so that a large one does not hold up the event loop: it shows the
    // state as of begin_image(). A key changed before the build reaches it
    // keeps its old value aside for the build (only while one runs).
    // A new begin_image(), abandon_image() or restore() drops a build in progress.
    void begin_image();
    void abandon_image();
    bool imaging() const { return _build != nullptr; }
    // Adds keys, up to `max_keys` of them and about `max_bytes`; the whole
    // image once done (and the build ends). Only while imaging().
    std::optional<std::string> continue_image(size_t max_keys, size_t max_bytes);

  private:
    struct Slot {
        uint32_t hash;
        std::string key;
    };
    struct SlotView {
        uint32_t hash;
        std::string_view key;
    };
    struct SlotLess {
        using is_transparent = void;
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const {
            return a.hash != b.hash ? a.hash < b.hash : std::string_view(a.key) < std::string_view(b.key);
        }
    };
    using Keys = std::map<Slot, Value, SlotLess>;
    struct ImageBuild {
        std::string out;
        uint64_t count{0};
        std::optional<Slot> written_upto;  // the last key written
        // Keys changed ahead of the build since it began, with their value
        // then (none: the key did not exist).
        std::map<Slot, std::optional<Value>, SlotLess> before;
    };
    void erase_expiry(std::string_view key, int64_t expire_at_ms);
    // Keeps `at`'s value (or its absence, at end()) aside for the build
    // before the key at `slot` changes; moves it when `take`.
    void keep_for_image(const SlotView& slot, Keys::iterator at, bool take);

    Keys _keys;
    std::unique_ptr<ImageBuild> _build;
    size_t _last_image_bytes{0};
    std::set<std::pair<int64_t, std::string>> _expiries;  // (expire_at_ms, key) of keys with an expiry
};

}  // namespace fjord::kv
