#include "storage/record_batch.h"

#include <algorithm>

#include "common/big_endian.h"
#include "common/crc32c.h"

namespace fjord::storage {

std::string_view to_string(BatchError e) {
    switch (e) {
        case BatchError::truncated:
            return "truncated record batch";
        case BatchError::bad_length:
            return "impossible record batch length";
        case BatchError::bad_magic:
            return "record batch magic is not 2";
        case BatchError::bad_crc:
            return "record batch CRC mismatch";
        case BatchError::bad_offsets:
            return "record batch offsets inconsistent";
    }
    return "bad record batch";
}

Result<BatchHeader, BatchError> parse_batch_header(std::string_view b) {
    if (b.size() < kBatchHeaderSize) return make_unexpected(BatchError::truncated);
    const char* p = b.data();
    BatchHeader h;
    h.base_offset = static_cast<int64_t>(be::load64(p));
    auto length = static_cast<int32_t>(be::load32(p + 8));
    if (length < static_cast<int32_t>(kBatchHeaderSize - kBatchLengthPrefix))
        return make_unexpected(BatchError::bad_length);
    h.size = static_cast<uint32_t>(length) + kBatchLengthPrefix;
    h.leader_epoch = static_cast<int32_t>(be::load32(p + 12));
    h.magic = static_cast<int8_t>(p[16]);
    if (h.magic != 2) return make_unexpected(BatchError::bad_magic);
    h.crc = be::load32(p + 17);
    h.attributes = static_cast<int16_t>(be::load16(p + 21));
    h.last_offset_delta = static_cast<int32_t>(be::load32(p + 23));
    h.base_timestamp = static_cast<int64_t>(be::load64(p + 27));
    h.max_timestamp = static_cast<int64_t>(be::load64(p + 35));
    h.producer_id = static_cast<int64_t>(be::load64(p + 43));
    h.producer_epoch = static_cast<int16_t>(be::load16(p + 51));
    h.base_sequence = static_cast<int32_t>(be::load32(p + 53));
    h.records_count = static_cast<int32_t>(be::load32(p + 57));
    if (h.last_offset_delta < 0 || h.records_count < 0 || h.base_offset < 0 ||
        h.base_offset > INT64_MAX - h.last_offset_delta) {
        return make_unexpected(BatchError::bad_offsets);
    }
    return h;
}

Result<BatchHeader, BatchError> validate_batch(std::string_view b) {
    auto h = parse_batch_header(b);
    if (!h) return h;
    if (b.size() < h->size) return make_unexpected(BatchError::truncated);
    if (crc32c(b.substr(21, h->size - 21)) != h->crc) return make_unexpected(BatchError::bad_crc);
    return h;
}

void stamp_batch(std::string& batch, int64_t base_offset, int32_t leader_epoch) {
    be::store64(batch.data(), static_cast<uint64_t>(base_offset));
    be::store32(batch.data() + 12, static_cast<uint32_t>(leader_epoch));
}

namespace {

void put_varint(std::string& out, int64_t v) {
    auto z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
    while (z >= 0x80) {
        out.push_back(static_cast<char>((z & 0x7F) | 0x80));
        z >>= 7;
    }
    out.push_back(static_cast<char>(z));
}

// Reads a zigzag varint; false when the bytes run out or it is too long.
bool get_varint(std::string_view& in, int64_t& v) {
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in.empty()) return false;
        auto byte = static_cast<uint8_t>(in.front());
        in.remove_prefix(1);
        z |= static_cast<uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) {
            v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
            return true;
        }
    }
    return false;
}

bool get_bytes(std::string_view& in, std::string_view& out) {
    int64_t len = 0;
    if (!get_varint(in, len) || len < -1 || len > static_cast<int64_t>(in.size())) return false;
    out = len > 0 ? in.substr(0, static_cast<size_t>(len)) : std::string_view();
    in.remove_prefix(static_cast<size_t>(std::max<int64_t>(len, 0)));
    return true;
}

}  // namespace

