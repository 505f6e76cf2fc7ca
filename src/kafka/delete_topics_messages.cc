// DeleteTopics v0-1 bodies (schemas/DeleteTopicsRequest.json and
// DeleteTopicsResponse.json):
//
//   request:  [topic_names: string], int32 timeout_ms
//   response: int32 throttle_time_ms (v1+),
//             [responses: name, int16 error_code]
#include "kafka/delete_topics_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings.
constexpr size_t kMinTopicNameSize = 2;
constexpr size_t kMinTopicResultSize = 2 + 2;

constexpr VersionedCodec kCodec{"DeleteTopics", kDeleteTopicsMinVersion, kDeleteTopicsMaxVersion};

DeleteTopicsResponse::TopicResult read_result(Reader& r) {
    DeleteTopicsResponse::TopicResult t;
    t.name = r.non_null_string("responses.name");
    t.error_code = r.i16("responses.error_code");
    return t;
}

}  // namespace

Result<DeleteTopicsRequest, std::string> decode_delete_topics_request(std::string_view body,
                                                                      int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    DeleteTopicsRequest req;
    req.topic_names =
        read_vector(r, "topic_names", kMinTopicNameSize, [&] { return r.non_null_string("topic_names"); });
    req.timeout_ms = r.i32("timeout_ms");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_delete_topics_request(std::string& out, const DeleteTopicsRequest& request, int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.topic_names, [&](const std::string& name) { w.string(name); });
    w.i32(request.timeout_ms);
}

Result<DeleteTopicsResponse, std::string> decode_delete_topics_response(std::string_view body,
                                                                        int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("response", version));
    Reader r(body);
    DeleteTopicsResponse resp;
    if (version >= 1) resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.responses = read_vector(r, "responses", kMinTopicResultSize, [&] { return read_result(r); });
    return kCodec.finish(r, std::move(resp), "response", version);
}

void encode_delete_topics_response(std::string& out, const DeleteTopicsResponse& response, int16_t version) {
    assert(kCodec.supports(version));
    Writer w(out);
    if (version >= 1) w.i32(response.throttle_time_ms);
    write_vector(w, response.responses, [&](const DeleteTopicsResponse::TopicResult& t) {
        w.string(t.name);
        w.i16(t.error_code);
    });
}

}  // namespace fjord::kafka
