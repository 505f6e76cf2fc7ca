#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fjord {
namespace {

std::string pattern(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (char& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

TEST(Crc32c, KnownCheckValue) {
    EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
}

TEST(Crc32c, Rfc3720Vectors) {
    // iSCSI (RFC 3720, B.4) test vectors: they cover the 8-byte fast path.
    EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
    EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
    std::string ascending(32, '\0');
    std::string descending(32, '\0');
    for (int i = 0; i < 32; ++i) {
        ascending[static_cast<size_t>(i)] = static_cast<char>(i);
        descending[static_cast<size_t>(i)] = static_cast<char>(31 - i);
    }
    EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
    EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32c, EmptyInput) {
    EXPECT_EQ(crc32c(""), 0u);
    EXPECT_EQ(crc32c(std::string_view()), 0u);
    // Extending by nothing leaves any checksum as it was.
    EXPECT_EQ(crc32c("", 0xE3069283u), 0xE3069283u);
    EXPECT_EQ(crc32c("", 0xDEADBEEFu), 0xDEADBEEFu);
}

TEST(Crc32c, IncrementalEqualsOneShot) {
    for (size_t n : {1u, 7u, 8u, 9u, 63u, 64u, 65u, 1000u, 4099u}) {
        std::string data = pattern(n, static_cast<uint32_t>(n));
        uint32_t whole = crc32c(data);
        for (size_t split = 0; split <= n; split += (n > 100 ? 37 : 1)) {
            uint32_t a = crc32c(std::string_view(data).substr(0, split));
            uint32_t ab = crc32c(std::string_view(data).substr(split), a);
            ASSERT_EQ(ab, whole) << "n=" << n << " split=" << split;
        }
        // Byte at a time, and through unaligned views.
        uint32_t c = 0;
        for (char ch : data) c = crc32c(std::string_view(&ch, 1), c);
        EXPECT_EQ(c, whole) << "n=" << n;
        std::string shifted = "x" + data;
        EXPECT_EQ(crc32c(std::string_view(shifted).substr(1)), whole) << "n=" << n;
    }
}

// The fast path sums three lanes at once and joins them; any length, start
// and running checksum must give what the table-only reference gives.
TEST(Crc32c, MatchesThePortableReferenceAtEveryLaneBoundary) {
    std::string data = pattern(3 * 4096 * 3 + 100, 11);
    std::vector<size_t> lengths = {0,
                                   1,
                                   7,
                                   8,
                                   255,
                                   256,
                                   767,
                                   768,
                                   769,
                                   1000,
                                   3 * 4096 - 1,
                                   3 * 4096,
                                   3 * 4096 + 1,
                                   3 * 4096 + 768,
                                   2 * 3 * 4096 + 767,
                                   65536 % data.size()};
    uint32_t x = 12345;
    for (int i = 0; i < 300; ++i) {
        x = x * 1103515245u + 12345u;
        lengths.push_back(x % (data.size() - 8));
    }
    for (size_t n : lengths) {
        for (size_t start : {0u, 1u, 3u, 8u}) {
            std::string_view piece = std::string_view(data).substr(start, n);
            for (uint32_t seed : {0u, 0xE3069283u, 0xFFFFFFFFu}) {
                ASSERT_EQ(crc32c(piece, seed), crc32c_portable(piece, seed))
                    << "n=" << n << " start=" << start << " seed=" << seed;
            }
        }
    }
    EXPECT_EQ(crc32c_portable("123456789"), 0xE3069283u);
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
    std::string data = pattern(200, 3);
    uint32_t good = crc32c(data);
    for (size_t i = 0; i < data.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            data[i] = static_cast<char>(data[i] ^ (1 << bit));
            ASSERT_NE(crc32c(data), good) << "byte " << i << " bit " << bit;
            data[i] = static_cast<char>(data[i] ^ (1 << bit));
        }
    }
}

}  // namespace
}  // namespace fjord
