// The topic admin APIs: CreateTopics, DeleteTopics and CreatePartitions. All
// three are served by the controller's leader (clients send them to the
// controller named in Metadata); elsewhere they answer NOT_CONTROLLER.
#include <spdlog/spdlog.h>

#include "kafka/broker_state.h"
#include "kafka/create_partitions_messages.h"
#include "kafka/create_topics_messages.h"
#include "kafka/delete_topics_messages.h"

namespace fjord::kafka {

namespace {

// Counts down the topics of one request; answers when the last is settled.
template <typename Body>
struct TopicsCall {
    Body response;
    int16_t version{0};
    size_t pending{0};
    BrokerState::Done done;
    std::function<void(std::string&, const Body&, int16_t)> encode;

    void settled() {
        if (--pending > 0) return;
        std::string out;
        encode(out, response, version);
        done(Response::reply(std::move(out)));
    }
};

}  // namespace

void BrokerState::create_topics(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_create_topics_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed CreateTopics request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<TopicsCall<CreateTopicsResponse>>();
    call->version = h.api_version;
    call->done = std::move(done);
    call->encode = [](std::string& out, const CreateTopicsResponse& r, int16_t v) {
        encode_create_topics_response(out, r, v);
    };
    call->pending = request->topics.size() + 1;
    for (size_t i = 0; i < request->topics.size(); ++i) {
        const CreateTopicsRequest::Topic& t = request->topics[i];
        call->response.topics.push_back({t.name, 0, std::nullopt});
        auto settle = [call, i](ErrorCode code, std::string message) {
            auto& r = call->response.topics[i];
            r.error_code = static_cast<int16_t>(code);
            if (code != ErrorCode::none) r.error_message = std::move(message);
            call->settled();
        };
        if (!t.assignments.empty()) {
            settle(ErrorCode::invalid_request, "manual replica assignment is not supported");
            continue;
        }
        cluster::CreateTopic create;
        create.name = t.name;
        create.partitions = t.num_partitions;  // -1: the default (see ClusterNode::with_defaults)
        create.replication_factor = t.replication_factor;
        for (const auto& c : t.configs) {
            if (c.value) create.configs[c.name] = *c.value;
        }
        change_metadata(create, request->validate_only, settle);
    }
    call->settled();
}

void BrokerState::delete_topics(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_delete_topics_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed DeleteTopics request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<TopicsCall<DeleteTopicsResponse>>();
    call->version = h.api_version;
    call->done = std::move(done);
    call->encode = [](std::string& out, const DeleteTopicsResponse& r, int16_t v) {
        encode_delete_topics_response(out, r, v);
    };
    call->pending = request->topic_names.size() + 1;
    for (size_t i = 0; i < request->topic_names.size(); ++i) {
        call->response.responses.push_back({request->topic_names[i], 0});
        change_metadata(cluster::DeleteTopic{request->topic_names[i]}, false,
                        [call, i](ErrorCode code, std::string) {
                            call->response.responses[i].error_code = static_cast<int16_t>(code);
                            call->settled();
                        });
    }
    call->settled();
}

}  // namespace fjord::kafka

namespace fjord::kafka {

void BrokerState::create_partitions(const RequestHeader& h, std::string_view body, Done done) {
    auto request = decode_create_partitions_request(body, h.api_version);
    if (!request) {
        spdlog::warn("kafka: malformed CreatePartitions request: {}", request.error());
        return done(Response::close());
    }
    auto call = std::make_shared<TopicsCall<CreatePartitionsResponse>>();
    call->version = h.api_version;
    call->done = std::move(done);
    call->encode = [](std::string& out, const CreatePartitionsResponse& r, int16_t v) {
        encode_create_partitions_response(out, r, v);
    };
    call->pending = request->topics.size() + 1;
    for (size_t i = 0; i < request->topics.size(); ++i) {
        const CreatePartitionsRequest::Topic& t = request->topics[i];
        call->response.results.push_back({t.name, 0, std::nullopt});
        auto settle = [call, i](ErrorCode code, std::string message) {
            auto& r = call->response.results[i];
            r.error_code = static_cast<int16_t>(code);
            if (code != ErrorCode::none) r.error_message = std::move(message);
            call->settled();
        };
        if (t.assignments) {
            settle(ErrorCode::invalid_request, "manual replica assignment is not supported");
            continue;
        }
        change_metadata(cluster::AddPartitions{t.name, t.count}, request->validate_only, settle);
    }
    call->settled();
}

}  // namespace fjord::kafka
