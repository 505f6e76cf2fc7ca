// DeleteTopics v0-1 bodies (schemas/DeleteTopicsRequest.json and
// DeleteTopicsResponse.json):
//
//   request:  [topic_names: string], int32 timeout_ms
//   response: int32 throttle_time_ms (v1+),
//             [responses: name, int16 error_code]
#include "kafka/delete_topics_messages.h"

#include <cassert>
#include <optional>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings.
constexpr size_t kMinTopicNameSize = 2;
constexpr size_t kMinTopicResultSize = 2 + 2;

bool in_range(int16_t version) {
    return version >= kDeleteTopicsMinVersion && version <= kDeleteTopicsMaxVersion;
}

std::string unsupported(const char* direction, int16_t version) {
    return "DeleteTopics " + std::string(direction) + " version " + std::to_string(version) +
           " is not supported (" + std::to_string(kDeleteTopicsMinVersion) + "-" +
           std::to_string(kDeleteTopicsMaxVersion) + ")";
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

template <typename T>
Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) {
    std::string where = "DeleteTopics v" + std::to_string(version) + " " + direction + ": ";
    if (!r.ok()) return make_unexpected(where + r.error());
    if (r.remaining() > 0) {
        return make_unexpected(where + std::to_string(r.remaining()) +
                               " trailing bytes after the last field");
    }
    return value;
}

DeleteTopicsResponse::TopicResult read_result(Reader& r) {
    DeleteTopicsResponse::TopicResult t;
    t.name = read_string(r, "responses.name");
    t.error_code = r.i16("responses.error_code");
    return t;
}

}  // namespace

Result<DeleteTopicsRequest, std::string> decode_delete_topics_request(std::string_view body,
                                                                      int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("request", version));
    Reader r(body);
    DeleteTopicsRequest req;
    req.topic_names =
        read_array(r, "topic_names", kMinTopicNameSize, [&] { return read_string(r, "topic_names"); });
    req.timeout_ms = r.i32("timeout_ms");
    return finish(r, std::move(req), "request", version);
}

void encode_delete_topics_request(std::string& out, const DeleteTopicsRequest& request, int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    w.array(request.topic_names.size());
    for (const std::string& name : request.topic_names) w.string(name);
    w.i32(request.timeout_ms);
}

Result<DeleteTopicsResponse, std::string> decode_delete_topics_response(std::string_view body,
                                                                        int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("response", version));
    Reader r(body);
    DeleteTopicsResponse resp;
    if (version >= 1) resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.responses = read_array(r, "responses", kMinTopicResultSize, [&] { return read_result(r); });
    return finish(r, std::move(resp), "response", version);
}

void encode_delete_topics_response(std::string& out, const DeleteTopicsResponse& response, int16_t version) {
    assert(in_range(version));
    Writer w(out);
    if (version >= 1) w.i32(response.throttle_time_ms);
    w.array(response.responses.size());
    for (const DeleteTopicsResponse::TopicResult& t : response.responses) {
        w.string(t.name);
        w.i16(t.error_code);
    }
}

}  // namespace fjord::kafka
