// A shard's store: effects applied in order, expiry decided by the reader's
// clock (the store never expires anything itself), SCAN pages that resume by
// hash without skipping or repeating a key, and snapshot images.
#include "kv/kv_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "seeded_rng.h"

namespace fjord::kv {
namespace {

using namespace std::string_literals;

Effect put(std::string key, std::string value, int64_t expire_at_ms = 0) {
    return Effect{Effect::Kind::put, std::move(key), std::move(value), expire_at_ms};
}
Effect del(std::string key) {
    return Effect{Effect::Kind::del, std::move(key), {}, 0};
}
Effect expire(std::string key, int64_t expire_at_ms) {
    return Effect{Effect::Kind::expire, std::move(key), {}, expire_at_ms};
}
Effect flush() {
    return Effect{Effect::Kind::flush, {}, {}, 0};
}

constexpr int64_t kNow = 1'000'000;

// The value of `key` at `now`, or "<none>".
std::string get(const KvStore& store, std::string_view key, int64_t now = kNow) {
    const Value* v = store.find(key, now);
    return v ? v->data : "<none>";
}

// Every key a full scan in pages of `count` returns, in order, and how many pages it took.
std::vector<std::string> scan_all(const KvStore& store, size_t count, std::string_view pattern = "",
                                  int64_t now = kNow, int* pages = nullptr) {
    std::vector<std::string> keys;
    uint32_t from = 0;
    int n = 0;
    for (;;) {
        auto page = store.scan(from, count, pattern, now);
        ++n;
        keys.insert(keys.end(), page.keys.begin(), page.keys.end());
        if (!page.next) break;
        EXPECT_GT(*page.next, from) << "the cursor must move forward";
        if (*page.next <= from) break;
        from = *page.next;
    }
    if (pages) *pages = n;
    return keys;
}

std::string key_of(int i) {
    return "key:" + std::to_string(i);
}

TEST(KvStoreTest, KeyHashIsCrc32c) {
    EXPECT_EQ(key_hash("123456789"), 0xE3069283u);
    EXPECT_EQ(key_hash(""), 0u);
}

TEST(KvStoreTest, PutThenFind) {
    KvStore store;
    EXPECT_EQ(store.find("k", kNow), nullptr);
    store.apply(put("k", "v"));
    ASSERT_NE(store.find("k", kNow), nullptr);
    EXPECT_EQ(store.find("k", kNow)->data, "v");
    EXPECT_EQ(store.find("k", kNow)->expire_at_ms, 0);
    EXPECT_EQ(store.size(), 1u);
}

TEST(KvStoreTest, PutOverwritesValueAndExpiry) {
    KvStore store;
    store.apply(put("k", "v1", kNow + 100));
    store.apply(put("k", "v2"));
    EXPECT_EQ(get(store, "k"), "v2");
    EXPECT_EQ(store.find("k", kNow)->expire_at_ms, 0);
    EXPECT_EQ(store.size(), 1u);
    // The old expiry is forgotten: the key never turns up as expired.
    EXPECT_TRUE(store.expired_keys(kNow + 1000, 10).empty());
    EXPECT_EQ(get(store, "k", kNow + 1000), "v2");
}

// A key that once held a large value does not keep that memory once it
// holds a small one.
TEST(KvStoreTest, OverwritingALargeValueWithASmallOneFreesItsMemory) {
    KvStore store;
    store.apply(put("k", std::string(1 << 20, 'x')));
    store.apply(put("k", "small"));
    EXPECT_EQ(get(store, "k"), "small");
    EXPECT_LT(store.find("k", kNow)->data.capacity(), 4096u);
    // A value of about the same size is written in place.
    store.apply(put("k", "other"));
    EXPECT_EQ(get(store, "k"), "other");
}

TEST(KvStoreTest, EmptyAndBinaryKeysAndValues) {
    KvStore store;
    store.apply(put("", ""));
    store.apply(put("a\0b"s, "\0\xff"s));
    EXPECT_EQ(get(store, ""), "");
    EXPECT_EQ(get(store, "a\0b"s), "\0\xff"s);
    EXPECT_EQ(get(store, "a"), "<none>");
    EXPECT_EQ(store.size(), 2u);
}

TEST(KvStoreTest, DelRemovesAndIgnoresMissingKeys) {
    KvStore store;
    store.apply(put("a", "1"));
    store.apply(put("b", "2", kNow + 10));
    store.apply(del("a"));
    store.apply(del("missing"));
    EXPECT_EQ(get(store, "a"), "<none>");
    EXPECT_EQ(get(store, "b"), "2");
    EXPECT_EQ(store.size(), 1u);
    store.apply(del("b"));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_TRUE(store.expired_keys(kNow + 100, 10).empty()) << "a deleted key's expiry goes with it";
}

TEST(KvStoreTest, ExpireSetsChangesAndClearsTheExpiry) {
    KvStore store;
    store.apply(put("k", "v"));
    store.apply(expire("k", kNow + 50));
    EXPECT_EQ(store.find("k", kNow)->expire_at_ms, kNow + 50);
    EXPECT_EQ(store.find("k", kNow)->data, "v") << "expire keeps the value";
    store.apply(expire("k", kNow + 500));
    EXPECT_EQ(get(store, "k", kNow + 100), "v") << "the later expiry replaced the earlier one";
    EXPECT_EQ(store.expired_keys(kNow + 100, 10), std::vector<std::string>{});
    store.apply(expire("k", 0));
    EXPECT_EQ(store.find("k", kNow)->expire_at_ms, 0);
    EXPECT_EQ(get(store, "k", std::numeric_limits<int64_t>::max()), "v");
    EXPECT_TRUE(store.expired_keys(std::numeric_limits<int64_t>::max(), 10).empty());
}

TEST(KvStoreTest, ExpireOfAMissingKeyDoesNothing) {
    KvStore store;
    store.apply(expire("k", kNow + 50));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_TRUE(store.expired_keys(kNow + 100, 10).empty());
    // A later put of the key has no expiry from the ignored effect.
    store.apply(put("k", "v"));
    EXPECT_EQ(get(store, "k", kNow + 100), "v");
}

TEST(KvStoreTest, FlushClearsEverything) {
    KvStore store;
    for (int i = 0; i < 20; ++i) store.apply(put(key_of(i), "v", i % 2 ? kNow + i : 0));
    store.apply(flush());
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.live_size(kNow), 0u);
    EXPECT_TRUE(store.expired_keys(std::numeric_limits<int64_t>::max(), 100).empty());
    EXPECT_TRUE(scan_all(store, 10).empty());
    store.apply(put("after", "1"));
    EXPECT_EQ(get(store, "after"), "1");
}

TEST(KvStoreTest, FindHidesKeysPastExpiryButSizeCountsThemUntilDeleted) {
    KvStore store;
    store.apply(put("short", "s", kNow + 10));
    store.apply(put("long", "l", kNow + 1000));
    store.apply(put("forever", "f"));

    EXPECT_EQ(get(store, "short", kNow + 9), "s");
    EXPECT_EQ(get(store, "short", kNow + 10), "<none>") << "a key expires at its time, not after";
    EXPECT_EQ(get(store, "long", kNow + 10), "l");
    EXPECT_EQ(store.size(), 3u);
    EXPECT_EQ(store.live_size(kNow + 9), 3u);
    EXPECT_EQ(store.live_size(kNow + 10), 2u);
    EXPECT_EQ(store.live_size(kNow + 1000), 1u);
    // The store is not changed by reading it at a later time.
    EXPECT_EQ(get(store, "short", kNow), "s");
    EXPECT_EQ(store.size(), 3u);

    store.apply(del("short"));
    EXPECT_EQ(store.size(), 2u);
    EXPECT_EQ(store.live_size(kNow + 10), 2u);
}

TEST(KvStoreTest, PutRevivesAnExpiredKey) {
    KvStore store;
    store.apply(put("k", "old", kNow));
    EXPECT_EQ(get(store, "k"), "<none>");
    store.apply(put("k", "new"));
    EXPECT_EQ(get(store, "k"), "new");
    EXPECT_EQ(store.live_size(kNow), 1u);
    EXPECT_TRUE(store.expired_keys(kNow, 10).empty());
}

TEST(KvStoreTest, ExpiredKeysComeEarliestFirstUpToMax) {
    KvStore store;
    store.apply(put("c", "v", kNow + 30));
    store.apply(put("a", "v", kNow + 10));
    store.apply(put("b", "v", kNow + 20));
    store.apply(put("b2", "v", kNow + 20));
    store.apply(put("z", "v", kNow + 100));
    store.apply(put("never", "v"));

    EXPECT_TRUE(store.expired_keys(kNow, 10).empty());
    EXPECT_EQ(store.expired_keys(kNow + 10, 10), std::vector<std::string>{"a"});
    EXPECT_EQ(store.expired_keys(kNow + 30, 10), (std::vector<std::string>{"a", "b", "b2", "c"}));
    EXPECT_EQ(store.expired_keys(kNow + 30, 2), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(store.expired_keys(kNow + 30, 0).empty());
    EXPECT_EQ(store.expired_keys(kNow + 1000, 100), (std::vector<std::string>{"a", "b", "b2", "c", "z"}));

    // Deleting and re-expiring keys keeps the list exact.
    store.apply(del("a"));
    store.apply(expire("c", kNow + 5));
    store.apply(expire("b", 0));
    EXPECT_EQ(store.expired_keys(kNow + 30, 10), (std::vector<std::string>{"c", "b2"}));
}

TEST(KvStoreTest, LiveSizeAgreesWithFindAfterManyChanges) {
    KvStore store;
    for (int i = 0; i < 300; ++i) {
        switch (i % 5) {
            case 0:
                store.apply(put(key_of(i), "v"));
                break;
            case 1:
                store.apply(put(key_of(i), "v", kNow + i));
                break;
            case 2:  // re-put with an earlier expiry
                store.apply(put(key_of(i - 1), "w", kNow - i));
                break;
            case 3:
                store.apply(expire(key_of(i - 3), kNow + 2 * i));
                break;
            case 4:
                store.apply(del(key_of(i - 3)));
                break;
        }
    }
    for (int64_t now : {kNow - 1000, kNow, kNow + 100, kNow + 300, kNow + 1000}) {
        size_t live = 0;
        for (int i = 0; i < 300; ++i) live += store.find(key_of(i), now) ? 1 : 0;
        EXPECT_EQ(store.live_size(now), live) << "at " << now;
        EXPECT_EQ(store.size() - store.expired_keys(now, 1000).size(), live) << "at " << now;
    }
}

TEST(KvStoreTest, ScanOfAnEmptyStoreIsDone) {
    KvStore store;
    auto page = store.scan(0, 10, "", kNow);
    EXPECT_TRUE(page.keys.empty());
    EXPECT_FALSE(page.next.has_value());
    page = store.scan(std::numeric_limits<uint32_t>::max(), 10, "", kNow);
    EXPECT_TRUE(page.keys.empty());
    EXPECT_FALSE(page.next.has_value());
}

TEST(KvStoreTest, ScanInOnePageReturnsEveryKeyInHashOrder) {
    KvStore store;
    for (int i = 0; i < 50; ++i) store.apply(put(key_of(i), "v"));
    auto page = store.scan(0, 1000, "", kNow);
    EXPECT_FALSE(page.next.has_value());
    ASSERT_EQ(page.keys.size(), 50u);
    for (size_t i = 1; i < page.keys.size(); ++i)
        EXPECT_LE(key_hash(page.keys[i - 1]), key_hash(page.keys[i])) << "keys come in hash order";
}

TEST(KvStoreTest, ScanPagesReturnEveryKeyExactlyOnce) {
    KvStore store;
    std::set<std::string> expected;
    for (int i = 0; i < 2000; ++i) {
        store.apply(put(key_of(i), "v"));
        expected.insert(key_of(i));
    }
    uint32_t from = 0;
    std::multiset<std::string> seen;
    int pages = 0;
    for (;;) {
        auto page = store.scan(from, 7, "", kNow);
        ++pages;
        for (const std::string& k : page.keys) {
            seen.insert(k);
            EXPECT_GE(key_hash(k), from) << "a page holds only keys at or after its cursor";
        }
        if (!page.next) break;
        EXPECT_GE(page.keys.size(), 7u) << "a page that is not the last returns at least COUNT live keys";
        ASSERT_GT(*page.next, from);
        for (const std::string& k : page.keys) EXPECT_LT(key_hash(k), *page.next);
        from = *page.next;
    }
    EXPECT_EQ(seen.size(), expected.size());
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
    for (const std::string& k : expected) EXPECT_EQ(seen.count(k), 1u) << k;
    EXPECT_GE(pages, 2000 / 8) << "COUNT bounds the page size (about)";
    EXPECT_LE(pages, 2000 / 7 + 1);
}

TEST(KvStoreTest, ScanWithCountZeroStillMakesProgress) {
    KvStore store;
    for (int i = 0; i < 30; ++i) store.apply(put(key_of(i), "v"));
    int pages = 0;
    auto keys = scan_all(store, 0, "", kNow, &pages);
    EXPECT_EQ(keys.size(), 30u);
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 30u);
    EXPECT_EQ(pages, 30);
}

TEST(KvStoreTest, KeysPresentThroughoutAScanAreReturnedExactlyOnceWhateverChangesMeanwhile) {
    KvStore store;
    std::set<std::string> stable;
    for (int i = 0; i < 2000; ++i) {
        store.apply(put("stable:" + std::to_string(i), "v"));
        stable.insert("stable:" + std::to_string(i));
    }
    for (int i = 0; i < 1000; ++i) store.apply(put("doomed:" + std::to_string(i), "v"));

    std::map<std::string, int> seen;
    uint32_t from = 0;
    int page_no = 0, added = 0, removed = 0;
    for (;;) {
        auto page = store.scan(from, 7, "", kNow);
        for (const std::string& k : page.keys) ++seen[k];
        if (!page.next) break;
        ASSERT_GT(*page.next, from);
        from = *page.next;
        // Between pages: add new keys (anywhere in hash order) and remove old ones.
        for (int j = 0; j < 5; ++j) store.apply(put("new:" + std::to_string(added++), "v"));
        for (int j = 0; j < 3 && removed < 1000; ++j) store.apply(del("doomed:" + std::to_string(removed++)));
        // And overwrite a stable key, which must not move it.
        store.apply(
            put("stable:" + std::to_string((page_no * 13) % 2000), "w", page_no % 2 ? kNow + 1000000 : 0));
        ++page_no;
    }
    for (const std::string& k : stable) EXPECT_EQ(seen[k], 1) << k;
    for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << "returned more than once: " << k;
    EXPECT_GT(added, 0);
    EXPECT_GT(removed, 0);
}

TEST(KvStoreTest, ScanSkipsExpiredKeysButKeepsGoing) {
    KvStore store;
    for (int i = 0; i < 100; ++i) store.apply(put(key_of(i), "v", i % 3 == 0 ? kNow : 0));
    auto keys = scan_all(store, 5);
    std::set<std::string> expected;
    for (int i = 0; i < 100; ++i)
        if (i % 3 != 0) expected.insert(key_of(i));
    EXPECT_EQ(keys.size(), expected.size());
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
    // Earlier, the same keys were all live.
    EXPECT_EQ(scan_all(store, 5, "", kNow - 1).size(), 100u);
}

TEST(KvStoreTest, ScanMatchFiltersByGlob) {
    KvStore store;
    std::set<std::string> users;
    for (int i = 0; i < 300; ++i) {
        std::string user = "user:" + std::to_string(i);
        store.apply(put(user, "u"));
        users.insert(user);
        store.apply(put("order:" + std::to_string(i), "o"));
    }
    store.apply(put("user", "not a match"));
    auto keys = scan_all(store, 7, "user:*");
    EXPECT_EQ(keys.size(), users.size());
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), users);

    keys = scan_all(store, 1000, "user:1?");
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
              (std::set<std::string>{"user:10", "user:11", "user:12", "user:13", "user:14", "user:15",
                                     "user:16", "user:17", "user:18", "user:19"}));
    EXPECT_TRUE(scan_all(store, 7, "nothing*").empty());
    EXPECT_EQ(scan_all(store, 7, "*").size(), 601u);
    EXPECT_EQ(scan_all(store, 7, "").size(), 601u) << "an empty pattern matches everything";
}

