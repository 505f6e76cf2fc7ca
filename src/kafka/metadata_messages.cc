#include "kafka/metadata_messages.h"

#include <cassert>

#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kKey = static_cast<int16_t>(ApiKey::metadata);

// The smallest encodings, in any version: a string is at least its length,
// an array at least its count.
constexpr size_t kMinTopicNameSize = 2;
constexpr size_t kMinBrokerSize = 4 + 2 + 4;
constexpr size_t kMinTopicSize = 2 + 2 + 4;
constexpr size_t kMinPartitionSize = 2 + 4 + 4 + 4 + 4;

std::string unsupported_version(int16_t version) {
    return "Metadata v" + std::to_string(version) + " is not supported";
}

// ---------------------------------------------------------------------------
// Request.

std::optional<std::vector<std::string>> read_requested_topics(Reader& r, int16_t version) {
    int32_t n = r.array("topics", kMinTopicNameSize);
    if (n < 0 && version == 0) r.fail("topics", "null array in v0");
    if (n < 0 || (n == 0 && version == 0)) return std::nullopt;  // all topics
    std::vector<std::string> topics;
    topics.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) topics.push_back(r.string("topics name"));
    return topics;
}

void write_requested_topics(Writer& w, const std::optional<std::vector<std::string>>& topics,
                            int16_t version) {
    if (!topics) {
        if (version == 0) return w.array(0);
        return w.null_array();
    }
    w.array(topics->size());
    for (const std::string& name : *topics) w.string(name);
}

// ---------------------------------------------------------------------------
// Response.

std::vector<int32_t> read_node_ids(Reader& r, const char* what) {
    return read_vector(r, what, 4, [&] { return r.i32(what); });
}

void write_node_ids(Writer& w, const std::vector<int32_t>& ids) {
    write_vector(w, ids, [&](int32_t id) { w.i32(id); });
}

MetadataBroker read_broker(Reader& r, int16_t version) {
    MetadataBroker b;
    b.node_id = r.i32("brokers node_id");
    b.host = r.string("brokers host");
    b.port = r.i32("brokers port");
    if (version >= 1) b.rack = r.nullable_string("brokers rack");
    return b;
}

void write_broker(Writer& w, const MetadataBroker& b, int16_t version) {
    w.i32(b.node_id);
    w.string(b.host);
    w.i32(b.port);
    if (version >= 1) w.nullable_string(b.rack);
}

MetadataPartition read_partition(Reader& r, int16_t version) {
    MetadataPartition p;
    p.error_code = r.i16("partitions error_code");
    p.partition_index = r.i32("partitions partition_index");
    p.leader_id = r.i32("partitions leader_id");
    if (version >= 7) p.leader_epoch = r.i32("partitions leader_epoch");
    p.replica_nodes = read_node_ids(r, "partitions replica_nodes");
    p.isr_nodes = read_node_ids(r, "partitions isr_nodes");
    if (version >= 5) p.offline_replicas = read_node_ids(r, "partitions offline_replicas");
    return p;
}

void write_partition(Writer& w, const MetadataPartition& p, int16_t version) {
    w.i16(p.error_code);
    w.i32(p.partition_index);
    w.i32(p.leader_id);
    if (version >= 7) w.i32(p.leader_epoch);
    write_node_ids(w, p.replica_nodes);
    write_node_ids(w, p.isr_nodes);
    if (version >= 5) write_node_ids(w, p.offline_replicas);
}

MetadataTopic read_topic(Reader& r, int16_t version) {
    MetadataTopic t;
    t.error_code = r.i16("topics error_code");
    t.name = r.string("topics name");
    if (version >= 1) t.is_internal = r.boolean("topics is_internal");
    t.partitions =
        read_vector(r, "topics partitions", kMinPartitionSize, [&] { return read_partition(r, version); });
    return t;
}

void write_topic(Writer& w, const MetadataTopic& t, int16_t version) {
    w.i16(t.error_code);
    w.string(t.name);
    if (version >= 1) w.boolean(t.is_internal);
    write_vector(w, t.partitions, [&](const MetadataPartition& p) { write_partition(w, p, version); });
}

}  // namespace

Result<MetadataRequest, std::string> decode_metadata_request(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    MetadataRequest req;
    req.topics = read_requested_topics(r, version);
    if (version >= 4) req.allow_auto_topic_creation = r.boolean("allow_auto_topic_creation");
    return finish_decode(r, std::move(req), "Metadata request");
}

void encode_metadata_request(std::string& out, const MetadataRequest& request, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    write_requested_topics(w, request.topics, version);
    if (version >= 4) w.boolean(request.allow_auto_topic_creation);
}

void encode_metadata_response(std::string& out, const MetadataResponse& response, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    if (version >= 3) w.i32(response.throttle_time_ms);
    write_vector(w, response.brokers, [&](const MetadataBroker& b) { write_broker(w, b, version); });
    if (version >= 2) w.nullable_string(response.cluster_id);
    if (version >= 1) w.i32(response.controller_id);
    write_vector(w, response.topics, [&](const MetadataTopic& t) { write_topic(w, t, version); });
}

Result<MetadataResponse, std::string> decode_metadata_response(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    MetadataResponse resp;
    if (version >= 3) resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.brokers = read_vector(r, "brokers", kMinBrokerSize, [&] { return read_broker(r, version); });
    if (version >= 2) resp.cluster_id = r.nullable_string("cluster_id");
    if (version >= 1) resp.controller_id = r.i32("controller_id");
    resp.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r, version); });
    return finish_decode(r, std::move(resp), "Metadata response");
}

}  // namespace fjord::kafka
