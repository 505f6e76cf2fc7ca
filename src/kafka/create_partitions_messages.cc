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

bool in_range(int16_t version) {
    return version >= kCreatePartitionsMinVersion && version <= kCreatePartitionsMaxVersion;
}

std::string unsupported(const char* direction, int16_t version) {
    return "CreatePartitions " + std::string(direction) + " version " + std::to_string(version) +
           " is not supported (" + std::to_string(kCreatePartitionsMinVersion) + "-" +
           std::to_string(kCreatePartitionsMaxVersion) + ")";
}

// Kafka refuses a null where the schema does not allow one; so does fjord.
std::string read_string(Reader& r, const char* what) {
    std::optional<std::string> s = r.nullable_string(what);
    if (!s && r.ok()) r.fail(what, "null, but the field is not nullable");
    return s.value_or(std::string());
}

// nullopt for a null array.
template <typename ReadOne>
auto read_nullable_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    std::optional<std::vector<decltype(read_one())>> out;
    int32_t n = r.array(what, min_element_size);
    if (n < 0) return out;
    out.emplace();
    out->reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out->push_back(read_one());
    return out;
}

template <typename ReadOne>
auto read_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    auto out = read_nullable_array(r, what, min_element_size, read_one);
    if (!out && r.ok()) r.fail(what, "null, but the array is not nullable");
    return std::move(out).value_or(typename decltype(out)::value_type());
}

template <typename T, typename WriteOne>
void write_array(Writer& w, const std::vector<T>& items, WriteOne write_one) {
    w.array(items.size());
    for (const T& item : items) write_one(item);
}

template <typename T>
Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) {
    std::string where = "CreatePartitions v" + std::to_string(version) + " " + direction + ": ";
    if (!r.ok()) return make_unexpected(where + r.error());
    if (r.remaining() > 0) {
        return make_unexpected(where + std::to_string(r.remaining()) +
                               " trailing bytes after the last field");
    }
    return value;
}

CreatePartitionsRequest::Assignment read_assignment(Reader& r) {
    CreatePartitionsRequest::Assignment a;
    a.broker_ids = read_array(r, "topics.assignments.broker_ids", 4,
                              [&] { return r.i32("topics.assignments.broker_ids"); });
    return a;
}

CreatePartitionsRequest::Topic read_topic(Reader& r) {
    CreatePartitionsRequest::Topic t;
    t.name = read_string(r, "topics.name");
    t.count = r.i32("topics.count");
    t.assignments =
        read_nullable_array(r, "topics.assignments", kMinAssignmentSize, [&] { return read_assignment(r); });
    return t;
}

void write_topic(Writer& w, const CreatePartitionsRequest::Topic& t) {
    w.string(t.name);
    w.i32(t.count);
    if (!t.assignments) return w.null_array();
    write_array(w, *t.assignments, [&](const CreatePartitionsRequest::Assignment& a) {
        write_array(w, a.broker_ids, [&](int32_t id) { w.i32(id); });
    });
}

CreatePartitionsResponse::TopicResult read_result(Reader& r) {
    CreatePartitionsResponse::TopicResult t;
    t.name = read_string(r, "results.name");
    t.error_code = r.i16("results.error_code");
    t.error_message = r.nullable_string("results.error_message");
    return t;
}

}  // namespace

Result<CreatePartitionsRequest, std::string> decode_create_partitions_request(std::string_view body,
                                                                              int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("request", version));
    Reader r(body);
    CreatePartitionsRequest req;
    req.topics = read_array(r, "topics", kMinTopicSize, [&] { return read_topic(r); });
    req.timeout_ms = r.i32("timeout_ms");
    req.validate_only = r.boolean("validate_only");
    return finish(r, std::move(req), "request", version);
}

void encode_create_partitions_request(std::string& out, const CreatePartitionsRequest& request,
                                      int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    write_array(w, request.topics, [&](const CreatePartitionsRequest::Topic& t) { write_topic(w, t); });
    w.i32(request.timeout_ms);
    w.boolean(request.validate_only);
}

Result<CreatePartitionsResponse, std::string> decode_create_partitions_response(std::string_view body,
                                                                                int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("response", version));
    Reader r(body);
    CreatePartitionsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.results = read_array(r, "results", kMinTopicResultSize, [&] { return read_result(r); });
    return finish(r, std::move(resp), "response", version);
}

void encode_create_partitions_response(std::string& out, const CreatePartitionsResponse& response,
                                       int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_array(w, response.results, [&](const CreatePartitionsResponse::TopicResult& t) {
        w.string(t.name);
        w.i16(t.error_code);
        w.nullable_string(t.error_message);
    });
}

}  // namespace fjord::kafka