TEST(KvStoreTest, ScanCountsNonMatchingKeysTowardThePage) {
    // COUNT is about work done, not keys returned (as in Redis): a page may come back empty.
    KvStore store;
    for (int i = 0; i < 100; ++i) store.apply(put(key_of(i), "v"));
    auto page = store.scan(0, 5, "nothing*", kNow);
    EXPECT_TRUE(page.keys.empty());
    EXPECT_TRUE(page.next.has_value());
}

// Two distinct keys with the same CRC-32C (0x42a9b353), found offline by a birthday search. CRC-32C is
// linear, so keys that differ in few bytes never collide and a search here would take seconds.
const std::string kCollideA = "collide:82c490b18386b539";
const std::string kCollideB = "collide:846da43b98d32499";

TEST(KvStoreTest, APageNeverSplitsKeysOfOneHash) {
    const std::string& a = kCollideA;
    const std::string& b = kCollideB;
    ASSERT_NE(a, b);
    ASSERT_EQ(key_hash(a), key_hash(b));
    KvStore store;
    store.apply(put(a, "1"));
    store.apply(put(b, "2"));
    store.apply(put("other", "3"));
    // With COUNT 1, the page that reaches the pair must hold both, and the cursor move past them.
    std::multiset<std::string> seen;
    uint32_t from = 0;
    for (;;) {
        auto page = store.scan(from, 1, "", kNow);
        bool has_a = std::find(page.keys.begin(), page.keys.end(), a) != page.keys.end();
        bool has_b = std::find(page.keys.begin(), page.keys.end(), b) != page.keys.end();
        EXPECT_EQ(has_a, has_b) << "the pair was split between pages";
        seen.insert(page.keys.begin(), page.keys.end());
        if (!page.next) break;
        ASSERT_GT(*page.next, from);
        from = *page.next;
    }
    EXPECT_EQ(seen, (std::multiset<std::string>{a, b, "other"}));
    // Resuming at the pair's hash returns both, whatever the page size.
    auto page = store.scan(key_hash(a), 1, "", kNow);
    EXPECT_TRUE(std::find(page.keys.begin(), page.keys.end(), a) != page.keys.end());
    EXPECT_TRUE(std::find(page.keys.begin(), page.keys.end(), b) != page.keys.end());
    // And they are distinct keys.
    EXPECT_EQ(get(store, a), "1");
    EXPECT_EQ(get(store, b), "2");
    store.apply(del(a));
    EXPECT_EQ(get(store, a), "<none>");
    EXPECT_EQ(get(store, b), "2");
}

