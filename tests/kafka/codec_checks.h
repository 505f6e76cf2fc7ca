// Checks shared by the Kafka codec tests: a decoder faces bytes from the
// network, so beyond round trips it must refuse every truncation and any
// trailing byte with a message, and survive garbage without crashing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kafka/api.h"
#include "seeded_rng.h"

namespace fjord::kafka::testing {

// Bytes from hex digits, spaces ignored, so that an expected layout can be
// written field by field: unhex("0003 0000 00000007").
inline std::string unhex(std::string_view hex) {
    std::string out;
    int high = -1;
    for (char c : hex) {
        if (c == ' ') continue;
        int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        if (high < 0) {
            high = digit;
        } else {
            out.push_back(static_cast<char>(high << 4 | digit));
            high = -1;
        }
    }
    return out;
}

// Every strict prefix of a valid encoding must fail to decode, with an error
// that starts with `error_prefix` (if given). Each prefix is a copy, so that a
// read past its end is a real overrun (for sanitizers).
template <typename Decode>
void expect_truncations_fail(std::string_view valid, Decode&& decode, std::string_view error_prefix = {}) {
    for (size_t n = 0; n < valid.size(); ++n) {
        std::string prefix(valid.substr(0, n));
        auto result = decode(std::string_view(prefix));
        ASSERT_FALSE(result.has_value())
            << "a " << n << "-byte prefix of " << valid.size() << " bytes decoded";
        EXPECT_FALSE(result.error().empty());
        EXPECT_TRUE(result.error().starts_with(error_prefix)) << result.error();
    }
}

template <typename Decode>
void expect_trailing_byte_fails(std::string_view valid, Decode&& decode) {
    std::string longer(valid);
    longer.push_back('\x01');
    auto result = decode(std::string_view(longer));
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().find("trailing"), std::string::npos) << result.error();
}

// Garbage is skewed toward 0x00 and 0xFF, so that lengths and counts are
// often small or -1 and decoding gets past the first field.
inline std::string random_message(fjord::testing::SeededRng& rng, size_t max_size) {
    std::string bytes(rng.range(0, max_size), '\0');
    for (char& c : bytes) {
        uint64_t pick = rng.range(0, 9);
        c = pick < 4 ? '\0' : pick < 5 ? '\xFF' : static_cast<char>(rng.next());
    }
    return bytes;
}

// A decoder's answer to garbage: a value, or an error that says something.
template <typename R>
void expect_clean(const R& result) {
    if (!result.has_value()) {
        EXPECT_FALSE(result.error().empty());
    }
}

// 2,000 random byte strings, then 2,000 copies of `valid` with a few bytes
// overwritten: each must decode or fail with a message, never crash.
template <typename Decode>
void expect_garbage_is_harmless(std::string_view valid, uint64_t seed, Decode&& decode) {
    fjord::testing::SeededRng rng(seed);
    for (int i = 0; i < 2000; ++i) {
        std::string bytes = random_message(rng, 96);
        auto result = decode(std::string_view(bytes));
        expect_clean(result);
    }
    if (valid.empty()) return;
    for (int i = 0; i < 2000; ++i) {
        std::string bytes(valid);
        for (uint64_t k = rng.range(1, 3); k > 0; --k) {
            bytes[rng.range(0, bytes.size() - 1)] = static_cast<char>(rng.chance(50) ? 0xFF : rng.next());
        }
        auto result = decode(std::string_view(bytes));
        expect_clean(result);
    }
}

// All three checks on one valid encoding.
template <typename Decode>
void expect_strict_decoding(std::string_view valid, uint64_t seed, Decode&& decode) {
    expect_truncations_fail(valid, decode);
    expect_trailing_byte_fails(valid, decode);
    expect_garbage_is_harmless(valid, seed, decode);
}

// One direction of a versioned API: its decoder and encoder.
template <typename Message>
struct Codec {
    Result<Message, std::string> (*decode)(std::string_view body, int16_t version);
    void (*encode)(std::string& out, const Message& message, int16_t version);
};

// An admin API's request and response codecs, the versions they serve, and
// the name every error of theirs starts with ("<name> v<version> ...").
template <typename Request, typename Response>
struct AdminCodecs {
    std::string_view name;
    ApiKey key;
    int16_t min_version;
    int16_t max_version;
    Codec<Request> request;
    Codec<Response> response;

