// Topic configs: DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
// Changes go through the controller (SetTopicConfig), so they are served by
// the controller's leader; describing works on any node. Broker resources
// are described (the node's settings, read-only) but not altered.
#include <spdlog/spdlog.h>

#include "kafka/alter_configs_messages.h"
#include "kafka/broker_state.h"
#include "kafka/describe_configs_messages.h"
#include "kafka/incremental_alter_configs_messages.h"

namespace fjord::kafka {

namespace {

// Every topic config fjord knows, with Kafka's defaults.
const std::map<std::string, std::string>& topic_defaults() {
    static const std::map<std::string, std::string> defaults{
        {"cleanup.policy", "delete"},     {"flush.ms", "1000"},
        {"flush.policy", "every_append"}, {"max.message.bytes", std::to_string(kDefaultMaxMessageBytes)},
        {"min.insync.replicas", "1"},     {"retention.bytes", "-1"},
        {"retention.ms", "604800000"},    {"segment.bytes", "1073741824"},
        {"segment.ms", "604800000"},
    };
    return defaults;
}

bool wanted(const std::optional<std::vector<std::string>>& keys, const std::string& key) {
    return !keys || std::find(keys->begin(), keys->end(), key) != keys->end();
}

DescribeConfigsResponse::Config config_entry(const std::string& name, const std::string& value,
                                             ConfigSource source, bool read_only, bool synonyms) {
    DescribeConfigsResponse::Config c;
    c.name = name;
    c.value = value;
    c.read_only = read_only;
    c.config_source = static_cast<int8_t>(source);
    if (synonyms) c.synonyms.push_back({name, value, static_cast<int8_t>(source)});
    return c;
}

}  // namespace

void BrokerState::describe_configs(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_describe_configs_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed DescribeConfigs request: {}", request.error());
        return done(Response::close());
    }
    DescribeConfigsResponse response;
    for (const auto& resource : request->resources) {
        DescribeConfigsResponse::ResourceResult result;
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name;
        auto type = static_cast<ConfigResourceType>(resource.resource_type);
        if (type == ConfigResourceType::topic) {
            const cluster::TopicInfo* topic = node.metadata().topic(resource.resource_name);
            if (!topic) {
                result.error_code = static_cast<int16_t>(ErrorCode::unknown_topic_or_partition);
                result.error_message = "topic '" + resource.resource_name + "' does not exist";
            } else {
                auto values = topic_defaults();
                values["min.insync.replicas"] = std::to_string(node.config().min_insync_replicas);
                for (const auto& [key, value] : values) {
                    if (!wanted(resource.configuration_keys, key)) continue;
                    auto set = topic->configs.find(key);
                    bool overridden = set != topic->configs.end();
                    result.configs.push_back(
                        config_entry(key, overridden ? set->second : value,
                                     overridden ? ConfigSource::dynamic_topic : ConfigSource::default_config,
                                     false, request->include_synonyms));
                }
            }
        } else if (type == ConfigResourceType::broker) {
            const cluster::NodeConfig& c = node.config();
            const std::map<std::string, std::string> settings{
                {"auto.create.topics.enable", c.auto_create_topics ? "true" : "false"},
                {"broker.id", std::to_string(c.node_id)},
                {"default.replication.factor", std::to_string(c.default_replication_factor)},
                {"min.insync.replicas", std::to_string(c.min_insync_replicas)},
                {"num.partitions", std::to_string(c.default_partitions)},
                {"replica.lag.time.max.ms", std::to_string(c.replica_lag_time_ms)},
            };
            for (const auto& [key, value] : settings) {
                if (wanted(resource.configuration_keys, key))
                    result.configs.push_back(config_entry(key, value, ConfigSource::static_broker, true,
                                                          request->include_synonyms));
            }
        } else {
            result.error_code = static_cast<int16_t>(ErrorCode::invalid_request);
            result.error_message =
                "resource type " + std::to_string(resource.resource_type) + " is not supported";
        }
        response.results.push_back(std::move(result));
    }
    std::string out;
    encode_describe_configs_response(out, response, h.api_version);
    done(Response::reply(std::move(out)));
}

