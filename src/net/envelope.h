// What travels in a frame (net/frame.h) between two nodes. A connection's
// first frame is a Hello, which says who dials whom in which cluster; every
// later frame is a Batch of items, one per Raft message or gossip, for any
// number of groups, so that all traffic toward a peer shares its frames.
//
//   Hello: [u8 kind = 1][u64 from node][u64 to node][bytes cluster id]
//   Batch: [u8 kind = 2][u64 from node][u32 count] then count items of
//          [u8 item kind][u64 group][bytes payload]
//
// Integers are big-endian and `bytes` is a u32 length then the bytes
// (common/byte_codec.h). Payloads are opaque here; their owners decode them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "net/frame.h"

namespace fjord::net {

struct Hello {
    uint64_t from{0};
    uint64_t to{0};
    std::string cluster_id;
    bool operator==(const Hello&) const = default;
};

// create_topic asks the controller's leader to create a topic (payload: the
// metadata command), for a node that auto-creates a topic a client named.
// kv_request and kv_response carry key-value commands forwarded to a shard's
// leader and their answers (payloads: kv/forward_codec.h); metadata_request
// and metadata_response a metadata command forwarded to the controller's
// leader and its outcome (cluster/cluster_requests.cc).
enum class ItemKind : uint8_t {
    raft = 1,
    node_status = 2,
    transfer_leadership = 3,
    create_topic = 4,
    kv_request = 5,
    kv_response = 6,
    metadata_request = 7,
    metadata_response = 8,
};

struct Item {
    ItemKind kind{ItemKind::raft};
    uint64_t group{0};
    std::string payload;
    bool operator==(const Item&) const = default;
};

struct Batch {
    uint64_t from{0};
    std::vector<Item> items;
    bool operator==(const Batch&) const = default;
};

std::string encode_hello(const Hello& hello);
std::string encode_batch(uint64_t from, const std::vector<Item>& items);

// Appends a Batch to `out` item by item, keeping its count up to date, so
// that items (and their payloads, with add_in_place()) are encoded straight
// into an output buffer, e.g. after net::start_frame().
class BatchWriter {
  public:
    BatchWriter(std::string& out, uint64_t from);

    void add(ItemKind kind, uint64_t group, std::string_view payload) {
        add_in_place(kind, group, [payload](std::string& out) { out.append(payload); });
    }
    // `write_payload(std::string& out)` appends the item's payload to `out`.
    template <typename WritePayload>
    void add_in_place(ItemKind kind, uint64_t group, WritePayload&& write_payload) {
        size_t length_at = begin_item(kind, group);
        write_payload(_out);
        end_item(length_at);
    }

    uint32_t count() const { return _count; }

  private:
    // Writes the item's kind and group and a placeholder for the payload's
    // length, and returns where that placeholder is.
    size_t begin_item(ItemKind kind, uint64_t group);
    void end_item(size_t length_at);

    std::string& _out;
    size_t _count_at;
    uint32_t _count{0};
};

// The error says what is wrong and where, e.g. "item 3: payload: length
// 99999 exceeds the 12 bytes left".
Result<std::variant<Hello, Batch>, std::string> decode_body(std::string_view body);

}  // namespace fjord::net
