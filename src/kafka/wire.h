// Kafka's primitive wire types in their classic (non-flexible) encoding:
// big-endian integers, int16-length strings, int32-length bytes and arrays,
// with -1 for null. fjord advertises no flexible API version (see
// docs/kafka.md), so compact lengths and tagged fields are never decoded.
//
// Reader is bounds-checked with a sticky error: after the first failure
// every read returns a zero value and ok() is false, so a decoder reads all
// fields and checks once. It never allocates more than the input holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/big_endian.h"
#include "common/result.h"

namespace fjord::kafka {

class Reader {
  public:
    explicit Reader(std::string_view bytes) : _bytes(bytes) {}

    int8_t i8(const char* what) { return static_cast<int8_t>(take_int(what, 1)); }
    int16_t i16(const char* what) { return static_cast<int16_t>(take_int(what, 2)); }
    int32_t i32(const char* what) { return static_cast<int32_t>(take_int(what, 4)); }
    uint32_t u32(const char* what) { return static_cast<uint32_t>(take_int(what, 4)); }
    int64_t i64(const char* what) { return static_cast<int64_t>(take_int(what, 8)); }
    bool boolean(const char* what) { return i8(what) != 0; }

    // A null string reads as empty; nullable_string() tells them apart.
    std::string string(const char* what) { return nullable_string(what).value_or(std::string()); }
    // A string whose schema allows no null: a null fails, as Kafka refuses
    // it, rather than reading as empty.
    std::string non_null_string(const char* what) {
        std::optional<std::string> s = nullable_string(what);
        if (!s && ok()) fail(what, "null, but the field is not nullable");
        return s.value_or(std::string());
    }
    std::optional<std::string> nullable_string(const char* what) {
        int16_t n = i16(what);
        if (n < 0) return std::nullopt;
        return std::string(take(what, static_cast<size_t>(n)));
    }
    // The view points into the input.
    std::optional<std::string_view> nullable_bytes(const char* what) {
        int32_t n = i32(what);
        if (n < 0) return std::nullopt;
        return take(what, static_cast<size_t>(n));
    }
    std::string_view bytes(const char* what) { return nullable_bytes(what).value_or(std::string_view()); }
    // An array's element count; -1 for null. Fails when even the smallest
    // elements could not fit in what is left, so callers may reserve().
    int32_t array(const char* what, size_t min_element_size) {
        int32_t n = i32(what);
        if (n < -1 || (n > 0 && static_cast<size_t>(n) * min_element_size > remaining())) {
            fail(what, "array length " + std::to_string(n) + " does not fit the " +
                           std::to_string(remaining()) + " bytes left");
            return 0;
        }
        return n;
    }
    // A non-nullable array's element count: a null (-1) is rejected, as
    // Kafka rejects it, rather than read as empty.
    int32_t count(const char* what, size_t min_element_size) {
        int32_t n = array(what, min_element_size);
        if (n < 0) fail(what, "null array where none is allowed");
        return n < 0 ? 0 : n;
    }
    // Skips bytes the decoder does not interpret (e.g. tagged fields).
    void skip(const char* what, size_t n) { take(what, n); }
    // Fails when bytes are left after the last field: a message that is
    // longer than its version's layout was misread, so it must not be used.
    void expect_end(const char* what) {
        if (ok() && !_bytes.empty()) fail(what, std::to_string(_bytes.size()) + " unexpected trailing bytes");
    }

    bool ok() const { return _error.empty(); }
    const std::string& error() const { return _error; }
    size_t remaining() const { return _bytes.size(); }
    void fail(const char* what, const std::string& why) {
        if (_error.empty()) _error = std::string(what) + ": " + why;
        _bytes = {};
    }

  private:
    std::string_view take(const char* what, size_t n) {
        if (!ok()) return {};
        if (n > _bytes.size()) {
            fail(what, "needs " + std::to_string(n) + " bytes, " + std::to_string(_bytes.size()) + " left");
            return {};
        }
        std::string_view out = _bytes.substr(0, n);
        _bytes.remove_prefix(n);
        return out;
    }
    uint64_t take_int(const char* what, int n) {
        std::string_view b = take(what, static_cast<size_t>(n));
        return b.empty() ? 0 : be::load(b.data(), n);
    }

