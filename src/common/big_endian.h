// Big-endian (network order) integers in byte buffers, as Kafka's protocol
// and fjord's files store them.
#pragma once

#include <cstdint>
#include <string>

namespace fjord::be {

inline uint64_t load(const char* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}
inline uint16_t load16(const char* p) {
    return static_cast<uint16_t>(load(p, 2));
}
inline uint32_t load32(const char* p) {
    return static_cast<uint32_t>(load(p, 4));
}
inline uint64_t load64(const char* p) {
    return load(p, 8);
}

inline void store(char* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        p[i] = static_cast<char>(v & 0xFF);
        v >>= 8;
    }
}
inline void store16(char* p, uint16_t v) {
    store(p, v, 2);
}
inline void store32(char* p, uint32_t v) {
    store(p, v, 4);
}
inline void store64(char* p, uint64_t v) {
    store(p, v, 8);
}

inline void append(std::string& out, uint64_t v, int bytes) {
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(bytes));
    store(out.data() + at, v, bytes);
}

}  // namespace fjord::be
