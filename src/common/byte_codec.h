// Big-endian writing and bounds-checked reading of fjord's internal wire
// formats (node-to-node frames, Raft messages, gossiped node status). Kafka's
// protocol has its own codec; this one is for formats fjord owns.
//
// ByteReader never trusts its input: every read checks the bytes left, and the
// first failure makes the reader sticky (ok() turns false, later reads return
// zeros without reading) with an error naming the field, so a decoder reads
// all its fields and checks ok() once instead of after each one.
#pragma once

#include <cassert>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/big_endian.h"

namespace fjord {

// Appends to a caller's string, so that a message can be encoded straight
// into an outgoing buffer.
class ByteWriter {
  public:
    explicit ByteWriter(std::string& out) : _out(out) {}

    void u8(uint8_t v) { be::append(_out, v, 1); }
    void u16(uint16_t v) { be::append(_out, v, 2); }
    void u32(uint32_t v) { be::append(_out, v, 4); }
    void u64(uint64_t v) { be::append(_out, v, 8); }
    void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
    void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    // A u32 length, then the bytes.
    void bytes(std::string_view v) {
        assert(v.size() <= std::numeric_limits<uint32_t>::max());
        u32(static_cast<uint32_t>(v.size()));
        raw(v);
    }
    void raw(std::string_view v) { _out.append(v); }

  private:
    std::string& _out;
};

class ByteReader {
  public:
    explicit ByteReader(std::string_view in) : _in(in) {}

    // `what` names the field in the error when the read fails.
    uint8_t u8(std::string_view what) { return static_cast<uint8_t>(fixed(what, 1)); }
    uint16_t u16(std::string_view what) { return static_cast<uint16_t>(fixed(what, 2)); }
    uint32_t u32(std::string_view what) { return static_cast<uint32_t>(fixed(what, 4)); }
    uint64_t u64(std::string_view what) { return fixed(what, 8); }
    int32_t i32(std::string_view what) { return static_cast<int32_t>(u32(what)); }
    int64_t i64(std::string_view what) { return static_cast<int64_t>(u64(what)); }

    // One byte that must be 0 or 1, so that garbage is not taken for `true`.
    bool boolean(std::string_view what) {
        uint8_t v = u8(what);
        if (v > 1) fail(std::string(what) + ": byte " + std::to_string(v) + " is not a boolean");
        return v == 1;
    }

    // What ByteWriter::bytes() wrote, as a view into the input.
    std::string_view bytes(std::string_view what) {
        uint32_t n = u32(what);
        if (ok() && n > remaining()) {
            fail(std::string(what) + ": length " + std::to_string(n) + " exceeds the " +
                 std::to_string(remaining()) + " bytes left");
        }
        return raw(what, n);
    }

    std::string_view raw(std::string_view what, size_t n) {
        if (!take(what, n)) return {};
        std::string_view v = _in.substr(_pos, n);
        _pos += n;
        return v;
    }

    // A u32 element count, refused when `count` elements of at least
    // `min_element_size` bytes each cannot fit in what is left: a garbled
    // count then fails here, before anyone reserves memory for it.
    uint32_t count(std::string_view what, size_t min_element_size) {
        uint32_t n = u32(what);
        if (ok() && uint64_t{n} * min_element_size > remaining()) {
            fail(std::string(what) + ": " + std::to_string(n) + " elements cannot fit in the " +
                 std::to_string(remaining()) + " bytes left");
            return 0;
        }
        return n;
    }

    // Fails if any input is left: a decoder calls it after its last field.
    void expect_end() {
        if (ok() && remaining() > 0) fail(std::to_string(remaining()) + " unexpected bytes after the end");
    }

    // For a decoder's own checks (an unknown enum value, say); the first
    // error wins.
    void fail(std::string error) {
        if (!ok()) return;
        _error = std::move(error);
        _ok = false;
    }

    // Once a read inside the element `index` of a list has failed, names the
    // element in the error ("item 3: payload: ..."). A no-op while all is
    // well, so that the happy path builds no strings.
    void add_context(std::string_view list, size_t index) {
        if (!ok()) _error = std::string(list) + " " + std::to_string(index) + ": " + _error;
    }

    bool ok() const { return _ok; }
    const std::string& error() const { return _error; }
    size_t remaining() const { return _ok ? _in.size() - _pos : 0; }

  private:
    bool take(std::string_view what, size_t n) {
        if (!ok()) return false;
        if (n > remaining()) {
            fail(std::string(what) + ": needs " + std::to_string(n) + " bytes, " +
                 std::to_string(remaining()) + " left");
            return false;
        }
        return true;
    }

    uint64_t fixed(std::string_view what, int n) {
        if (!take(what, static_cast<size_t>(n))) return 0;
        uint64_t v = be::load(_in.data() + _pos, n);
        _pos += static_cast<size_t>(n);
        return v;
    }

    std::string_view _in;
    size_t _pos{0};
    bool _ok{true};
    std::string _error;
};

}  // namespace fjord
