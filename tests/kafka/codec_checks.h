// Checks shared by the Kafka codec tests: a decoder faces bytes from the
// network, so beyond round trips it must refuse every truncation and any
// trailing byte with a message, and survive garbage without crashing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

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

// Every strict prefix of a valid encoding must fail to decode. Each prefix
// is a copy, so that a read past its end is a real overrun (for sanitizers).
template <typename Decode>
void expect_truncations_fail(std::string_view valid, Decode&& decode) {
    for (size_t n = 0; n < valid.size(); ++n) {
        std::string prefix(valid.substr(0, n));
        auto result = decode(std::string_view(prefix));
        ASSERT_FALSE(result.has_value())
            << "a " << n << "-byte prefix of " << valid.size() << " bytes decoded";
        EXPECT_FALSE(result.error().empty());
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

}  // namespace fjord::kafka::testing
