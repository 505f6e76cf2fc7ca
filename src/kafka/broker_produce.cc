// Produce: validate each partition's batch, propose it to the partition's
// Raft group, and answer per the acks: -1 once committed (a majority has it
// on disk), 1 once the leader wrote it, 0 never.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kafka/broker_state.h"
#include "kafka/produce_messages.h"
#include "storage/record_batch.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kAttributeCompressionMask = 0x07;
constexpr int16_t kAttributeTransactional = 0x10;
constexpr int16_t kCompressionZstd = 4;

// Kafka's LogValidator rules for one partition's records (see docs/kafka.md).
ErrorCode validate(std::string_view records, int16_t version, int64_t max_message_bytes, int32_t& count) {
    auto header = storage::validate_batch(records);
    if (!header) {
        switch (header.error()) {
            case storage::BatchError::bad_magic:
            case storage::BatchError::bad_offsets:
                return ErrorCode::invalid_record;
            default:
                return ErrorCode::corrupt_message;
        }
    }
    if (header->size != records.size()) return ErrorCode::invalid_record;  // exactly one batch
    if (header->records_count <= 0) return ErrorCode::invalid_record;
    if (header->is_control() || (header->attributes & kAttributeTransactional))
        return ErrorCode::invalid_record;
    int16_t codec = header->attributes & kAttributeCompressionMask;
    if (codec > kCompressionZstd) return ErrorCode::corrupt_message;
    if (codec == kCompressionZstd && version < 7) return ErrorCode::unsupported_compression_type;
    if (static_cast<int64_t>(records.size()) > max_message_bytes) return ErrorCode::message_too_large;
    count = header->records_count;
    return ErrorCode::none;
}

// One Produce request in flight: answered when every partition is settled
// or the request's timeout passes, whichever comes first.
struct ProduceCall {
    ProduceResponse response;
    int16_t version{0};
    size_t pending{0};
    bool answered{false};
    bool failed_silently{false};  // acks=0 and something failed: close the connection
    BrokerState::Done done;
    std::unique_ptr<boost::asio::steady_timer> timer;

    void settle(size_t t, size_t p, ErrorCode code, int64_t base_offset, int64_t log_start) {
        auto& part = response.responses[t].partitions[p];
        part.error_code = static_cast<int16_t>(code);
        part.base_offset = code == ErrorCode::none ? base_offset : -1;
        part.log_start_offset = log_start;
        if (code != ErrorCode::none) failed_silently = true;
        if (--pending == 0) answer();
    }
    void answer() {
        if (answered) return;
        answered = true;
        if (timer) timer->cancel();
        std::string out;
        encode_produce_response(out, response, version);
        done(Response::reply(std::move(out)));
    }
};

}  // namespace

void BrokerState::produce(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_produce_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed Produce request: {}", request.error());
        return done(Response::close());
    }
    int16_t acks = request->acks;
    auto call = std::make_shared<ProduceCall>();
    call->version = h.api_version;
    call->done = std::move(done);
    for (const ProduceTopicData& topic : request->topics) {
        ProduceTopicResponse tr{topic.name, {}};
        for (const ProducePartitionData& p : topic.partitions)
            tr.partitions.push_back({p.index, 0, -1, -1, -1});
        call->response.responses.push_back(std::move(tr));
        call->pending += topic.partitions.size();
    }
    if (call->pending == 0) return call->answer();
    if (acks != 0 && acks != 1 && acks != -1) {
        for (auto& t : call->response.responses)
            for (auto& p : t.partitions)
                p.error_code = static_cast<int16_t>(ErrorCode::invalid_required_acks);
        return call->answer();
    }

    for (size_t t = 0; t < request->topics.size(); ++t) {
        const ProduceTopicData& topic = request->topics[t];
        if (!node.metadata().topic(topic.name) && node.config().auto_create_topics) {
            node.request_topic(cluster::CreateTopic{topic.name, 0, 0, {}});
        }
        for (size_t p = 0; p < topic.partitions.size(); ++p) {
            const ProducePartitionData& part = topic.partitions[p];
            if (topic.name == cluster::kKvTopic) {
                // The key-value shards take their own records only (kv/effect.h).
                call->settle(t, p, ErrorCode::invalid_topic, -1, -1);
                continue;
            }
            auto leader = node.local_leader(topic.name, part.index);
            if (!leader) {
                call->settle(t, p, error_of(leader.error()), -1, -1);
                continue;
            }
            cluster::Replica& replica = **leader;
            int64_t log_start = replica.log().start_offset();
            int32_t count = 0;
            ErrorCode invalid =
                part.records
                    ? validate(*part.records, h.api_version,
                               topic_number(topic.name, "max.message.bytes", kDefaultMaxMessageBytes), count)
                    : ErrorCode::invalid_record;
            if (invalid != ErrorCode::none) {
                call->settle(t, p, invalid, -1, log_start);
                continue;
            }
            if (acks == -1) {
                cluster::LeaderReport report = replica.report();
                int64_t in_sync =
                    1 + std::count_if(report.followers.begin(), report.followers.end(),
                                      [](const cluster::FollowerReport& f) { return f.in_sync; });
                int64_t min_isr =
                    topic_number(topic.name, "min.insync.replicas", node.config().min_insync_replicas);
                if (in_sync < min_isr) {
                    call->settle(t, p, ErrorCode::not_enough_replicas, -1, log_start);
                    continue;
                }
            }
            replica.propose(
                std::string(*part.records), static_cast<uint32_t>(count),
                [call, t, p, log_start](Result<cluster::Appended, cluster::ProposeError> r) {
                    if (r) return call->settle(t, p, ErrorCode::none, r->base_offset, log_start);
                    const cluster::ProposeError& e = r.error();
                    bool storage = e.code == cluster::ProposeErrc::failed ||
                                   e.code == cluster::ProposeErrc::storage_full;
                    ErrorCode code = storage ? ErrorCode::kafka_storage_error
                                     : e.code == cluster::ProposeErrc::invalid ? ErrorCode::invalid_record
                                     : e.code == cluster::ProposeErrc::busy
                                         ? ErrorCode::request_timed_out
                                         : ErrorCode::not_leader_or_follower;
                    call->settle(t, p, code, -1, log_start);
                },
                acks != -1);
        }
    }
    if (acks == 0) {
        // No answer at all; a failure closes the connection so that the
        // client notices and refreshes its metadata, as Kafka does.
        bool failed = call->failed_silently;
        call->answered = true;
        return call->done(failed ? Response::close() : Response::none());
    }
    if (call->answered) return;
    call->timer = std::make_unique<boost::asio::steady_timer>(
        io, std::chrono::milliseconds(std::max(request->timeout_ms, 0)));
    call->timer->async_wait([call](boost::system::error_code ec) {
        if (ec || call->answered) return;
        for (auto& t : call->response.responses) {
            for (auto& p : t.partitions) {
                if (p.base_offset < 0 && p.error_code == 0)
                    p.error_code = static_cast<int16_t>(ErrorCode::request_timed_out);
            }
        }
        call->answer();
    });
}

}  // namespace fjord::kafka
