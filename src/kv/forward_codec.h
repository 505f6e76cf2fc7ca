// Key-value commands forwarded between nodes (net::ItemKind::kv_request and
// kv_response; the item's group is the shard's Raft group):
//
//   request:  [u64 id][u8 write mode][u8 read mode][u64 min index][u32 argc] argc x [bytes arg]
//   response: [u64 id][u8 status][u64 leader][u64 write index][bytes reply, RESP-encoded]
//
// A response with status `retry` means the command was not run (the node
// does not lead the shard, or not yet); `leader` is its best guess.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kv/resp.h"

namespace fjord::kv {

enum class WriteMode : uint8_t { sync = 0, async = 1 };
enum class ReadMode : uint8_t { linearizable = 0, lease = 1, stale = 2 };

struct ShardRequest {
    uint64_t group{0};
    Command command;
    WriteMode write_mode{WriteMode::sync};
    ReadMode read_mode{ReadMode::linearizable};
    uint64_t min_index{0};  // the connection's last write to the shard: reads wait until it is applied
};

struct ShardAnswer {
    enum class Status : uint8_t { answer = 0, retry = 1 };
    Status status{Status::answer};
    uint64_t leader{0};
    uint64_t write_index{0};  // the Raft index of a write's record; 0 for reads
    Reply reply;
};

std::string encode_request(uint64_t id, const ShardRequest& request);
Result<std::pair<uint64_t, ShardRequest>, std::string> decode_request(std::string_view bytes, uint64_t group);
std::string encode_answer(uint64_t id, const ShardAnswer& answer);
Result<std::pair<uint64_t, ShardAnswer>, std::string> decode_answer(std::string_view bytes);

}  // namespace fjord::kv
