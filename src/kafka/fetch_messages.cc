#include "kafka/fetch_messages.h"

#include <cassert>
#include <limits>

#include "common/big_endian.h"
#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kKey = static_cast<int16_t>(ApiKey::fetch);

// The smallest encodings in any supported version: a string or bytes is at
// least its length, an array at least its count.
constexpr size_t kMinTopicSize = 2 + 4;
constexpr size_t kMinPartitionSize = 4 + 8 + 4;
constexpr size_t kMinPartitionResponseSize = 4 + 2 + 8 + 8 + 4 + 4;
constexpr size_t kMinAbortedTransactionSize = 8 + 8;

std::string unsupported_version(int16_t version) {
    return "Fetch v" + std::to_string(version) + " is not supported";
}

// ---------------------------------------------------------------------------
// Request.

FetchPartition read_partition(Reader& r, int16_t version) {
    FetchPartition p;
    p.partition = r.i32("partitions partition");
    if (version >= 9) p.current_leader_epoch = r.i32("partitions current_leader_epoch");
    p.fetch_offset = r.i64("partitions fetch_offset");
    if (version >= 5) p.log_start_offset = r.i64("partitions log_start_offset");
    p.partition_max_bytes = r.i32("partitions partition_max_bytes");
    return p;
}

void write_partition(Writer& w, const FetchPartition& p, int16_t version) {
    w.i32(p.partition);
    if (version >= 9) w.i32(p.current_leader_epoch);
    w.i64(p.fetch_offset);
    if (version >= 5) w.i64(p.log_start_offset);
    w.i32(p.partition_max_bytes);
}

FetchTopic read_topic(Reader& r, int16_t version) {
    FetchTopic t;
    t.topic = r.string("topics topic");
    t.partitions =
        read_vector(r, "topics partitions", kMinPartitionSize, [&] { return read_partition(r, version); });
    return t;
}

void write_topic(Writer& w, const FetchTopic& t, int16_t version) {
    w.string(t.topic);
    write_vector(w, t.partitions, [&](const FetchPartition& p) { write_partition(w, p, version); });
}

FetchForgottenTopic read_forgotten_topic(Reader& r) {
    FetchForgottenTopic t;
    t.topic = r.string("forgotten_topics_data topic");
    t.partitions = read_vector(r, "forgotten_topics_data partitions", 4,
                               [&] { return r.i32("forgotten_topics_data partitions"); });
    return t;
}

void write_forgotten_topic(Writer& w, const FetchForgottenTopic& t) {
    w.string(t.topic);
    write_vector(w, t.partitions, [&](int32_t p) { w.i32(p); });
}

// ---------------------------------------------------------------------------
// Response.

std::optional<std::vector<FetchAbortedTransaction>> read_aborted_transactions(Reader& r) {
    const char* what = "partitions aborted_transactions";
    int32_t n = r.array(what, kMinAbortedTransactionSize);
    if (n < 0) return std::nullopt;
    std::vector<FetchAbortedTransaction> txns;
    txns.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) {
        FetchAbortedTransaction t;
        t.producer_id = r.i64("aborted_transactions producer_id");
        t.first_offset = r.i64("aborted_transactions first_offset");
        txns.push_back(t);
    }
    return txns;
}

void write_aborted_transactions(Writer& w, const std::optional<std::vector<FetchAbortedTransaction>>& txns) {
    if (!txns) return w.null_array();
    write_vector(w, *txns, [&](const FetchAbortedTransaction& t) {
        w.i64(t.producer_id);
        w.i64(t.first_offset);
    });
}

FetchPartitionResponse read_partition_response(Reader& r, int16_t version) {
    FetchPartitionResponse p;
    p.partition_index = r.i32("partitions partition_index");
    p.error_code = r.i16("partitions error_code");
    p.high_watermark = r.i64("partitions high_watermark");
    p.last_stable_offset = r.i64("partitions last_stable_offset");
    if (version >= 5) p.log_start_offset = r.i64("partitions log_start_offset");
    p.aborted_transactions = read_aborted_transactions(r);
    if (version >= 11) p.preferred_read_replica = r.i32("partitions preferred_read_replica");
    p.records = r.nullable_bytes("partitions records");
    return p;
}

FetchTopicResponse read_topic_response(Reader& r, int16_t version) {
    FetchTopicResponse t;
    t.topic = r.string("responses topic");
    t.partitions = read_vector(r, "responses partitions", kMinPartitionResponseSize,
                               [&] { return read_partition_response(r, version); });
    return t;
}

}  // namespace