TEST(KvStoreTest, ImageRestoreRoundTripsValuesAndExpiries) {
    KvStore store;
    for (int i = 0; i < 500; ++i)
        store.apply(put(key_of(i), "value " + std::to_string(i), i % 4 ? 0 : kNow + i));
    store.apply(put("", "empty key"));
    store.apply(put("bin\0key"s, "\0\r\n"s));
    store.apply(put("past", "p", kNow - 1));  // expired, not yet deleted: the image keeps it
    std::string image = store.image();

    KvStore copy;
    copy.apply(put("stale", "gone after restore", kNow + 5));
    ASSERT_TRUE(copy.restore(image));
    EXPECT_EQ(copy.size(), store.size());
    EXPECT_EQ(get(copy, "stale"), "<none>");
    EXPECT_EQ(copy.image(), image);
    for (int64_t now : {kNow - 10, kNow, kNow + 100, kNow + 1000}) {
        EXPECT_EQ(copy.live_size(now), store.live_size(now));
        EXPECT_EQ(copy.expired_keys(now, 1000), store.expired_keys(now, 1000));
        EXPECT_EQ(scan_all(copy, 7, "", now), scan_all(store, 7, "", now));
    }
    for (int i = 0; i < 500; ++i) {
        const Value* v = copy.find(key_of(i), kNow - 10);
        ASSERT_NE(v, nullptr) << key_of(i);
        EXPECT_EQ(v->data, "value " + std::to_string(i));
        EXPECT_EQ(v->expire_at_ms, i % 4 ? 0 : kNow + i);
    }
    EXPECT_EQ(get(copy, ""), "empty key");
    EXPECT_EQ(get(copy, "bin\0key"s), "\0\r\n"s);
    EXPECT_EQ(get(copy, "past", kNow - 2), "p");
    EXPECT_EQ(copy.expired_keys(kNow, 1), std::vector<std::string>{"past"});
}

