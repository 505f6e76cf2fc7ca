#include "kafka/list_offsets_messages.h"

#include <cassert>

#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kKey = static_cast<int16_t>(ApiKey::list_offsets);

// The smallest encodings: a string is at least its length, an array at
// least its count.
constexpr size_t kMinTopicSize = 2 + 4;
constexpr size_t kMinPartitionSize = 4 + 8;
constexpr size_t kMinPartitionResponseSize = 4 + 2 + 8 + 8;

std::string unsupported_version(int16_t version) {
    return "ListOffsets v" + std::to_string(version) + " is not supported";
}

ListOffsetsTopic read_topic(Reader& r) {
    ListOffsetsTopic t;
    t.name = r.string("topics name");
    t.partitions = read_vector(r, "topics partitions", kMinPartitionSize, [&] {
        ListOffsetsPartition p;
        p.partition_index = r.i32("partitions partition_index");
        p.timestamp = r.i64("partitions timestamp");
        return p;
    });
    return t;
}

void write_topic(Writer& w, const ListOffsetsTopic& t) {
    w.string(t.name);
    write_vector(w, t.partitions, [&](const ListOffsetsPartition& p) {
        w.i32(p.partition_index);
        w.i64(p.timestamp);
    });
}

ListOffsetsTopicResponse read_topic_response(Reader& r) {
    ListOffsetsTopicResponse t;
    t.name = r.string("topics name");
    t.partitions = read_vector(r, "topics partitions", kMinPartitionResponseSize, [&] {
        ListOffsetsPartitionResponse p;
        p.partition_index = r.i32("partitions partition_index");
        p.error_code = r.i16("partitions error_code");
        p.timestamp = r.i64("partitions timestamp");
        p.offset = r.i64("partitions offset");
        return p;
    });
    return t;
}

void write_topic_response(Writer& w, const ListOffsetsTopicResponse& t) {
    w.string(t.name);
    write_vector(w, t.partitions, [&](const ListOffsetsPartitionResponse& p) {
        w.i32(p.partition_index);
        w.i16(p.error_code);
        w.i64(p.timestamp);
        w.i64(p.offset);
    });
}

}  // namespace

Result<ListOffsetsRequest, std::string> decode_list_offsets_request(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    ListOffsetsRequest req;
    req.replica_id = r.i32("replica_id");
    if (version >= 2) req.isolation_level = r.i8("isolation_level");
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r); });
    return finish_decode(r, std::move(req), "ListOffsets request");
}

void encode_list_offsets_request(std::string& out, const ListOffsetsRequest& request, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    w.i32(request.replica_id);
    if (version >= 2) w.i8(request.isolation_level);
    write_vector(w, request.topics, [&](const ListOffsetsTopic& t) { write_topic(w, t); });
}

void encode_list_offsets_response(std::string& out, const ListOffsetsResponse& response, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    if (version >= 2) w.i32(response.throttle_time_ms);
    write_vector(w, response.topics, [&](const ListOffsetsTopicResponse& t) { write_topic_response(w, t); });
}

Result<ListOffsetsResponse, std::string> decode_list_offsets_response(std::string_view body,
                                                                      int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    ListOffsetsResponse resp;
    if (version >= 2) resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic_response(r); });
    return finish_decode(r, std::move(resp), "ListOffsets response");
}

}  // namespace fjord::kafka
