// Kafka record batches (magic 2), the unit of fjord's logs. The log stores
// batches exactly as clients send them; the leader stamps baseOffset and
// partitionLeaderEpoch, which the CRC deliberately leaves out.
//
//   offset  field                  size
//        0  baseOffset             int64
//        8  batchLength            int32   bytes after this field
//       12  partitionLeaderEpoch   int32   = the Raft term in fjord
//       16  magic                  int8    = 2
//       17  crc                    uint32  CRC-32C of bytes 21..end
//       21  attributes             int16
//       23  lastOffsetDelta        int32
//       27  baseTimestamp          int64
//       35  maxTimestamp           int64
//       43  producerId             int64
//       51  producerEpoch          int16
//       53  baseSequence           int32
//       57  recordsCount           int32
//       61  records...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::storage {

inline constexpr size_t kBatchHeaderSize = 61;
inline constexpr size_t kBatchLengthPrefix = 12;  // baseOffset + batchLength

struct BatchHeader {
    int64_t base_offset{0};
    uint32_t size{0};  // whole batch in bytes, batchLength + 12
    int32_t leader_epoch{0};
    int8_t magic{0};
    uint32_t crc{0};
    int16_t attributes{0};
    int32_t last_offset_delta{0};
    int64_t base_timestamp{0};
    int64_t max_timestamp{0};
    int64_t producer_id{-1};
    int16_t producer_epoch{-1};
    int32_t base_sequence{-1};
    int32_t records_count{0};

    int64_t last_offset() const { return base_offset + last_offset_delta; }
    bool is_control() const { return (attributes & 0x20) != 0; }
};

enum class BatchError : uint8_t {
    truncated,    // fewer bytes than the header or its declared length
    bad_length,   // declared length impossible
    bad_magic,    // not magic 2
    bad_crc,      // checksum mismatch
    bad_offsets,  // lastOffsetDelta negative or records count inconsistent with it
};
std::string_view to_string(BatchError e);

// Parses the fixed header; checks magic and length plausibility, not the CRC.
Result<BatchHeader, BatchError> parse_batch_header(std::string_view bytes);
// Parses and checks a whole batch, CRC included. `bytes` may extend beyond it.
Result<BatchHeader, BatchError> validate_batch(std::string_view bytes);
// Sets baseOffset and partitionLeaderEpoch in place (outside the CRC).
void stamp_batch(std::string& batch, int64_t base_offset, int32_t leader_epoch);

struct Record {
    std::string key;
    std::string value;
    int64_t timestamp_delta{0};
};
// A record as decoded, pointing into its batch.
struct RecordView {
    std::string_view key;
    std::string_view value;
    int64_t timestamp_delta{0};
};
// The records of a batch that validate_batch() accepted, as views into it.
Result<std::vector<RecordView>, BatchError> record_views(std::string_view batch);
// The same, copied.
Result<std::vector<Record>, BatchError> decode_records(std::string_view batch);
// Encodes a batch of `records` (at least one) at `base_offset`.
std::string encode_batch(int64_t base_offset, int32_t leader_epoch, int64_t base_timestamp,
                         const std::vector<Record>& records, int16_t attributes = 0);

}  // namespace fjord::storage
