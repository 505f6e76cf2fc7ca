// OffsetForLeaderEpoch (API key 23), classic versions 0-3: the request and
// response bodies (what follows the request/response header) as structs, and
// their codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// Consumers ask where a leader epoch ended, to detect log truncation after a
// leader change. Fields a version lacks keep the schema's default when
// decoded and are left out when encoded:
//   v1 adds the response's leader_epoch;
//   v2 adds current_leader_epoch and the response's throttle_time_ms;
//   v3 adds replica_id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kOffsetForLeaderEpochMinVersion = 0;
inline constexpr int16_t kOffsetForLeaderEpochMaxVersion = 3;

struct OffsetForLeaderEpochRequest {
    struct Partition {
        int32_t partition = 0;
        int32_t current_leader_epoch = -1;  // v2+; -1 skips the fencing check
        int32_t leader_epoch = 0;
        bool operator==(const Partition&) const = default;
    };
    struct Topic {
        std::string topic;
        std::vector<Partition> partitions;
        bool operator==(const Topic&) const = default;
    };

    int32_t replica_id = -2;  // v3+; -1 for a consumer, -2 before v3
    std::vector<Topic> topics;
    bool operator==(const OffsetForLeaderEpochRequest&) const = default;
};

struct OffsetForLeaderEpochResponse {
    struct Partition {
        int16_t error_code = 0;
        int32_t partition = 0;
        int32_t leader_epoch = -1;  // v1+
        int64_t end_offset = -1;
        bool operator==(const Partition&) const = default;
    };
    struct Topic {
        std::string topic;
        std::vector<Partition> partitions;
        bool operator==(const Topic&) const = default;
    };

    int32_t throttle_time_ms = 0;  // v2+
    std::vector<Topic> topics;
    bool operator==(const OffsetForLeaderEpochResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g.
// "OffsetForLeaderEpoch v2 request: topics.partitions.leader_epoch: needs 4
// bytes, 1 left".
Result<OffsetForLeaderEpochRequest, std::string> decode_offset_for_leader_epoch_request(std::string_view body,
                                                                                        int16_t version);
Result<OffsetForLeaderEpochResponse, std::string> decode_offset_for_leader_epoch_response(
    std::string_view body, int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_offset_for_leader_epoch_request(std::string& out, const OffsetForLeaderEpochRequest& request,
                                            int16_t version);
void encode_offset_for_leader_epoch_response(std::string& out, const OffsetForLeaderEpochResponse& response,
                                             int16_t version);

}  // namespace fjord::kafka
