#include "storage/record_batch.h"

#include <gtest/gtest.h>

#include "common/big_endian.h"
#include "common/crc32c.h"

namespace fjord::storage {
namespace {

std::vector<Record> sample_records() {
    return {
        {"k0", "first value", 0},
        {"", "no key", 5},
        {"k2", std::string(300, 'v'), 2},  // a multi-byte varint length
        {"k3", "", 17},
    };
}

TEST(RecordBatch, EncodeValidateRoundTrip) {
    std::string b = encode_batch(1234, 7, 1'700'000'000'000, sample_records());
    auto h = validate_batch(b);
    ASSERT_TRUE(h) << to_string(h.error());
    EXPECT_EQ(h->base_offset, 1234);
    EXPECT_EQ(h->leader_epoch, 7);
    EXPECT_EQ(h->magic, 2);
    EXPECT_EQ(h->size, b.size());
    EXPECT_EQ(h->records_count, 4);
    EXPECT_EQ(h->last_offset_delta, 3);
    EXPECT_EQ(h->last_offset(), 1237);
    EXPECT_EQ(h->base_timestamp, 1'700'000'000'000);
    EXPECT_EQ(h->max_timestamp, 1'700'000'000'017);
    EXPECT_EQ(h->producer_id, -1);
    EXPECT_EQ(h->producer_epoch, -1);
    EXPECT_EQ(h->base_sequence, -1);
    EXPECT_EQ(h->attributes, 0);
    EXPECT_FALSE(h->is_control());
    EXPECT_EQ(h->crc, crc32c(std::string_view(b).substr(21)));
    // The length field counts the bytes after it.
    EXPECT_EQ(be::load32(b.data() + 8), b.size() - kBatchLengthPrefix);

    // parse_batch_header agrees on the header without reading the records.
    auto p = parse_batch_header(std::string_view(b).substr(0, kBatchHeaderSize));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->size, h->size);
    EXPECT_EQ(p->crc, h->crc);
}

TEST(RecordBatch, SingleRecordAndControlAttributes) {
    std::string b = encode_batch(0, 0, 5, {{"k", "v", 0}}, 0x20);
    auto h = validate_batch(b);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->records_count, 1);
    EXPECT_EQ(h->last_offset_delta, 0);
    EXPECT_EQ(h->last_offset(), 0);
    EXPECT_EQ(h->max_timestamp, 5);
    EXPECT_TRUE(h->is_control());
}

TEST(RecordBatch, RecordViewsPointIntoTheBatchAndMatchTheCopies) {
    std::string b = encode_batch(0, 0, 0, sample_records());
    auto views = record_views(b);
    auto copies = decode_records(b);
    ASSERT_TRUE(views && copies);
    ASSERT_EQ(views->size(), sample_records().size());
    for (size_t i = 0; i < views->size(); ++i) {
        const RecordView& v = (*views)[i];
        EXPECT_EQ(v.key, sample_records()[i].key);
        EXPECT_EQ(v.value, sample_records()[i].value);
        EXPECT_EQ(v.timestamp_delta, sample_records()[i].timestamp_delta);
        EXPECT_EQ((*copies)[i].value, v.value);
        if (!v.value.empty()) {
            EXPECT_GE(v.value.data(), b.data());
            EXPECT_LT(v.value.data(), b.data() + b.size());
        }
    }
}

TEST(RecordBatch, ARecordCountBeyondTheBytesIsAnErrorNotAnAllocation) {
    std::string b = encode_batch(0, 0, 0, {{"k", "v", 0}});
    // The records count; record_views() leaves the CRC to validate_batch().
    be::store32(b.data() + 57, 0x7fffffff);
    EXPECT_FALSE(record_views(b).has_value());
    EXPECT_FALSE(decode_records(b).has_value());
}

TEST(RecordBatch, TrailingBytesAreNotPartOfTheBatch) {
    std::string b = encode_batch(10, 1, 0, sample_records());
    std::string two = b + encode_batch(14, 1, 0, sample_records());
    auto h = validate_batch(two);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, b.size());
    EXPECT_EQ(h->base_offset, 10);
    auto second = validate_batch(std::string_view(two).substr(h->size));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->base_offset, 14);
}

