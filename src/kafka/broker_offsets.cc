// ListOffsets and OffsetForLeaderEpoch: where a partition's log starts and
// ends, which offset a timestamp falls at, and where a leader epoch ends.
#include <spdlog/spdlog.h>

#include "kafka/broker_state.h"
#include "kafka/list_offsets_messages.h"
#include "kafka/offset_for_leader_epoch_messages.h"
#include "storage/record_batch.h"

namespace fjord::kafka {

namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr size_t kScanChunkBytes = 1 << 20;

// The first committed record with a timestamp at or after `ts`: (offset,
// timestamp), or (-1, -1). Reads the log from its start: batches' max
// timestamps are producer-supplied, so each candidate batch's records are
// checked one by one.
std::pair<int64_t, int64_t> offset_for_time(cluster::Replica& replica, int64_t ts) {
    int64_t hw = replica.high_watermark();
    int64_t offset = replica.log().start_offset();
    while (offset < hw) {
        auto slice = replica.log().read(offset, kScanChunkBytes);
        if (!slice || slice->bytes.empty()) break;
        std::string_view bytes = slice->bytes;
        while (!bytes.empty()) {
            auto header = storage::validate_batch(bytes);
            if (!header || header->base_offset >= hw) return {-1, -1};
            std::string_view batch = bytes.substr(0, header->size);
            bytes.remove_prefix(header->size);
            offset = header->last_offset() + 1;
            if (header->is_control() || header->max_timestamp < ts) continue;
            auto records = storage::decode_records(batch);
            if (!records) continue;  // compressed: the batch's own timestamps are all we know
            for (size_t i = 0; i < records->size(); ++i) {
                int64_t t = header->base_timestamp + (*records)[i].timestamp_delta;
                if (t >= ts) return {header->base_offset + static_cast<int64_t>(i), t};
            }
        }
    }
    return {-1, -1};
}

}  // namespace

void BrokerState::list_offsets(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_list_offsets_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed ListOffsets request: {}", request.error());
        return done(Response::close());
    }
    ListOffsetsResponse response;
    for (const ListOffsetsTopic& topic : request->topics) {
        ListOffsetsTopicResponse tr{topic.name, {}};
        for (const ListOffsetsPartition& p : topic.partitions) {
            ListOffsetsPartitionResponse pr{p.partition_index, 0, -1, -1};
            auto leader = node.local_leader(topic.name, p.partition_index);
            if (!leader) {
                pr.error_code = static_cast<int16_t>(error_of(leader.error()));
            } else if (p.timestamp == kLatest) {
                pr.offset = (*leader)->high_watermark();
            } else if (p.timestamp == kEarliest) {
                pr.offset = (*leader)->log().start_offset();
            } else {
                std::tie(pr.offset, pr.timestamp) = offset_for_time(**leader, p.timestamp);
            }
            tr.partitions.push_back(pr);
        }
        response.topics.push_back(std::move(tr));
    }
    std::string out;
    encode_list_offsets_response(out, response, h.api_version);
    done(Response::reply(std::move(out)));
}

}  // namespace fjord::kafka

namespace fjord::kafka {

void BrokerState::offset_for_leader_epoch(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_offset_for_leader_epoch_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed OffsetForLeaderEpoch request: {}", request.error());
        return done(Response::close());
    }
    OffsetForLeaderEpochResponse response;
    for (const auto& topic : request->topics) {
        OffsetForLeaderEpochResponse::Topic tr{topic.topic, {}};
        for (const auto& p : topic.partitions) {
            OffsetForLeaderEpochResponse::Partition pr{0, p.partition, -1, -1};
            auto leader = node.local_leader(topic.topic, p.partition);
            if (!leader) {
                pr.error_code = static_cast<int16_t>(error_of(leader.error()));
            } else if (p.current_leader_epoch >= 0 &&
                       static_cast<uint64_t>(p.current_leader_epoch) > (*leader)->term()) {
                pr.error_code = static_cast<int16_t>(ErrorCode::unknown_leader_epoch);
            } else {
                std::tie(pr.leader_epoch, pr.end_offset) = (*leader)->end_of_epoch(p.leader_epoch);
            }
            tr.partitions.push_back(pr);
        }
        response.topics.push_back(std::move(tr));
    }
    std::string out;
    encode_offset_for_leader_epoch_response(out, response, h.api_version);
    done(Response::reply(std::move(out)));
}

}  // namespace fjord::kafka
