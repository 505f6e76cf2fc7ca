#include "cluster/node_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>

namespace fjord::cluster {

namespace {

// 50 µs to 1 s: a page-cache append takes microseconds, an fsync milliseconds.
prometheus::Histogram::BucketBoundaries latency_buckets() {
    return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
}

// Up to 10 s: a fetch may wait up to its max wait time for data.
prometheus::Histogram::BucketBoundaries request_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace

struct NodeMetrics::Impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    prometheus::Counter& appends = prometheus::BuildCounter()
                                       .Name("fjord_storage_appends_total")
                                       .Help("Batches of entries appended to partition logs")
                                       .Register(*registry)
                                       .Add({});
    prometheus::Counter& append_bytes = prometheus::BuildCounter()
                                            .Name("fjord_storage_append_bytes_total")
                                            .Help("Bytes appended to partition logs")
                                            .Register(*registry)
                                            .Add({});
    prometheus::Histogram& append_seconds = prometheus::BuildHistogram()
                                                .Name("fjord_storage_append_seconds")
                                                .Help("Latency of a buffered append (before its fsync)")
                                                .Register(*registry)
                                                .Add({}, latency_buckets());
    prometheus::Counter& fsyncs = prometheus::BuildCounter()
                                      .Name("fjord_storage_fsyncs_total")
                                      .Help("Group commits (fsyncs) of partition logs")
                                      .Register(*registry)
                                      .Add({});
    prometheus::Histogram& fsync_seconds =
        prometheus::BuildHistogram()
            .Name("fjord_storage_fsync_seconds")
            .Help("Latency from requesting a group commit to its completion")
            .Register(*registry)
            .Add({}, latency_buckets());
    prometheus::Histogram& loop_lag_seconds =
        prometheus::BuildHistogram()
            .Name("fjord_event_loop_lag_seconds")
            .Help(
                "How late the node's Raft tick ran: time its event loop spent on other work (a large "
                "value is a stall every partition on the node waited through)")
            .Register(*registry)
            .Add({}, latency_buckets());
    prometheus::Counter& elections_won = prometheus::BuildCounter()
                                             .Name("fjord_raft_elections_won_total")
                                             .Help("Times this node became the leader of a Raft group")
                                             .Register(*registry)
                                             .Add({});
    prometheus::Counter& decode_errors = prometheus::BuildCounter()
                                             .Name("fjord_rpc_decode_errors_total")
                                             .Help("Node-to-node items that did not decode")
                                             .Register(*registry)
                                             .Add({});
    prometheus::Family<prometheus::Histogram>& requests =
        prometheus::BuildHistogram()
            .Name("fjord_request_seconds")
            .Help(
                "Time from a client request's arrival to its answer, by protocol and API (a Kafka fetch "
                "includes its wait for data, an acks=all produce its commit)")
            .Register(*registry);
    std::map<std::pair<std::string, std::string>, prometheus::Histogram*> request_by_api;
};

NodeMetrics::NodeMetrics() : _impl(std::make_unique<Impl>()) {}
NodeMetrics::~NodeMetrics() = default;

void NodeMetrics::observe_append(size_t bytes, double seconds) {
    _impl->appends.Increment();
    _impl->append_bytes.Increment(static_cast<double>(bytes));
    _impl->append_seconds.Observe(seconds);
}

void NodeMetrics::observe_fsync(double seconds) {
    _impl->fsyncs.Increment();
    _impl->fsync_seconds.Observe(seconds);
}

void NodeMetrics::observe_loop_lag(double seconds) {
    _impl->loop_lag_seconds.Observe(seconds);
}

void NodeMetrics::observe_request(std::string_view protocol, std::string_view api, double seconds) {
    std::pair<std::string, std::string> key{protocol, api};
    auto it = _impl->request_by_api.find(key);
    if (it == _impl->request_by_api.end()) {
        prometheus::Histogram& h =
            _impl->requests.Add({{"protocol", key.first}, {"api", key.second}}, request_buckets());
        it = _impl->request_by_api.emplace(std::move(key), &h).first;
    }
    it->second->Observe(seconds);
}

void NodeMetrics::observe_election_won() {
    _impl->elections_won.Increment();
}

void NodeMetrics::observe_rpc_decode_error() {
    _impl->decode_errors.Increment();
}

std::string NodeMetrics::render(const std::vector<PartitionGauges>& partitions,
                                const NodeGauges& node) const {
    prometheus::Registry state;
    auto& term = prometheus::BuildGauge().Name("fjord_raft_term").Help("Current Raft term").Register(state);
    auto& commit = prometheus::BuildGauge()
                       .Name("fjord_raft_commit_index")
                       .Help("Highest Raft index known committed")
                       .Register(state);
    auto& applied = prometheus::BuildGauge()
                        .Name("fjord_raft_applied_index")
                        .Help("Highest Raft index applied on this node")
                        .Register(state);
    auto& leader = prometheus::BuildGauge()
                       .Name("fjord_raft_is_leader")
                       .Help("1 when this node leads the partition")
                       .Register(state);
    auto& lag = prometheus::BuildGauge()
                    .Name("fjord_raft_follower_lag_entries")
                    .Help("Raft indexes a follower is behind its leader (reported by the leader)")
                    .Register(state);
    for (const PartitionGauges& p : partitions) {
        std::map<std::string, std::string> labels{{"topic", p.topic},
                                                  {"partition", std::to_string(p.partition)}};
        term.Add(labels).Set(static_cast<double>(p.term));
        commit.Add(labels).Set(static_cast<double>(p.commit_index));
        applied.Add(labels).Set(static_cast<double>(p.applied_index));
        leader.Add(labels).Set(p.leader ? 1 : 0);
        for (auto [follower, entries] : p.follower_lag) {
            auto with_follower = labels;
            with_follower["follower"] = std::to_string(follower);
            lag.Add(with_follower).Set(static_cast<double>(entries));
        }
    }
    auto counter = [&](const char* name, const char* help, uint64_t value) {
        prometheus::BuildCounter().Name(name).Help(help).Register(state).Add({}).Increment(
            static_cast<double>(value));
    };
    counter("fjord_rpc_sent_bytes_total", "Bytes sent to other nodes", node.rpc_bytes_sent);
    counter("fjord_rpc_received_bytes_total", "Bytes received from other nodes", node.rpc_bytes_received);
    counter("fjord_rpc_sent_frames_total", "Frames sent to other nodes", node.rpc_frames_sent);
    counter("fjord_rpc_received_frames_total", "Frames received from other nodes", node.rpc_frames_received);
    counter("fjord_rpc_dropped_items_total", "Messages dropped: peer not connected or too slow",
            node.rpc_items_dropped);
    counter("fjord_rpc_connection_errors_total", "Failed connects, resets, bad frames and refused peers",
            node.rpc_connection_errors);
    auto gauge = [&](const char* name, const char* help, size_t value) {
        prometheus::BuildGauge().Name(name).Help(help).Register(state).Add({}).Set(
            static_cast<double>(value));
    };
    gauge("fjord_under_replicated_partitions",
          "Partitions led by this node whose ISR is smaller than their replica set",
          node.under_replicated_partitions);
    gauge("fjord_leaderless_partitions", "Partitions with no known leader", node.leaderless_partitions);

    prometheus::TextSerializer serializer;
    return serializer.Serialize(_impl->registry->Collect()) + serializer.Serialize(state.Collect());
}

}  // namespace fjord::cluster
