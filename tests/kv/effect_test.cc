// The replicated effects of key-value writes: every kind survives an encode
// and decode, several effects share one record, and truncated or unknown
// input is refused rather than half-decoded.
#include "kv/effect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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

std::string encode(const std::vector<Effect>& effects) {
    std::string out;
    encode_effects(effects, out);
    return out;
}

// The decoded effects, copied out of the views decode_effects() gives.
Result<std::vector<Effect>, std::string> decode(std::string_view bytes) {
    std::vector<EffectView> views;
    if (auto r = decode_effects(bytes, views); !r) return make_unexpected(r.error());
    std::vector<Effect> effects;
    for (const EffectView& v : views)
        effects.push_back(Effect{v.kind, std::string(v.key), std::string(v.value), v.expire_at_ms});
    return effects;
}

std::vector<Effect> round_trip(const std::vector<Effect>& effects) {
    auto decoded = decode(encode(effects));
    EXPECT_TRUE(decoded.has_value()) << (decoded ? "" : decoded.error());
    return decoded ? *decoded : std::vector<Effect>{};
}

TEST(EffectTest, PutRoundTrips) {
    std::vector<Effect> effects{put("key", "value", 1700000000123)};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, PutWithoutExpiryRoundTrips) {
    std::vector<Effect> effects{put("k", "v")};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, PutWithEmptyKeyAndValueRoundTrips) {
    std::vector<Effect> effects{put("", "")};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, PutWithBinaryValueRoundTrips) {
    std::vector<Effect> effects{
        put("k\0\r\n"s, "\0\xff\x01 bytes\r\n"s, std::numeric_limits<int64_t>::max())};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, PutWithNegativeExpiryRoundTrips) {
    std::vector<Effect> effects{put("k", "v", -5)};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, DelRoundTrips) {
    std::vector<Effect> effects{del("gone")};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, ExpireRoundTrips) {
    std::vector<Effect> effects{expire("k", 42)};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, ExpireZeroMeansPersistAndRoundTrips) {
    std::vector<Effect> effects{expire("k", 0)};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, FlushRoundTripsAsOneByte) {
    std::vector<Effect> effects{flush()};
    EXPECT_EQ(encode(effects), "\x04"s);
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, EncodingIsTheDocumentedLayout) {
    // put: [u8 1][bytes key][bytes value][i64 expire_at_ms]
    EXPECT_EQ(encode({put("k", "vv", 0x0102)}), "\x01"s + "\x00\x00\x00\x01"s + "k" + "\x00\x00\x00\x02"s +
                                                    "vv" + "\x00\x00\x00\x00\x00\x00\x01\x02"s);
    // del: [u8 2][bytes key]
    EXPECT_EQ(encode({del("ab")}), "\x02"s + "\x00\x00\x00\x02"s + "ab");
    // expire: [u8 3][bytes key][i64 expire_at_ms]
    EXPECT_EQ(encode({expire("k", -1)}), "\x03"s + "\x00\x00\x00\x01"s + "k" + std::string(8, '\xff'));
}

TEST(EffectTest, EncodeAppendsToTheOutput) {
    std::string out = "prefix";
    encode_effects({del("k")}, out);
    EXPECT_EQ(out.substr(0, 6), "prefix");
    auto decoded = decode(std::string_view(out).substr(6));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, std::vector<Effect>{del("k")});
}

TEST(EffectTest, DecodedEffectsPointIntoTheRecordAndReplaceWhatTheBufferHeld) {
    std::string record = encode({put("key", "value", 5)});
    std::vector<EffectView> views{EffectView(del("left over"))};
    ASSERT_TRUE(decode_effects(record, views).has_value());
    ASSERT_EQ(views.size(), 1u);
    EXPECT_EQ(views[0].key, "key");
    EXPECT_EQ(views[0].value, "value");
    EXPECT_EQ(views[0].expire_at_ms, 5);
    EXPECT_GE(views[0].value.data(), record.data());
    EXPECT_LT(views[0].value.data(), record.data() + record.size());
}

TEST(EffectTest, SeveralEffectsInOneRecordRoundTripInOrder) {
    std::vector<Effect> effects{put("a", "1", 10), del("b"), flush(),        put("c", "3"),
                                expire("c", 99),   flush(),  expire("a", 0), del("")};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, NothingEncodesToNothingAndDecodesToNothing) {
    EXPECT_EQ(encode({}), "");
    auto decoded = decode("");
    ASSERT_TRUE(decoded.has_value());
    EXPECT_TRUE(decoded->empty());
}

TEST(EffectTest, LargeValueRoundTrips) {
    std::vector<Effect> effects{put("big", std::string(1 << 20, 'x'), 7)};
    EXPECT_EQ(round_trip(effects), effects);
}

TEST(EffectTest, EveryTruncationOfARecordIsAnError) {
    std::vector<Effect> effects{put("key", "value", 123), del("d"), expire("e", 5), put("z", "", 0)};
    std::string bytes = encode(effects);
    // Cutting at an effect boundary leaves a valid, shorter record; anywhere else is an error.
    std::vector<size_t> boundaries;
    {
        std::string prefix;
        for (const Effect& e : effects) {
            encode_effects({e}, prefix);
            boundaries.push_back(prefix.size());
        }
    }
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
        auto decoded = decode(std::string_view(bytes).substr(0, cut));
        auto at = std::find(boundaries.begin(), boundaries.end(), cut);
        EXPECT_EQ(decoded.has_value(), at != boundaries.end()) << "cut at " << cut;
        if (decoded) {
            auto whole = (at - boundaries.begin()) + 1;  // the effects that fit before the cut
            EXPECT_EQ(*decoded, std::vector<Effect>(effects.begin(), effects.begin() + whole));
        }
    }
}

TEST(EffectTest, KeyLengthBeyondTheInputIsAnError) {
    // A put whose key claims 100 bytes but has 3.
    std::string bytes = "\x01"s + "\x00\x00\x00\x64"s + "abc";
    auto decoded = decode(bytes);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().find("key"), std::string::npos) << decoded.error();
}

TEST(EffectTest, HugeLengthIsAnErrorNotAnAllocation) {
    std::string bytes = "\x02"s + "\xff\xff\xff\xff"s + "x";
    EXPECT_FALSE(decode(bytes).has_value());
}

TEST(EffectTest, UnknownKindsAreErrors) {
    for (int kind : {0, 5, 6, 0x7f, 0x80, 0xff}) {
        std::string bytes(1, static_cast<char>(kind));
        auto decoded = decode(bytes);
        ASSERT_FALSE(decoded.has_value()) << "kind " << kind;
        EXPECT_NE(decoded.error().find("unknown effect kind"), std::string::npos) << decoded.error();
    }
}

TEST(EffectTest, AnUnknownKindAfterValidEffectsFailsTheWholeRecord) {
    std::string bytes = encode({put("a", "1"), del("b")}) + "\x09"s;
    EXPECT_FALSE(decode(bytes).has_value());
}

TEST(EffectTest, TrailingGarbageAfterAFlushIsAnError) {
    // A flush is one byte; whatever follows must be another whole effect.
    EXPECT_FALSE(decode("\x04\x01"s).has_value());
    EXPECT_FALSE(decode("\x04\x02\x00"s).has_value());
}

}  // namespace
}  // namespace fjord::kv