TEST(RecordBatch, StampChangesOffsetAndEpochAndKeepsTheCrcValid) {
    std::string b = encode_batch(0, 0, 99, sample_records());
    uint32_t crc_before = validate_batch(b)->crc;
    stamp_batch(b, 987654321012, 42);
    auto h = validate_batch(b);
    ASSERT_TRUE(h) << to_string(h.error());
    EXPECT_EQ(h->base_offset, 987654321012);
    EXPECT_EQ(h->leader_epoch, 42);
    EXPECT_EQ(h->last_offset(), 987654321015);
    EXPECT_EQ(h->crc, crc_before);
    EXPECT_EQ(h->records_count, 4);
    // Stamping is byte-for-byte the same as encoding there in the first place.
    EXPECT_EQ(b, encode_batch(987654321012, 42, 99, sample_records()));
}

TEST(RecordBatch, EveryByteFlipInTheCrcRegionIsDetected) {
    const std::string good = encode_batch(77, 3, 123456, sample_records());
    ASSERT_GT(good.size(), 300u);
    for (size_t at = 21; at < good.size(); ++at) {
        for (int mask : {0x01, 0x80, 0xFF}) {
            std::string bad = good;
            bad[at] = static_cast<char>(bad[at] ^ mask);
            auto h = validate_batch(bad);
            ASSERT_FALSE(h) << "flip 0x" << std::hex << mask << std::dec << " at byte " << at
                            << " undetected";
            // Flips that leave the header plausible must be caught by the CRC;
            // the others (e.g. a negative count) are rejected by the header check.
            if (parse_batch_header(bad)) {
                EXPECT_EQ(h.error(), BatchError::bad_crc) << "byte " << at;
            } else {
                EXPECT_EQ(h.error(), BatchError::bad_offsets) << "byte " << at;
            }
        }
    }
    // The CRC field itself.
    for (size_t at = 17; at < 21; ++at) {
        std::string bad = good;
        bad[at] = static_cast<char>(bad[at] ^ 0x10);
        auto h = validate_batch(bad);
        ASSERT_FALSE(h);
        EXPECT_EQ(h.error(), BatchError::bad_crc) << "byte " << at;
    }
}

TEST(RecordBatch, OffsetAndEpochAreOutsideTheCrc) {
    // The leader stamps them after the producer computed the CRC.
    std::string b = encode_batch(5, 1, 0, sample_records());
    for (size_t at : {0u, 3u, 7u, 12u, 15u}) {
        std::string stamped = b;
        stamped[at] = static_cast<char>(stamped[at] ^ 0x01);
        EXPECT_TRUE(validate_batch(stamped)) << "byte " << at;
    }
}

TEST(RecordBatch, TruncatedInput) {
    std::string b = encode_batch(0, 1, 0, sample_records());
    for (size_t len = 0; len < b.size(); ++len) {
        auto h = validate_batch(std::string_view(b).substr(0, len));
        ASSERT_FALSE(h) << "len " << len;
        EXPECT_EQ(h.error(), BatchError::truncated) << "len " << len;
    }
    auto header_only = parse_batch_header(std::string_view(b).substr(0, kBatchHeaderSize - 1));
    ASSERT_FALSE(header_only);
    EXPECT_EQ(header_only.error(), BatchError::truncated);
}

TEST(RecordBatch, BadMagic) {
    std::string b = encode_batch(0, 1, 0, sample_records());
    for (int magic : {0, 1, 3, 0x7F, -1}) {
        std::string bad = b;
        bad[16] = static_cast<char>(magic);
        auto h = validate_batch(bad);
        ASSERT_FALSE(h) << "magic " << magic;
        EXPECT_EQ(h.error(), BatchError::bad_magic) << "magic " << magic;
        auto p = parse_batch_header(bad);
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error(), BatchError::bad_magic);
    }
}

TEST(RecordBatch, ImpossibleLength) {
    std::string b = encode_batch(0, 1, 0, sample_records());
    for (uint32_t length : {0u, 1u, 48u, 0x80000000u, 0xFFFFFFFFu}) {
        std::string bad = b;
        be::store32(bad.data() + 8, length);
        auto h = validate_batch(bad);
        ASSERT_FALSE(h) << "length " << length;
        EXPECT_EQ(h.error(), BatchError::bad_length) << "length " << length;
    }
    // Longer than the bytes at hand: truncated.
    std::string longer = b;
    be::store32(longer.data() + 8, static_cast<uint32_t>(b.size()));
    auto h = validate_batch(longer);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error(), BatchError::truncated);
}

TEST(RecordBatch, NegativeOffsetsAreRejected) {
    std::string b = encode_batch(0, 1, 0, sample_records());
    std::string negative_base = b;
    be::store64(negative_base.data(), static_cast<uint64_t>(-5));
    auto h = validate_batch(negative_base);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error(), BatchError::bad_offsets);
}

}  // namespace
}  // namespace fjord::storage
