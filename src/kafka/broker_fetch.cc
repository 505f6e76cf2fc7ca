// Fetch: whole committed batches from the partition leader's log, below the
// high watermark, long-polling until `min_bytes` are there or `max_wait_ms`
// has passed.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>

#include "kafka/broker_state.h"
#include "kafka/fetch_messages.h"
#include "storage/record_batch.h"

namespace fjord::kafka {

namespace {

// The prefix of `bytes` (whole batches) whose batches start below `end`.
size_t committed_prefix(std::string_view bytes, int64_t end) {
    size_t at = 0;
    while (bytes.size() - at >= storage::kBatchHeaderSize) {
        auto header = storage::parse_batch_header(bytes.substr(at));
        if (!header || header->base_offset >= end || header->size > bytes.size() - at) break;
        at += header->size;
    }
    return at;
}

struct FetchCall : std::enable_shared_from_this<FetchCall> {
    FetchRequest request;
    int16_t version{0};
    BrokerState::Done done;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::set<uint64_t> groups;  // of the partitions this node leads
    bool answered{false};

    // Reads what is there; answers (and returns true) when it is enough or `final`.
    bool evaluate(BrokerState& state, bool final) {
        FetchResponse response;
        std::deque<std::string> slices;  // the records the response views (a deque keeps them in place)
        size_t total = 0;
        bool error = false;
        int64_t budget = request.max_bytes;
        for (const FetchTopic& topic : request.topics) {
            FetchTopicResponse tr{topic.topic, {}};
            for (const FetchPartition& p : topic.partitions) {
                FetchPartitionResponse pr;
                pr.partition_index = p.partition;
                auto leader = state.node.local_leader(topic.topic, p.partition);
                if (!leader) {
                    pr.error_code = static_cast<int16_t>(state.error_of(leader.error()));
                    pr.records = std::string_view();
                    error = true;
                    tr.partitions.push_back(std::move(pr));
                    continue;
                }
                cluster::Replica& replica = **leader;
                groups.insert(replica.group());
                int64_t hw = replica.high_watermark();
                pr.high_watermark = hw;
                pr.last_stable_offset = hw;
                pr.log_start_offset = replica.log().start_offset();
                if (p.fetch_offset < pr.log_start_offset || p.fetch_offset > hw) {
                    pr.error_code = static_cast<int16_t>(ErrorCode::offset_out_of_range);
                    error = true;
                } else if (p.fetch_offset < hw && (budget > 0 || total == 0)) {
                    // At least one batch even above the limits, as Kafka does, so that
                    // a batch larger than them does not stall the consumer.
                    size_t limit = static_cast<size_t>(
                        std::max<int64_t>(std::min<int64_t>(p.partition_max_bytes, budget), 1));
                    auto slice = replica.log().read(p.fetch_offset, limit);
                    if (!slice) {
                        spdlog::error("kafka: fetch from {}: {}", replica.name(), slice.error().detail);
                        pr.error_code = static_cast<int16_t>(ErrorCode::kafka_storage_error);
                        error = true;
                    } else {
                        slices.push_back(std::move(slice->bytes));
                        std::string_view bytes = slices.back();
                        bytes = bytes.substr(0, committed_prefix(bytes, hw));
                        pr.records = bytes;
                        total += bytes.size();
                        budget -= static_cast<int64_t>(bytes.size());
                    }
                }
                // Empty, never null: librdkafka refuses a null record set even beside an error.
                if (!pr.records) pr.records = std::string_view();
                tr.partitions.push_back(std::move(pr));
            }
            response.responses.push_back(std::move(tr));
        }
        if (!final && !error && static_cast<int64_t>(total) < request.min_bytes) return false;
        answered = true;
        if (timer) timer->cancel();
        std::string out;
        out.reserve(total + 256);
        encode_fetch_response(out, response, version);
        done(Response::reply(std::move(out)));
        return true;
    }
};

}  // namespace

void BrokerState::fetch(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_fetch_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed Fetch request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<FetchCall>();
    call->request = std::move(*request);
    call->version = h.api_version;
    call->done = std::move(done);
    if (call->evaluate(*this, call->request.max_wait_ms <= 0)) return;

    call->timer =
        std::make_unique<boost::asio::steady_timer>(io, std::chrono::milliseconds(call->request.max_wait_ms));
    std::weak_ptr<BrokerState> weak_state = weak_from_this();
    call->timer->async_wait([call, weak_state](boost::system::error_code ec) {
        auto state = weak_state.lock();
        if (ec || call->answered || !state) return;
        call->evaluate(*state, true);
    });
    // Forget fetches the timer answered (no group has this id).
    waiting_fetches.remove_if([](const auto& wake) { return wake(UINT64_MAX); });
    waiting_fetches.push_back([this, call](uint64_t group) {
        if (call->answered) return true;
        return call->groups.contains(group) && call->evaluate(*this, false);
    });
}

void BrokerState::on_applied(uint64_t group) {
    for (auto it = waiting_fetches.begin(); it != waiting_fetches.end();) {
        it = (*it)(group) ? waiting_fetches.erase(it) : std::next(it);
    }
}

}  // namespace fjord::kafka