// An image built a few keys at a time while effects keep arriving equals the
// image taken at once when the build began: puts, overwrites, deletes,
// expiries and flushes ahead of the build, behind it and on its very key.
TEST(KvStoreTest, AnImageBuiltInStepsShowsTheStateWhenItBegan) {
    for (uint64_t seed = 1; seed <= 200; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        testing::SeededRng rng(seed);
        KvStore store;
        auto random_key = [&] { return key_of(static_cast<int>(rng.range(0, 300))); };
        for (int i = 0; i < 200; ++i) store.apply(put(random_key(), "v" + std::to_string(i)));
        std::string expected = store.image();
        store.begin_image();
        std::optional<std::string> built;
        for (int step = 0; !built; ++step) {
            ASSERT_LT(step, 1000) << "the build never ends";
            for (uint64_t n = rng.range(0, 20); n > 0; --n) {
                uint64_t what = rng.range(0, 99);
                if (what < 50) {
                    store.apply(put(random_key(), "w" + std::to_string(step), rng.chance(20) ? kNow + 5 : 0));
                } else if (what < 80) {
                    store.apply(del(random_key()));
                } else if (what < 98) {
                    store.apply(expire(random_key(), kNow + static_cast<int64_t>(rng.range(0, 9))));
                } else {
                    store.apply(flush());
                }
            }
            built = store.continue_image(rng.range(1, 40), rng.chance(30) ? 40 : SIZE_MAX);
        }
        EXPECT_EQ(*built, expected);
        EXPECT_FALSE(store.imaging()) << "the build ended with its image";
        // Afterwards changes are no longer kept aside, and a new build sees them.
        store.apply(put("after", "x"));
        store.begin_image();
        std::optional<std::string> next;
        for (int step = 0; !next && step < 1000; ++step) next = store.continue_image(1000, SIZE_MAX);
        ASSERT_TRUE(next) << "the second build never ends";
        EXPECT_EQ(*next, store.image());
    }
}

