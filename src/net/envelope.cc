#include "net/envelope.h"

#include <cassert>
#include <limits>

#include "common/big_endian.h"
#include "common/byte_codec.h"

namespace fjord::net {

namespace {

enum class BodyKind : uint8_t { hello = 1, batch = 2 };

// Kind, group and payload length: what an item with an empty payload takes.
constexpr size_t kMinItemSize = 1 + 8 + 4;

bool is_known(uint8_t item_kind) {
    return item_kind >= static_cast<uint8_t>(ItemKind::raft) &&
           item_kind <= static_cast<uint8_t>(ItemKind::metadata_response);
}

Hello read_hello(ByteReader& r) {
    Hello h;
    h.from = r.u64("from node");
    h.to = r.u64("to node");
    h.cluster_id = r.bytes("cluster id");
    return h;
}

Item read_item(ByteReader& r) {
    Item item;
    uint8_t kind = r.u8("kind");
    if (!is_known(kind)) r.fail("unknown kind " + std::to_string(kind));
    item.kind = static_cast<ItemKind>(kind);
    item.group = r.u64("group");
    item.payload = r.bytes("payload");
    return item;
}

Batch read_batch(ByteReader& r) {
    Batch b;
    b.from = r.u64("from node");
    uint32_t n = r.count("item count", kMinItemSize);
    b.items.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        b.items.push_back(read_item(r));
        r.add_context("item", i);
    }
    return b;
}

}  // namespace

std::string encode_hello(const Hello& hello) {
    std::string out;
    ByteWriter w(out);
    w.u8(static_cast<uint8_t>(BodyKind::hello));
    w.u64(hello.from);
    w.u64(hello.to);
    w.bytes(hello.cluster_id);
    return out;
}

std::string encode_batch(uint64_t from, const std::vector<Item>& items) {
    std::string out;
    BatchWriter w(out, from);
    for (const Item& item : items) w.add(item.kind, item.group, item.payload);
    return out;
}

BatchWriter::BatchWriter(std::string& out, uint64_t from) : _out(out) {
    ByteWriter w(_out);
    w.u8(static_cast<uint8_t>(BodyKind::batch));
    w.u64(from);
    _count_at = _out.size();
    w.u32(0);
}

size_t BatchWriter::begin_item(ItemKind kind, uint64_t group) {
    ByteWriter w(_out);
    w.u8(static_cast<uint8_t>(kind));
    w.u64(group);
    size_t length_at = _out.size();
    w.u32(0);
    return length_at;
}

void BatchWriter::end_item(size_t length_at) {
    size_t payload_size = _out.size() - length_at - 4;
    assert(payload_size <= std::numeric_limits<uint32_t>::max());
    be::store32(_out.data() + length_at, static_cast<uint32_t>(payload_size));
    be::store32(_out.data() + _count_at, ++_count);
}

Result<std::variant<Hello, Batch>, std::string> decode_body(std::string_view body) {
    ByteReader r(body);
    uint8_t kind = r.u8("body kind");
    std::variant<Hello, Batch> decoded;
    if (kind == static_cast<uint8_t>(BodyKind::hello)) {
        decoded = read_hello(r);
    } else if (kind == static_cast<uint8_t>(BodyKind::batch)) {
        decoded = read_batch(r);
    } else {
        r.fail("unknown body kind " + std::to_string(kind));
    }
    r.expect_end();
    if (!r.ok()) return make_unexpected(r.error());
    return decoded;
}

}  // namespace fjord::net