Result<FetchRequest, std::string> decode_fetch_request(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    FetchRequest req;
    req.replica_id = r.i32("replica_id");
    req.max_wait_ms = r.i32("max_wait_ms");
    req.min_bytes = r.i32("min_bytes");
    req.max_bytes = r.i32("max_bytes");
    req.isolation_level = r.i8("isolation_level");
    if (version >= 7) {
        req.session_id = r.i32("session_id");
        req.session_epoch = r.i32("session_epoch");
    }
    req.topics = read_vector(r, "topics", kMinTopicSize, [&] { return read_topic(r, version); });
    if (version >= 7) {
        req.forgotten_topics_data =
            read_vector(r, "forgotten_topics_data", kMinTopicSize, [&] { return read_forgotten_topic(r); });
    }
    if (version >= 11) req.rack_id = r.string("rack_id");
    return finish_decode(r, std::move(req), "Fetch request");
}

void encode_fetch_request(std::string& out, const FetchRequest& request, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    w.i32(request.replica_id);
    w.i32(request.max_wait_ms);
    w.i32(request.min_bytes);
    w.i32(request.max_bytes);
    w.i8(request.isolation_level);
    if (version >= 7) {
        w.i32(request.session_id);
        w.i32(request.session_epoch);
    }
    write_vector(w, request.topics, [&](const FetchTopic& t) { write_topic(w, t, version); });
    if (version >= 7) {
        write_vector(w, request.forgotten_topics_data,
                     [&](const FetchForgottenTopic& t) { write_forgotten_topic(w, t); });
    }
    if (version >= 11) w.string(request.rack_id);
}

void encode_fetch_response(std::string& out, const FetchResponse& response, int16_t version) {
    FetchResponseWriter writer(out, version, response.throttle_time_ms, response.error_code,
                               response.session_id);
    for (const FetchTopicResponse& t : response.responses) {
        writer.begin_topic(t.topic);
        for (const FetchPartitionResponse& p : t.partitions) writer.add_partition(p);
    }
}

Result<FetchResponse, std::string> decode_fetch_response(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    FetchResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    if (version >= 7) {
        resp.error_code = r.i16("error_code");
        resp.session_id = r.i32("session_id");
    }
    resp.responses =
        read_vector(r, "responses", kMinTopicSize, [&] { return read_topic_response(r, version); });
    return finish_decode(r, std::move(resp), "Fetch response");
}

// ---------------------------------------------------------------------------
// FetchResponseWriter.

FetchResponseWriter::FetchResponseWriter(std::string& out, int16_t version, int32_t throttle_time_ms,
                                         int16_t error_code, int32_t session_id)
    : _out(out), _version(version) {
    assert(supported(kKey, version));
    Writer w(_out);
    w.i32(throttle_time_ms);
    if (_version >= 7) {
        w.i16(error_code);
        w.i32(session_id);
    }
    _topic_count_at = _out.size();
    w.array(0);
}

void FetchResponseWriter::begin_topic(std::string_view topic) {
    assert(!_in_partition);
    bump_count(_topic_count_at);
    Writer w(_out);
    w.string(topic);
    _partition_count_at = _out.size();
    w.array(0);
    _in_topic = true;
}

void FetchResponseWriter::add_partition(const FetchPartitionResponse& p) {
    write_partition_fields(p);
    Writer w(_out);
    if (p.records) return w.bytes(*p.records);
    w.null_bytes();
}

std::string& FetchResponseWriter::begin_partition(const FetchPartitionResponse& p) {
    write_partition_fields(p);
    _records_length_at = _out.size();
    Writer(_out).i32(0);
    _in_partition = true;
    return _out;
}

void FetchResponseWriter::end_partition() {
    assert(_in_partition);
    size_t length = _out.size() - _records_length_at - 4;
    assert(length <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
    be::store32(_out.data() + _records_length_at, static_cast<uint32_t>(length));
    _in_partition = false;
}

void FetchResponseWriter::write_partition_fields(const FetchPartitionResponse& p) {
    assert(_in_topic && !_in_partition);
    bump_count(_partition_count_at);
    Writer w(_out);
    w.i32(p.partition_index);
    w.i16(p.error_code);
    w.i64(p.high_watermark);
    w.i64(p.last_stable_offset);
    if (_version >= 5) w.i64(p.log_start_offset);
    write_aborted_transactions(w, p.aborted_transactions);
    if (_version >= 11) w.i32(p.preferred_read_replica);
}

// Array counts are written as 0 and counted up in place, so nothing has to
// be known, or buffered, before the elements are written.
void FetchResponseWriter::bump_count(size_t at) {
    be::store32(_out.data() + at, be::load32(_out.data() + at) + 1);
}

}  // namespace fjord::kafka
