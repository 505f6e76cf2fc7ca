#include "kafka/produce_messages.h"

#include <cassert>

#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kKey = static_cast<int16_t>(ApiKey::produce);

// The smallest encodings: a string or bytes is at least its length, an array
// at least its count. Every version here has log_append_time_ms (v2+).
constexpr size_t kMinTopicSize = 2 + 4;
constexpr size_t kMinPartitionDataSize = 4 + 4;
constexpr size_t kMinPartitionResponseSize = 4 + 2 + 8 + 8;

std::string unsupported_version(int16_t version) {
    return "Produce v" + std::to_string(version) + " is not supported";
}

ProducePartitionData read_partition_data(Reader& r) {
    ProducePartitionData p;
    p.index = r.i32("partitions index");
    p.records = r.nullable_bytes("partitions records");
    return p;
}

ProduceTopicData read_topic_data(Reader& r) {
    ProduceTopicData t;
    t.name = r.string("topics name");
    t.partitions =
        read_vector(r, "topics partitions", kMinPartitionDataSize, [&] { return read_partition_data(r); });
    return t;
}

void write_topic_data(Writer& w, const ProduceTopicData& t) {
    w.string(t.name);
    write_vector(w, t.partitions, [&](const ProducePartitionData& p) {
        w.i32(p.index);
        if (p.records) return w.bytes(*p.records);
        w.null_bytes();
    });
}

ProducePartitionResponse read_partition_response(Reader& r, int16_t version) {
    ProducePartitionResponse p;
    p.index = r.i32("partitions index");
    p.error_code = r.i16("partitions error_code");
    p.base_offset = r.i64("partitions base_offset");
    p.log_append_time_ms = r.i64("partitions log_append_time_ms");
    if (version >= 5) p.log_start_offset = r.i64("partitions log_start_offset");
    return p;
}

void write_partition_response(Writer& w, const ProducePartitionResponse& p, int16_t version) {
    w.i32(p.index);
    w.i16(p.error_code);
    w.i64(p.base_offset);
    w.i64(p.log_append_time_ms);
    if (version >= 5) w.i64(p.log_start_offset);
}

ProduceTopicResponse read_topic_response(Reader& r, int16_t version) {
    ProduceTopicResponse t;
    t.name = r.string("responses name");
    t.partitions = read_vector(r, "responses partitions", kMinPartitionResponseSize,
                               [&] { return read_partition_response(r, version); });
    return t;
}

void write_topic_response(Writer& w, const ProduceTopicResponse& t, int16_t version) {
    w.string(t.name);
    write_vector(w, t.partitions,
                 [&](const ProducePartitionResponse& p) { write_partition_response(w, p, version); });
}

}  // namespace

Result<ProduceRequest, std::string> decode_produce_request(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    ProduceRequest req;
    req.transactional_id = r.nullable_string("transactional_id");
    req.acks = r.i16("acks");
    req.timeout_ms = r.i32("timeout_ms");
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic_data(r); });
    return finish_decode(r, std::move(req), "Produce request");
}

// The layout is the same in every supported version.
void encode_produce_request(std::string& out, const ProduceRequest& request,
                            [[maybe_unused]] int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    w.nullable_string(request.transactional_id);
    w.i16(request.acks);
    w.i32(request.timeout_ms);
    write_vector(w, request.topics, [&](const ProduceTopicData& t) { write_topic_data(w, t); });
}

void encode_produce_response(std::string& out, const ProduceResponse& response, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    write_vector(w, response.responses,
                 [&](const ProduceTopicResponse& t) { write_topic_response(w, t, version); });
    w.i32(response.throttle_time_ms);
}

Result<ProduceResponse, std::string> decode_produce_response(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    ProduceResponse resp;
    resp.responses =
        read_vector(r, "responses", kMinTopicSize, [&] { return read_topic_response(r, version); });
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    return finish_decode(r, std::move(resp), "Produce response");
}

}  // namespace fjord::kafka