namespace {

// Settles the resources of one alter request as their commands commit.
template <typename Body>
struct AlterCall {
    Body response;
    int16_t version{0};
    size_t pending{1};
    BrokerState::Done done;
    std::function<void(std::string&, const Body&, int16_t)> encode;
    void settle(size_t i, ErrorCode code, const std::string& message) {
        response.responses[i].error_code = static_cast<int16_t>(code);
        if (code != ErrorCode::none) response.responses[i].error_message = message;
        release();
    }
    // Drops the hold taken at construction (pending starts at 1), or one resource's.
    void release() {
        if (--pending > 0) return;
        std::string out;
        encode(out, response, version);
        done(Response::reply(std::move(out)));
    }
};

// Validates and (unless validate_only) commits one SetTopicConfig.
template <typename Call>
void alter_topic(BrokerState& state, const std::shared_ptr<Call>& call, size_t i, int8_t type,
                 cluster::SetTopicConfig change, bool validate_only) {
    ++call->pending;
    if (static_cast<ConfigResourceType>(type) != ConfigResourceType::topic)
        return call->settle(i, ErrorCode::invalid_request, "only topic configs can be altered");
    state.change_metadata(change, validate_only,
                          [call, i](ErrorCode code, std::string message) { call->settle(i, code, message); });
}

}  // namespace

void BrokerState::alter_configs(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_alter_configs_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed AlterConfigs request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<AlterCall<AlterConfigsResponse>>();
    call->version = h.api_version;
    call->done = std::move(done);
    call->encode = [](std::string& out, const AlterConfigsResponse& r, int16_t v) {
        encode_alter_configs_response(out, r, v);
    };
    for (size_t i = 0; i < request->resources.size(); ++i) {
        const auto& resource = request->resources[i];
        call->response.responses.push_back({0, std::nullopt, resource.resource_type, resource.resource_name});
        // AlterConfigs replaces the whole set: what is not given returns to its default.
        cluster::SetTopicConfig change{resource.resource_name, {}, {}};
        for (const auto& c : resource.configs) {
            if (c.value) change.set[c.name] = *c.value;
        }
        if (const cluster::TopicInfo* topic = node.metadata().topic(resource.resource_name)) {
            for (const auto& [key, value] : topic->configs) {
                if (!change.set.contains(key)) change.remove.push_back(key);
            }
        }
        alter_topic(*this, call, i, resource.resource_type, std::move(change), request->validate_only);
    }
    call->release();
}

void BrokerState::incremental_alter_configs(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_incremental_alter_configs_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed IncrementalAlterConfigs request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<AlterCall<IncrementalAlterConfigsResponse>>();
    call->version = h.api_version;
    call->done = std::move(done);
    call->encode = [](std::string& out, const IncrementalAlterConfigsResponse& r, int16_t v) {
        encode_incremental_alter_configs_response(out, r, v);
    };
    for (size_t i = 0; i < request->resources.size(); ++i) {
        const auto& resource = request->resources[i];
        call->response.responses.push_back({0, std::nullopt, resource.resource_type, resource.resource_name});
        cluster::SetTopicConfig change{resource.resource_name, {}, {}};
        bool list_operation = false;
        for (const auto& c : resource.configs) {
            auto op = static_cast<ConfigOperation>(c.config_operation);
            if (op == ConfigOperation::set && c.value) {
                change.set[c.name] = *c.value;
            } else if (op == ConfigOperation::remove) {
                change.remove.push_back(c.name);
            } else {
                list_operation = true;
            }
        }
        if (list_operation) {
            ++call->pending;
            call->settle(i, ErrorCode::invalid_request, "only SET and DELETE apply to fjord's topic configs");
            continue;
        }
        alter_topic(*this, call, i, resource.resource_type, std::move(change), request->validate_only);
    }
    call->release();
}

}  // namespace fjord::kafka