// A step stops at its byte budget as well as at its key count: large values
// are written a few at a time (the step that crosses the budget ends it).
TEST(KvStoreTest, AnImageStepStopsAtItsByteBudget) {
    KvStore store;
    for (int i = 0; i < 10; ++i) store.apply(put(key_of(i), std::string(1000, 'x')));
    store.begin_image();
    int steps = 0;
    std::optional<std::string> built;
    while (!built && steps < 100) {
        built = store.continue_image(1000, 1500);
        ++steps;
    }
    ASSERT_TRUE(built);
    EXPECT_EQ(steps, 5) << "two 1 KB values per 1.5 KB step";
    EXPECT_EQ(*built, store.image());
}

// A build dropped midway (a snapshot from the leader replaces the state)
// leaves the store as effects made it; so does a restore, which ends it too.
TEST(KvStoreTest, AnAbandonedImageBuildLeavesTheStoreAsItIs) {
    KvStore store;
    for (int i = 0; i < 100; ++i) store.apply(put(key_of(i), "v"));
    store.begin_image();
    EXPECT_FALSE(store.continue_image(10, SIZE_MAX));
    store.apply(put(key_of(99), "changed"));
    store.apply(del(key_of(98)));
    store.abandon_image();
    EXPECT_FALSE(store.imaging());
    EXPECT_EQ(get(store, key_of(99)), "changed");
    EXPECT_EQ(get(store, key_of(98)), "<none>");
    EXPECT_EQ(store.size(), 99U);

    KvStore other;
    other.apply(put("only", "1"));
    std::string image = other.image();
    store.begin_image();
    EXPECT_FALSE(store.continue_image(10, SIZE_MAX));
    ASSERT_TRUE(store.restore(image));
    EXPECT_FALSE(store.imaging());
    EXPECT_EQ(store.image(), image);
}