    const Codec<Request>& codec(const Request&) const { return request; }
    const Codec<Response>& codec(const Response&) const { return response; }

    template <typename Message>
    std::string encode(const Message& message, int16_t version) const {
        std::string out;
        codec(message).encode(out, message, version);
        return out;
    }
};

// At every version, `sample` decodes from its encoding to `seen_at(sample,
// version)`: the sample with the fields that version lacks at their defaults.
template <typename Request, typename Response, typename Message, typename SeenAt>
void expect_round_trips(const AdminCodecs<Request, Response>& api, const Message& sample, SeenAt&& seen_at) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
        auto r = api.codec(sample).decode(api.encode(sample, v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == seen_at(sample, v)) << "v" << v;
    }
}

// The same, for a message whose every field is in every version.
template <typename Request, typename Response, typename Message>
void expect_round_trips(const AdminCodecs<Request, Response>& api, const Message& sample) {
    expect_round_trips(api, sample, [](const Message& m, int16_t) { return m; });
}

// At every version, every strict prefix of either sample fails to decode,
// with an error naming the API.
template <typename Request, typename Response>
void expect_every_truncation_fails(const AdminCodecs<Request, Response>& api, const Request& request,
                                   const Response& response) {
    const std::string error_prefix = std::string(api.name) + " v";
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
        expect_truncations_fail(
            api.encode(request, v), [&](std::string_view b) { return api.request.decode(b, v); },
            error_prefix);
        expect_truncations_fail(
            api.encode(response, v), [&](std::string_view b) { return api.response.decode(b, v); },
            error_prefix);
    }
}

// Versions just outside the range (and any `more`) are refused by both
// decoders, the request's error saying so, and supported() agrees with the
// range from -1 to two past its top.
template <typename Request, typename Response>
void expect_versions_outside_refused(const AdminCodecs<Request, Response>& api, const Request& sample,
                                     std::initializer_list<int16_t> more = {}) {
    const std::string bytes = api.encode(sample, api.min_version);
    std::vector<int16_t> outside{static_cast<int16_t>(api.min_version - 1),
                                 static_cast<int16_t>(api.max_version + 1)};
    outside.insert(outside.end(), more);
    for (int16_t v : outside) {
        auto r = api.request.decode(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(api.response.decode(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= api.max_version + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(api.key), v), v >= api.min_version && v <= api.max_version)
            << v;
    }
}

// What a decoder makes of arbitrary bytes: an error that says something, or
// a message that re-encodes to bytes decoding to the same message.
template <typename Message>
void expect_refused_or_stable(const Codec<Message>& codec, std::string_view bytes, int16_t version) {
    auto r = codec.decode(bytes, version);
    if (!r.has_value()) {
        EXPECT_FALSE(r.error().empty());
        return;
    }
    std::string again;
    codec.encode(again, r.value(), version);
    auto r2 = codec.decode(again, version);
    ASSERT_TRUE(r2.has_value()) << r2.error();
    EXPECT_TRUE(r2.value() == r.value());
}

// 2,000 inputs drawn from `seed`: about half are up to 64 uniformly random
// bytes, the rest one of the samples (encoded at `sample_version`) with one
// byte overwritten, to get deep into the decoders. Both decoders at every
// version must refuse each input or decode it stably.
template <typename Request, typename Response>
void expect_random_bytes_refused_or_stable(const AdminCodecs<Request, Response>& api, uint64_t seed,
                                           int16_t sample_version, const Request& request,
                                           const Response& response) {
    fjord::testing::SeededRng rng(seed);
    const std::string valid[] = {api.encode(request, sample_version), api.encode(response, sample_version)};
    for (int i = 0; i < 2000; ++i) {
        std::string bytes;
        if (rng.chance(50)) {
            bytes.resize(rng.range(0, 64));
            for (char& c : bytes) c = static_cast<char>(rng.next());
        } else {
            bytes = valid[rng.range(0, 1)];
            bytes[rng.range(0, bytes.size() - 1)] = static_cast<char>(rng.next());
        }
        for (int16_t v = api.min_version; v <= api.max_version; ++v) {
            expect_refused_or_stable(api.request, bytes, v);
            expect_refused_or_stable(api.response, bytes, v);
        }
    }
}

}  // namespace fjord::kafka::testing
