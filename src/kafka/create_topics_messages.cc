// CreateTopics v2-4 bodies (schemas/CreateTopicsRequest.json and
// CreateTopicsResponse.json), all versions one layout:
//
//   request:  [topics: name, int32 num_partitions, int16 replication_factor,
//              [assignments: int32 partition_index, [int32 broker_ids]],
//              [configs: name, nullable value]],
//             int32 timeout_ms, bool validate_only
//   response: int32 throttle_time_ms,
//             [topics: name, int16 error_code, nullable error_message]
#include "kafka/create_topics_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinTopicSize = 2 + 4 + 2 + 4 + 4;
constexpr size_t kMinAssignmentSize = 4 + 4;
constexpr size_t kMinConfigSize = 2 + 2;
constexpr size_t kMinTopicResultSize = 2 + 2 + 2;

constexpr VersionedCodec kCodec{"CreateTopics", kCreateTopicsMinVersion, kCreateTopicsMaxVersion};

CreateTopicsRequest::Assignment read_assignment(Reader& r) {
    CreateTopicsRequest::Assignment a;
    a.partition_index = r.i32("topics.assignments.partition_index");
    a.broker_ids = read_vector(r, "topics.assignments.broker_ids", 4,
                               [&] { return r.i32("topics.assignments.broker_ids"); });
    return a;
}

CreateTopicsRequest::Config read_config(Reader& r) {
    CreateTopicsRequest::Config c;
    c.name = r.non_null_string("topics.configs.name");
    c.value = r.nullable_string("topics.configs.value");
    return c;
}

CreateTopicsRequest::Topic read_topic(Reader& r) {
    CreateTopicsRequest::Topic t;
    t.name = r.non_null_string("topics.name");
    t.num_partitions = r.i32("topics.num_partitions");
    t.replication_factor = r.i16("topics.replication_factor");
    t.assignments =
        read_vector(r, "topics.assignments", kMinAssignmentSize, [&] { return read_assignment(r); });
    t.configs = read_vector(r, "topics.configs", kMinConfigSize, [&] { return read_config(r); });
    return t;
}

void write_topic(Writer& w, const CreateTopicsRequest::Topic& t) {
    w.string(t.name);
    w.i32(t.num_partitions);
    w.i16(t.replication_factor);
    write_vector(w, t.assignments, [&](const CreateTopicsRequest::Assignment& a) {
        w.i32(a.partition_index);
        write_vector(w, a.broker_ids, [&](int32_t id) { w.i32(id); });
    });
    write_vector(w, t.configs, [&](const CreateTopicsRequest::Config& c) {
        w.string(c.name);
        w.nullable_string(c.value);
    });
}

CreateTopicsResponse::Topic read_topic_result(Reader& r) {
    CreateTopicsResponse::Topic t;
    t.name = r.non_null_string("topics.name");
    t.error_code = r.i16("topics.error_code");
    t.error_message = r.nullable_string("topics.error_message");
    return t;
}

}  // namespace

Result<CreateTopicsRequest, std::string> decode_create_topics_request(std::string_view body,
                                                                      int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    CreateTopicsRequest req;
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r); });
    req.timeout_ms = r.i32("timeout_ms");
    req.validate_only = r.boolean("validate_only");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_create_topics_request(std::string& out, const CreateTopicsRequest& request, int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.topics, [&](const CreateTopicsRequest::Topic& t) { write_topic(w, t); });
    w.i32(request.timeout_ms);
    w.boolean(request.validate_only);
}

Result<CreateTopicsResponse, std::string> decode_create_topics_response(std::string_view body,
                                                                        int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("response", version));
    Reader r(body);
    CreateTopicsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.topics = read_vector(r, "topics", kMinTopicResultSize, [&] { return read_topic_result(r); });
    return kCodec.finish(r, std::move(resp), "response", version);
}

void encode_create_topics_response(std::string& out, const CreateTopicsResponse& response, int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_vector(w, response.topics, [&](const CreateTopicsResponse::Topic& t) {
        w.string(t.name);
        w.i16(t.error_code);
        w.nullable_string(t.error_message);
    });
}

}  // namespace fjord::kafka