TEST(KvStoreTest, ImageOfAnEmptyStoreRestores) {
    KvStore empty;
    KvStore copy;
    copy.apply(put("k", "v"));
    ASSERT_TRUE(copy.restore(empty.image()));
    EXPECT_EQ(copy.size(), 0u);
}

void expect_empty(const KvStore& store) {
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.live_size(kNow), 0u);
    EXPECT_TRUE(store.expired_keys(std::numeric_limits<int64_t>::max(), 10).empty());
    EXPECT_TRUE(store.scan(0, 100, "", kNow).keys.empty());
}

TEST(KvStoreTest, RestoreOfGarbageFailsAndLeavesTheStoreEmpty) {
    for (std::string garbage : {""s, "\x00"s, "\x02"s, "garbage"s, "\x01"s, std::string(9, '\xff'),
                                "\x01\xff\xff\xff\xff\xff\xff\xff\xff"s /* a huge count */}) {
        KvStore store;
        store.apply(put("old", "v", kNow + 5));
        EXPECT_FALSE(store.restore(garbage)) << ::testing::PrintToString(garbage);
        expect_empty(store);
    }
}

TEST(KvStoreTest, RestoreOfEveryTruncatedImageFailsAndLeavesTheStoreEmpty) {
    KvStore source;
    source.apply(put("a", "1", kNow + 1));
    source.apply(put("bb", "22"));
    source.apply(put("ccc", "333", kNow + 3));
    std::string image = source.image();
    for (size_t cut = 0; cut < image.size(); ++cut) {
        KvStore store;
        store.apply(put("old", "v", kNow + 5));
        EXPECT_FALSE(store.restore(std::string_view(image).substr(0, cut))) << "cut at " << cut;
        expect_empty(store);
    }
}

TEST(KvStoreTest, RestoreWithTrailingBytesFails) {
    KvStore source;
    source.apply(put("a", "1"));
    KvStore store;
    EXPECT_FALSE(store.restore(source.image() + "x"));
    expect_empty(store);
}

TEST(KvStoreTest, RestoreOfAnUnknownVersionFails) {
    KvStore source;
    source.apply(put("a", "1"));
    std::string image = source.image();
    image[0] = 2;
    KvStore store;
    EXPECT_FALSE(store.restore(image));
    expect_empty(store);
}

TEST(KvStoreTest, AStoreIsUsableAfterAFailedRestore) {
    KvStore store;
    ASSERT_FALSE(store.restore("junk"));
    store.apply(put("k", "v", kNow + 1));
    EXPECT_EQ(get(store, "k"), "v");
    EXPECT_EQ(store.expired_keys(kNow + 1, 10), std::vector<std::string>{"k"});
}

}  // namespace
}  // namespace fjord::kv
