#include "kafka/broker.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/host_port.h"
#include "kafka/api_versions.h"
#include "kafka/broker_state.h"
#include "kafka/metadata_messages.h"

namespace fjord::kafka {

Broker::Broker(boost::asio::io_context& io, cluster::ClusterNode& node)
    : _state(std::make_shared<BrokerState>(io, node)) {
    node.set_applied_listener([state = std::weak_ptr<BrokerState>(_state)](uint64_t group) {
        if (auto s = state.lock()) s->on_applied(group);
    });
}

Broker::~Broker() {
    _state->node.set_applied_listener({});
}

void Broker::handle(const RequestHeader& h, std::string_view body, std::function<void(Response)> answer) {
    BrokerState& s = *_state;
    auto done = [state = std::weak_ptr<BrokerState>(_state), api = h.api_key, answer = std::move(answer),
                 started = std::chrono::steady_clock::now()](Response r) {
        if (auto st = state.lock()) {
            st->node.observe_request(
                "kafka", name_of(api),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        }
        answer(std::move(r));
    };
    switch (static_cast<ApiKey>(h.api_key)) {
        case ApiKey::api_versions:
            return s.api_versions(h, body, std::move(done));
        case ApiKey::metadata:
            return s.metadata(h, body, std::move(done));
        case ApiKey::produce:
            return s.produce(h, body, std::move(done));
        case ApiKey::fetch:
            return s.fetch(h, body, std::move(done));
        case ApiKey::list_offsets:
            return s.list_offsets(h, body, std::move(done));
        case ApiKey::offset_for_leader_epoch:
            return s.offset_for_leader_epoch(h, body, std::move(done));
        case ApiKey::create_topics:
            return s.create_topics(h, body, std::move(done));
        case ApiKey::delete_topics:
            return s.delete_topics(h, body, std::move(done));
        case ApiKey::create_partitions:
            return s.create_partitions(h, body, std::move(done));
        case ApiKey::describe_configs:
            return s.describe_configs(h, body, std::move(done));
        case ApiKey::alter_configs:
            return s.alter_configs(h, body, std::move(done));
        case ApiKey::incremental_alter_configs:
            return s.incremental_alter_configs(h, body, std::move(done));
    }
    done(Response::close());
}

void BrokerState::api_versions(const RequestHeader& h, std::string_view body, Done done) {
    std::string out;
    if (!supported(h.api_key, h.api_version)) {
        encode_unsupported_api_versions_response(out);
        return done(Response::reply(std::move(out)));
    }
    if (auto request = decode_api_versions_request(body, h.api_version); !request) {
        spdlog::warn("kafka: malformed ApiVersions request: {}", request.error());
        return done(Response::close());
    }
    ApiVersionsResponse response;
    for (const ApiRange& r : supported_apis())
        response.api_keys.push_back({static_cast<int16_t>(r.key), r.min, r.max});
    encode_api_versions_response(out, response, h.api_version);
    done(Response::reply(std::move(out)));
}

namespace {

MetadataTopic describe_topic(const cluster::ClusterNode& node, const cluster::TopicInfo& topic,
                             const std::set<uint64_t>& alive) {
    MetadataTopic t;
    t.name = topic.name;
    t.is_internal = topic.name == cluster::kKvTopic;
    for (const cluster::PartitionInfo& p : topic.partitions) {
        MetadataPartition mp;
        mp.partition_index = p.partition;
        auto view = node.partition(topic.name, p.partition);
        mp.leader_id = view ? static_cast<int32_t>(view->leader) : -1;
        if (view && view->leader >= 0) mp.leader_epoch = static_cast<int32_t>(view->term);
        for (uint64_t r : p.replicas) {
            mp.replica_nodes.push_back(static_cast<int32_t>(r));
            if (!alive.contains(r)) mp.offline_replicas.push_back(static_cast<int32_t>(r));
        }
        if (view) {
            for (uint64_t r : view->isr) mp.isr_nodes.push_back(static_cast<int32_t>(r));
        }
        if (mp.leader_id < 0) mp.error_code = static_cast<int16_t>(ErrorCode::leader_not_available);
        t.partitions.push_back(std::move(mp));
    }
    return t;
}

bool valid_topic_name(const std::string& name) {
    if (name.empty() || name.size() > cluster::kMaxTopicNameLength || name == "." || name == "..")
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

}  // namespace

void BrokerState::metadata(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_metadata_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed Metadata request: {}", request.error());
        return done(Response::close());
    }
    MetadataResponse response;
    std::set<uint64_t> alive;
    for (const cluster::NodeView& n : node.nodes()) {
        if (n.alive) alive.insert(n.info.id);
        if (n.info.kafka_addr.empty()) continue;
        auto [host, port] = split_host_port(n.info.kafka_addr);
        response.brokers.push_back({static_cast<int32_t>(n.info.id), host, port, std::nullopt});
    }
    response.cluster_id = cluster::cluster_id_of(node.config().initial_cluster);
    uint64_t controller = node.controller_leader();
    response.controller_id = controller == 0 ? -1 : static_cast<int32_t>(controller);
    const cluster::Metadata& md = node.metadata();
    if (!request->topics) {
        for (const auto& [name, topic] : md.topics())
            response.topics.push_back(describe_topic(node, topic, alive));
    } else {
        for (const std::string& name : *request->topics) {
            if (const cluster::TopicInfo* topic = md.topic(name)) {
                response.topics.push_back(describe_topic(node, *topic, alive));
                continue;
            }
            MetadataTopic missing;
            missing.name = name;
            if (!valid_topic_name(name)) {
                missing.error_code = static_cast<int16_t>(ErrorCode::invalid_topic);
            } else if (request->allow_auto_topic_creation && node.config().auto_create_topics) {
                node.request_topic(cluster::CreateTopic{name, 0, 0, {}});
                missing.error_code = static_cast<int16_t>(ErrorCode::leader_not_available);
            } else {
                missing.error_code = static_cast<int16_t>(ErrorCode::unknown_topic_or_partition);
            }
            response.topics.push_back(std::move(missing));
        }
    }
    std::string out;
    encode_metadata_response(out, response, h.api_version);
    done(Response::reply(std::move(out)));
}

void BrokerState::change_metadata(const cluster::MetadataCommand& requested, bool validate_only,
                                  Settle settle) {
    cluster::MetadataCommand command = requested;
    if (auto* create = std::get_if<cluster::CreateTopic>(&command)) *create = node.with_defaults(*create);
    // Any node validates (the metadata is replicated everywhere) and forwards
    // the change to the controller's leader, as Kafka's brokers do in KRaft
    // mode: clients may send AlterConfigs to any broker.
    if (validate_only) {
        auto checked = node.metadata().check(command);
        if (checked) return settle(ErrorCode::none, "");
        return settle(
            error_of(cluster::ClusterError{cluster::ClusterErrc::invalid, "", 0, checked.error().code}),
            checked.error().detail);
    }
    node.submit_anywhere(command, [this, settle = std::move(settle)](cluster::ClusterResult<Ok> r) {
        settle(r ? ErrorCode::none : error_of(r.error()), r ? "" : r.error().detail);
    });
}

int64_t BrokerState::topic_number(const std::string& topic, const std::string& key, int64_t fallback) const {
    const cluster::TopicInfo* t = node.metadata().topic(topic);
    if (!t) return fallback;
    auto it = t->configs.find(key);
    return it == t->configs.end() ? fallback : std::stoll(it->second);
}

ErrorCode BrokerState::error_of(const cluster::ClusterError& e) const {
    using cluster::ClusterErrc;
    switch (e.code) {
        case ClusterErrc::not_leader:
            return ErrorCode::not_leader_or_follower;
        case ClusterErrc::not_controller:
            return ErrorCode::not_controller;
        case ClusterErrc::unknown_topic:
        case ClusterErrc::unknown_partition:
            return ErrorCode::unknown_topic_or_partition;
        case ClusterErrc::already_exists:
            return ErrorCode::topic_already_exists;
        case ClusterErrc::busy:
        case ClusterErrc::timeout:
            return ErrorCode::request_timed_out;
        case ClusterErrc::failed:
            return ErrorCode::kafka_storage_error;
        case ClusterErrc::invalid:
            break;
    }
    if (e.metadata_code) {
        switch (*e.metadata_code) {
            case cluster::MetadataErrc::topic_exists:
                return ErrorCode::topic_already_exists;
            case cluster::MetadataErrc::unknown_topic:
                return ErrorCode::unknown_topic_or_partition;
            case cluster::MetadataErrc::invalid_topic_name:
                return ErrorCode::invalid_topic;
            case cluster::MetadataErrc::invalid_partitions:
                return ErrorCode::invalid_partitions;
            case cluster::MetadataErrc::invalid_replication_factor:
                return ErrorCode::invalid_replication_factor;
            case cluster::MetadataErrc::invalid_config:
                return ErrorCode::invalid_config;
            case cluster::MetadataErrc::invalid_node:
                break;
        }
    }
    return ErrorCode::invalid_request;
}

}  // namespace fjord::kafka