    std::string_view _bytes;
    std::string _error;
};

// A decoder's last step: the decoded value, or the reader's first error, or
// an error naming `what` if bytes are left over.
template <typename T>
Result<T, std::string> finish_decode(Reader& r, T value, const char* what) {
    r.expect_end(what);
    if (!r.ok()) return make_unexpected(r.error());
    return value;
}

namespace detail {
template <typename ReadElement>
auto read_elements(Reader& r, int32_t n, ReadElement& read_element) {
    std::vector<decltype(read_element())> items;
    items.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) items.push_back(read_element());
    return items;
}
}  // namespace detail

// A non-nullable array whose elements read_element() reads; it stops at the
// first error, and the count was checked against the bytes left.
template <typename ReadElement>
auto read_vector(Reader& r, const char* what, size_t min_element_size, ReadElement&& read_element) {
    return detail::read_elements(r, r.count(what, min_element_size), read_element);
}

// A nullable array, as read_vector() reads it; nullopt for a null array.
template <typename ReadElement>
auto read_optional_vector(Reader& r, const char* what, size_t min_element_size, ReadElement&& read_element)
    -> std::optional<std::vector<decltype(read_element())>> {
    int32_t n = r.array(what, min_element_size);
    if (n < 0) return std::nullopt;
    return detail::read_elements(r, n, read_element);
}

// An API whose codec supports versions [min_version, max_version] and names
// the API, version and direction in every decode error, e.g.
// "CreateTopics v3 request: timeout_ms: needs 4 bytes, 2 left".
struct VersionedCodec {
    std::string_view api;
    int16_t min_version;
    int16_t max_version;

    bool supports(int16_t version) const { return version >= min_version && version <= max_version; }
    std::string unsupported(const char* direction, int16_t version) const {
        return std::string(api) + " " + direction + " version " + std::to_string(version) +
               " is not supported (" + std::to_string(min_version) + "-" + std::to_string(max_version) + ")";
    }
    // A decoder's last step, as finish_decode() but with the errors named.
    template <typename T>
    Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) const {
        std::string where = std::string(api) + " v" + std::to_string(version) + " " + direction + ": ";
        if (!r.ok()) return make_unexpected(where + r.error());
        if (r.remaining() > 0) {
            return make_unexpected(where + std::to_string(r.remaining()) +
                                   " trailing bytes after the last field");
        }
        return value;
    }
};

class Writer {
  public:
    explicit Writer(std::string& out) : _out(out) {}

    void i8(int8_t v) { be::append(_out, static_cast<uint8_t>(v), 1); }
    void i16(int16_t v) { be::append(_out, static_cast<uint16_t>(v), 2); }
    void i32(int32_t v) { be::append(_out, static_cast<uint32_t>(v), 4); }
    void u32(uint32_t v) { be::append(_out, v, 4); }
    void i64(int64_t v) { be::append(_out, static_cast<uint64_t>(v), 8); }
    void boolean(bool v) { i8(v ? 1 : 0); }
    void string(std::string_view s) {
        i16(static_cast<int16_t>(s.size()));
        _out.append(s);
    }
    void nullable_string(const std::optional<std::string>& s) {
        if (!s) return i16(-1);
        string(*s);
    }
    void bytes(std::string_view b) {
        i32(static_cast<int32_t>(b.size()));
        _out.append(b);
    }
    void null_bytes() { i32(-1); }
    void array(size_t n) { i32(static_cast<int32_t>(n)); }
    void null_array() { i32(-1); }
    void raw(std::string_view b) { _out.append(b); }
    std::string& out() { return _out; }

  private:
    std::string& _out;
};

// An array whose elements write_element(const T&) writes.
template <typename T, typename WriteElement>
void write_vector(Writer& w, const std::vector<T>& items, WriteElement&& write_element) {
    w.array(items.size());
    for (const T& item : items) write_element(item);
}

}  // namespace fjord::kafka
