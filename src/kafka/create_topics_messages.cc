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

bool in_range(int16_t version) {
    return version >= kCreateTopicsMinVersion && version <= kCreateTopicsMaxVersion;
}

std::string unsupported(const char* direction, int16_t version) {
    return "CreateTopics " + std::string(direction) + " version " + std::to_string(version) +
           " is not supported (" + std::to_string(kCreateTopicsMinVersion) + "-" +
           std::to_string(kCreateTopicsMaxVersion) + ")";
}

// Kafka refuses a null where the schema does not allow one; so does fjord.
std::string read_string(Reader& r, const char* what) {
    std::optional<std::string> s = r.nullable_string(what);
    if (!s && r.ok()) r.fail(what, "null, but the field is not nullable");
    return s.value_or(std::string());
}

template <typename ReadOne>
auto read_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    std::vector<decltype(read_one())> out;
    int32_t n = r.array(what, min_element_size);
    if (n < 0) r.fail(what, "null, but the array is not nullable");
    if (n > 0) out.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(read_one());
    return out;
}

template <typename T, typename WriteOne>
void write_array(Writer& w, const std::vector<T>& items, WriteOne write_one) {
    w.array(items.size());
    for (const T& item : items) write_one(item);
}

template <typename T>
Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) {
    std::string where = "CreateTopics v" + std::to_string(version) + " " + direction + ": ";
    if (!r.ok()) return make_unexpected(where + r.error());
    if (r.remaining() > 0) {
        return make_unexpected(where + std::to_string(r.remaining()) +
                               " trailing bytes after the last field");
    }
    return value;
}

CreateTopicsRequest::Assignment read_assignment(Reader& r) {
    CreateTopicsRequest::Assignment a;
    a.partition_index = r.i32("topics.assignments.partition_index");
    a.broker_ids = read_array(r, "topics.assignments.broker_ids", 4,
                              [&] { return r.i32("topics.assignments.broker_ids"); });
    return a;
}

CreateTopicsRequest::Config read_config(Reader& r) {
    CreateTopicsRequest::Config c;
    c.name = read_string(r, "topics.configs.name");
    c.value = r.nullable_string("topics.configs.value");
    return c;
}

CreateTopicsRequest::Topic read_topic(Reader& r) {
    CreateTopicsRequest::Topic t;
    t.name = read_string(r, "topics.name");
    t.num_partitions = r.i32("topics.num_partitions");
    t.replication_factor = r.i16("topics.replication_factor");
    t.assignments =
        read_array(r, "topics.assignments", kMinAssignmentSize, [&] { return read_assignment(r); });
    t.configs = read_array(r, "topics.configs", kMinConfigSize, [&] { return read_config(r); });
    return t;
}

void write_topic(Writer& w, const CreateTopicsRequest::Topic& t) {
    w.string(t.name);
    w.i32(t.num_partitions);
    w.i16(t.replication_factor);
    write_array(w, t.assignments, [&](const CreateTopicsRequest::Assignment& a) {
        w.i32(a.partition_index);
        write_array(w, a.broker_ids, [&](int32_t id) { w.i32(id); });
    });
    write_array(w, t.configs, [&](const CreateTopicsRequest::Config& c) {
        w.string(c.name);
        w.nullable_string(c.value);
    });
}

CreateTopicsResponse::Topic read_topic_result(Reader& r) {
    CreateTopicsResponse::Topic t;
    t.name = read_string(r, "topics.name");
    t.error_code = r.i16("topics.error_code");
    t.error_message = r.nullable_string("topics.error_message");
    return t;
}

}  // namespace

Result<CreateTopicsRequest, std::string> decode_create_topics_request(std::string_view body,
                                                                      int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("request", version));
    Reader r(body);
    CreateTopicsRequest req;
    req.topics = read_array(r, "topics", kMinTopicSize, [&] { return read_topic(r); });
    req.timeout_ms = r.i32("timeout_ms");
    req.validate_only = r.boolean("validate_only");
    return finish(r, std::move(req), "request", version);
}

void encode_create_topics_request(std::string& out, const CreateTopicsRequest& request, int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    write_array(w, request.topics, [&](const CreateTopicsRequest::Topic& t) { write_topic(w, t); });
    w.i32(request.timeout_ms);
    w.boolean(request.validate_only);
}

Result<CreateTopicsResponse, std::string> decode_create_topics_response(std::string_view body,
                                                                        int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("response", version));
    Reader r(body);
    CreateTopicsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.topics = read_array(r, "topics", kMinTopicResultSize, [&] { return read_topic_result(r); });
    return finish(r, std::move(resp), "response", version);
}

void encode_create_topics_response(std::string& out, const CreateTopicsResponse& response, int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_array(w, response.topics, [&](const CreateTopicsResponse::Topic& t) {
        w.string(t.name);
        w.i16(t.error_code);
        w.nullable_string(t.error_message);
    });
}

}  // namespace fjord::kafka
