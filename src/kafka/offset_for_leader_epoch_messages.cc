// OffsetForLeaderEpoch v0-3 bodies (schemas/OffsetForLeaderEpochRequest.json
// and OffsetForLeaderEpochResponse.json):
//
//   request:  int32 replica_id (v3+),
//             [topics: topic, [partitions: int32 partition,
//                              int32 current_leader_epoch (v2+),
//                              int32 leader_epoch]]
//   response: int32 throttle_time_ms (v2+),
//             [topics: topic, [partitions: int16 error_code, int32 partition,
//                              int32 leader_epoch (v1+), int64 end_offset]]
#include "kafka/offset_for_leader_epoch_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

using Request = OffsetForLeaderEpochRequest;
using Response = OffsetForLeaderEpochResponse;

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinTopicSize = 2 + 4;

size_t min_partition_size(int16_t version) {
    return 4 + (version >= 2 ? 4 : 0) + 4;
}
size_t min_partition_result_size(int16_t version) {
    return 2 + 4 + (version >= 1 ? 4 : 0) + 8;
}

constexpr VersionedCodec kCodec{"OffsetForLeaderEpoch", kOffsetForLeaderEpochMinVersion,
                                kOffsetForLeaderEpochMaxVersion};

Request::Partition read_partition(Reader& r, int16_t version) {
    Request::Partition p;
    p.partition = r.i32("topics.partitions.partition");
    if (version >= 2) p.current_leader_epoch = r.i32("topics.partitions.current_leader_epoch");
    p.leader_epoch = r.i32("topics.partitions.leader_epoch");
    return p;
}

Request::Topic read_topic(Reader& r, int16_t version) {
    Request::Topic t;
    t.topic = r.non_null_string("topics.topic");
    t.partitions = read_vector(r, "topics.partitions", min_partition_size(version),
                               [&] { return read_partition(r, version); });
    return t;
}

void write_topic(Writer& w, const Request::Topic& t, int16_t version) {
    w.string(t.topic);
    write_vector(w, t.partitions, [&](const Request::Partition& p) {
        w.i32(p.partition);
        if (version >= 2) w.i32(p.current_leader_epoch);
        w.i32(p.leader_epoch);
    });
}

Response::Partition read_partition_result(Reader& r, int16_t version) {
    Response::Partition p;
    p.error_code = r.i16("topics.partitions.error_code");
    p.partition = r.i32("topics.partitions.partition");
    if (version >= 1) p.leader_epoch = r.i32("topics.partitions.leader_epoch");
    p.end_offset = r.i64("topics.partitions.end_offset");
    return p;
}

Response::Topic read_topic_result(Reader& r, int16_t version) {
    Response::Topic t;
    t.topic = r.non_null_string("topics.topic");
    t.partitions = read_vector(r, "topics.partitions", min_partition_result_size(version),
                               [&] { return read_partition_result(r, version); });
    return t;
}

void write_topic_result(Writer& w, const Response::Topic& t, int16_t version) {
    w.string(t.topic);
    write_vector(w, t.partitions, [&](const Response::Partition& p) {
        w.i16(p.error_code);
        w.i32(p.partition);
        if (version >= 1) w.i32(p.leader_epoch);
        w.i64(p.end_offset);
    });
}

}  // namespace

Result<OffsetForLeaderEpochRequest, std::string> decode_offset_for_leader_epoch_request(std::string_view body,
                                                                                        int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    Request req;
    if (version >= 3) req.replica_id = r.i32("replica_id");
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r, version); });
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_offset_for_leader_epoch_request(std::string& out, const OffsetForLeaderEpochRequest& request,
                                            int16_t version) {
    assert(kCodec.supports(version));
    Writer w(out);
    if (version >= 3) w.i32(request.replica_id);
    write_vector(w, request.topics, [&](const Request::Topic& t) { write_topic(w, t, version); });
}

Result<OffsetForLeaderEpochResponse, std::string> decode_offset_for_leader_epoch_response(
    std::string_view body, int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("response", version));
    Reader r(body);
    Response resp;
    if (version >= 2) resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic_result(r, version); });
    return kCodec.finish(r, std::move(resp), "response", version);
}

void encode_offset_for_leader_epoch_response(std::string& out, const OffsetForLeaderEpochResponse& response,
                                             int16_t version) {
    assert(kCodec.supports(version));
    Writer w(out);
    if (version >= 2) w.i32(response.throttle_time_ms);
    write_vector(w, response.topics, [&](const Response::Topic& t) { write_topic_result(w, t, version); });
}

}  // namespace fjord::kafka