Result<std::vector<RecordView>, BatchError> record_views(std::string_view batch) {
    auto h = parse_batch_header(batch);
    if (!h) return make_unexpected(h.error());
    if (batch.size() < h->size) return make_unexpected(BatchError::truncated);
    std::string_view in = batch.substr(kBatchHeaderSize, h->size - kBatchHeaderSize);
    std::vector<RecordView> out;
    // A record takes at least two bytes: the count in the header alone is not trusted.
    out.reserve(std::min(static_cast<size_t>(h->records_count), in.size() / 2));
    for (int32_t i = 0; i < h->records_count; ++i) {
        int64_t length = 0;
        if (!get_varint(in, length) || length < 0 || length > static_cast<int64_t>(in.size())) {
            return make_unexpected(BatchError::bad_length);
        }
        std::string_view rec = in.substr(0, static_cast<size_t>(length));
        in.remove_prefix(static_cast<size_t>(length));
        if (rec.empty()) return make_unexpected(BatchError::bad_length);
        rec.remove_prefix(1);  // attributes
        RecordView r;
        int64_t offset_delta = 0;
        int64_t headers = 0;
        if (!get_varint(rec, r.timestamp_delta) || !get_varint(rec, offset_delta) || !get_bytes(rec, r.key) ||
            !get_bytes(rec, r.value) || !get_varint(rec, headers)) {
            return make_unexpected(BatchError::bad_length);
        }
        out.push_back(r);
    }
    return out;
}

Result<std::vector<Record>, BatchError> decode_records(std::string_view batch) {
    auto views = record_views(batch);
    if (!views) return make_unexpected(views.error());
    std::vector<Record> out;
    out.reserve(views->size());
    for (const RecordView& r : *views)
        out.push_back(Record{std::string(r.key), std::string(r.value), r.timestamp_delta});
    return out;
}

std::string encode_batch(int64_t base_offset, int32_t leader_epoch, int64_t base_timestamp,
                         const std::vector<Record>& records, int16_t attributes) {
    std::string out(kBatchHeaderSize, '\0');
    int64_t max_timestamp = base_timestamp;
    std::string rec;
    for (size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        rec.clear();
        rec.push_back(0);  // attributes
        put_varint(rec, r.timestamp_delta);
        put_varint(rec, static_cast<int64_t>(i));
        put_varint(rec, static_cast<int64_t>(r.key.size()));
        rec += r.key;
        put_varint(rec, static_cast<int64_t>(r.value.size()));
        rec += r.value;
        put_varint(rec, 0);  // no headers
        put_varint(out, static_cast<int64_t>(rec.size()));
        out += rec;
        max_timestamp = std::max(max_timestamp, base_timestamp + r.timestamp_delta);
    }
    char* p = out.data();
    be::store64(p, static_cast<uint64_t>(base_offset));
    be::store32(p + 8, static_cast<uint32_t>(out.size() - kBatchLengthPrefix));
    be::store32(p + 12, static_cast<uint32_t>(leader_epoch));
    p[16] = 2;
    be::store16(p + 21, static_cast<uint16_t>(attributes));
    be::store32(p + 23, static_cast<uint32_t>(records.empty() ? 0 : records.size() - 1));
    be::store64(p + 27, static_cast<uint64_t>(base_timestamp));
    be::store64(p + 35, static_cast<uint64_t>(max_timestamp));
    be::store64(p + 43, static_cast<uint64_t>(-1));
    be::store16(p + 51, static_cast<uint16_t>(-1));
    be::store32(p + 53, static_cast<uint32_t>(-1));
    be::store32(p + 57, static_cast<uint32_t>(records.size()));
    be::store32(p + 17, crc32c(std::string_view(out).substr(21)));
    return out;
}

}  // namespace fjord::storage
