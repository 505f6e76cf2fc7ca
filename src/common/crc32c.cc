#include "common/crc32c.h"

#include <array>
#include <cstring>
#include <string>

namespace fjord {

namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // reflected Castagnoli

// Slice-by-8 tables for CPUs without SSE4.2.
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
        for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
    return t;
}

constexpr auto kTables = make_tables();

uint32_t crc32c_portable(const unsigned char* p, size_t n, uint32_t crc) {
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        v ^= crc;
        crc = kTables[7][v & 0xFF] ^ kTables[6][(v >> 8) & 0xFF] ^ kTables[5][(v >> 16) & 0xFF] ^
              kTables[4][(v >> 24) & 0xFF] ^ kTables[3][(v >> 32) & 0xFF] ^ kTables[2][(v >> 40) & 0xFF] ^
              kTables[1][(v >> 48) & 0xFF] ^ kTables[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(__x86_64__)
// The crc32 instruction takes three cycles but can start one a cycle, so one
// stream of it runs at a third of its speed. Three lanes of a buffer are
// summed at once and their CRCs joined: the register after A then B is A's
// register moved across |B| zero bytes, xor B's register from zero. That move
// is linear in the register, so four byte tables per lane length hold it.
struct ZeroShift {
    std::array<std::array<uint32_t, 256>, 4> table;
    uint32_t operator()(uint32_t c) const {
        return table[0][c & 0xFF] ^ table[1][(c >> 8) & 0xFF] ^ table[2][(c >> 16) & 0xFF] ^
               table[3][c >> 24];
    }
};

ZeroShift make_zero_shift(size_t len) {
    std::string zeros(len, '\0');
    std::array<uint32_t, 32> basis{};
    for (int bit = 0; bit < 32; ++bit) {
        basis[static_cast<size_t>(bit)] =
            crc32c_portable(reinterpret_cast<const unsigned char*>(zeros.data()), len, 1u << bit);
    }
    ZeroShift z{};
    for (size_t k = 0; k < 4; ++k) {
        for (uint32_t v = 0; v < 256; ++v) {
            uint32_t out = 0;
            for (int bit = 0; bit < 8; ++bit) {
                if (v & (1u << bit)) out ^= basis[k * 8 + static_cast<size_t>(bit)];
            }
            z.table[k][v] = out;
        }
    }
    return z;
}

constexpr size_t kLongLane = 4096;
constexpr size_t kShortLane = 256;
const ZeroShift kShiftLong = make_zero_shift(kLongLane);
const ZeroShift kShiftShort = make_zero_shift(kShortLane);

// Consumes whole rounds of three `lane`-byte lanes from p/n into c.
__attribute__((target("sse4.2"))) void three_lanes(const unsigned char*& p, size_t& n, uint64_t& c,
                                                   size_t lane, const ZeroShift& shift) {
    while (n >= 3 * lane) {
        uint64_t a = c, b = 0, d = 0;
        for (size_t i = 0; i < lane; i += 8) {
            uint64_t va, vb, vd;
            std::memcpy(&va, p + i, 8);
            std::memcpy(&vb, p + lane + i, 8);
            std::memcpy(&vd, p + 2 * lane + i, 8);
            a = __builtin_ia32_crc32di(a, va);
            b = __builtin_ia32_crc32di(b, vb);
            d = __builtin_ia32_crc32di(d, vd);
        }
        uint32_t ab = shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b);
        c = shift(ab) ^ static_cast<uint32_t>(d);
        p += 3 * lane;
        n -= 3 * lane;
    }
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const unsigned char* p, size_t n, uint32_t crc) {
    uint64_t c = crc;
    three_lanes(p, n, c, kLongLane, kShiftLong);
    three_lanes(p, n, c, kShortLane, kShiftShort);
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<uint32_t>(c);
    while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

using CrcFn = uint32_t (*)(const unsigned char*, size_t, uint32_t);

CrcFn pick() {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return crc32c_sse42;
#endif
    return crc32c_portable;
}

const CrcFn kCrc = pick();

}  // namespace

uint32_t crc32c(std::string_view bytes, uint32_t crc) {
    return ~kCrc(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), ~crc);
}

uint32_t crc32c_portable(std::string_view bytes, uint32_t crc) {
    return ~crc32c_portable(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), ~crc);
}

}  // namespace fjord
