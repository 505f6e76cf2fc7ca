// CreatePartitions v0-1 bodies (schemas/CreatePartitionsRequest.json and
// CreatePartitionsResponse.json), both versions one layout:
//
//   request:  [topics: name, int32 count,
//              nullable [assignments: [int32 broker_ids]]],
//             int32 timeout_ms, bool validate_only
//   response: int32 throttle_time_ms,
//             [results: name, int16 error_code, nullable error_message]
#include "kafka/create_partitions_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinTopicSize = 2 + 4 + 4;
constexpr size_t kMinAssignmentSize = 4;
constexpr size_t kMinTopicResultSize = 2 + 2 + 2;

constexpr VersionedCodec kCodec{"CreatePartitions", kCreatePartitionsMinVersion, kCreatePartitionsMaxVersion};

CreatePartitionsRequest::Assignment read_assignment(Reader& r) {
    CreatePartitionsRequest::Assignment a;
    a.broker_ids = read_vector(r, "topics.assignments.broker_ids", 4,
                               [&] { return r.i32("topics.assignments.broker_ids"); });
    return a;
}

CreatePartitionsRequest::Topic read_topic(Reader& r) {
    CreatePartitionsRequest::Topic t;
    t.name = r.non_null_string("topics.name");
    t.count = r.i32("topics.count");
    t.assignments =
        read_optional_vector(r, "topics.assignments", kMinAssignmentSize, [&] { return read_assignment(r); });
    return t;
}

void write_topic(Writer& w, const CreatePartitionsRequest::Topic& t) {
    w.string(t.name);
    w.i32(t.count);
    if (!t.assignments) return w.null_array();
    write_vector(w, *t.assignments, [&](const CreatePartitionsRequest::Assignment& a) {
        write_vector(w, a.broker_ids, [&](int32_t id) { w.i32(id); });
    });
}

CreatePartitionsResponse::TopicResult read_result(Reader& r) {
    CreatePartitionsResponse::TopicResult t;
    t.name = r.non_null_string("results.name");
    t.error_code = r.i16("results.error_code");
    t.error_message = r.nullable_string("results.error_message");
    return t;
}

}  // namespace

Result<CreatePartitionsRequest, std::string> decode_create_partitions_request(std::string_view body,
                                                                              int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    CreatePartitionsRequest req;
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r); });
    req.timeout_ms = r.i32("timeout_ms");
    req.validate_only = r.boolean("validate_only");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_create_partitions_request(std::string& out, const CreatePartitionsRequest& request,
                                      int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.topics, [&](const CreatePartitionsRequest::Topic& t) { write_topic(w, t); });
    w.i32(request.timeout_ms);
    w.boolean(request.validate_only);
}

Result<CreatePartitionsResponse, std::string> decode_create_partitions_response(std::string_view body,
                                                                                int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("response", version));
    Reader r(body);
    CreatePartitionsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.results = read_vector(r, "results", kMinTopicResultSize, [&] { return read_result(r); });
    return kCodec.finish(r, std::move(resp), "response", version);
}

void encode_create_partitions_response(std::string& out, const CreatePartitionsResponse& response,
                                       int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_vector(w, response.results, [&](const CreatePartitionsResponse::TopicResult& t) {
        w.string(t.name);
        w.i16(t.error_code);
        w.nullable_string(t.error_message);
    });
}

}  // namespace fjord::kafka
