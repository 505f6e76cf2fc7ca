// The node-to-node wire format: ByteWriter/ByteReader (common/byte_codec.h),
// frames (net/frame.h) and the bodies they carry (net/envelope.h). Decoders
// face bytes from the network, so beyond round trips every test here feeds
// them truncated, corrupted or random input and expects a clean refusal.
#include "net/frame.h"

#include <gtest/gtest.h>

#include "common/big_endian.h"
#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "net/envelope.h"
#include "seeded_rng.h"

namespace fjord::net::testing {
namespace {

using fjord::testing::SeededRng;

std::string random_bytes(SeededRng& rng, size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng.next());
    return s;
}

// ---------------------------------------------------------------------------
// ByteWriter and ByteReader.

TEST(ByteCodecTest, RoundTripsEveryWidth) {
    std::string out = "prefix";
    ByteWriter w(out);
    w.u8(0xAB);
    w.u16(0xBEEF);
    w.u32(0xDEADBEEF);
    w.u64(0x0123456789ABCDEFull);
    w.i32(-2);
    w.i64(-3);
    w.boolean(true);
    w.boolean(false);
    w.bytes(std::string("a\0b", 3));
    w.bytes("");
    w.raw("xyz");

    ASSERT_EQ(out.substr(0, 6), "prefix");
    ByteReader r(std::string_view(out).substr(6));
    EXPECT_EQ(r.u8("a"), 0xAB);
    EXPECT_EQ(r.u16("b"), 0xBEEF);
    EXPECT_EQ(r.u32("c"), 0xDEADBEEFu);
    EXPECT_EQ(r.u64("d"), 0x0123456789ABCDEFull);
    EXPECT_EQ(r.i32("e"), -2);
    EXPECT_EQ(r.i64("f"), -3);
    EXPECT_TRUE(r.boolean("g"));
    EXPECT_FALSE(r.boolean("h"));
    EXPECT_EQ(r.bytes("i"), std::string_view("a\0b", 3));
    EXPECT_EQ(r.bytes("j"), "");
    EXPECT_EQ(r.raw("k", 3), "xyz");
    r.expect_end();
    EXPECT_TRUE(r.ok()) << r.error();
}

TEST(ByteCodecTest, IntegersAreBigEndian) {
    std::string out;
    ByteWriter(out).u32(0x01020304);
    EXPECT_EQ(out, std::string("\x01\x02\x03\x04", 4));
}

TEST(ByteCodecTest, ShortReadFailsAndStaysFailed) {
    ByteReader r(std::string_view("\x01\x02\x03", 3));
    EXPECT_EQ(r.u32("term"), 0u);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "term: needs 4 bytes, 3 left");
    // Later reads neither succeed nor replace the first error.
    EXPECT_EQ(r.u8("next"), 0);
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_EQ(r.error(), "term: needs 4 bytes, 3 left");
}

TEST(ByteCodecTest, BytesLongerThanTheInputFail) {
    std::string in;
    ByteWriter w(in);
    w.u32(0xFFFFFFFF);
    w.raw("abc");
    ByteReader r(in);
    EXPECT_EQ(r.bytes("payload"), "");
    EXPECT_EQ(r.error(), "payload: length 4294967295 exceeds the 3 bytes left");
}

TEST(ByteCodecTest, CountThatCannotFitFails) {
    std::string in;
    ByteWriter w(in);
    w.u32(3);
    w.raw(std::string(20, 'x'));
    ByteReader fits(in);
    EXPECT_EQ(fits.count("items", 6), 3u);
    EXPECT_TRUE(fits.ok());
    ByteReader too_many(in);
    EXPECT_EQ(too_many.count("items", 7), 0u);
    EXPECT_EQ(too_many.error(), "items: 3 elements cannot fit in the 20 bytes left");
}

TEST(ByteCodecTest, BooleanIsZeroOrOne) {
    ByteReader r(std::string_view("\x02", 1));
    r.boolean("flag");
    EXPECT_EQ(r.error(), "flag: byte 2 is not a boolean");
}

TEST(ByteCodecTest, ExpectEndRefusesTrailingBytes) {
    ByteReader r("abc");
    r.u8("a");
    r.expect_end();
    EXPECT_EQ(r.error(), "2 unexpected bytes after the end");
}

TEST(ByteCodecTest, ContextNamesTheFailedElementOnly) {
    ByteReader r("");
    r.add_context("item", 1);
    EXPECT_TRUE(r.ok());
    r.u8("kind");
    r.add_context("item", 2);
    r.add_context("batch", 0);
    EXPECT_EQ(r.error(), "batch 0: item 2: kind: needs 1 bytes, 0 left");
}

// ---------------------------------------------------------------------------
// Frames.

FrameHeader parsed_header(const std::string& frame, size_t at = 0) {
    auto h = parse_frame_header(frame.data() + at);
    EXPECT_TRUE(h);
    return h ? *h : FrameHeader{};
}

TEST(FrameTest, RoundTripsConsecutiveFrames) {
    std::string stream;
    append_frame(stream, "first body");
    append_frame(stream, "");
    append_frame(stream, std::string(1000, '\xFF'));

    std::vector<std::string> bodies;
    for (size_t at = 0; at < stream.size();) {
        FrameHeader h = parsed_header(stream, at);
        std::string_view body = std::string_view(stream).substr(at + kFrameHeaderSize, h.body_size);
        EXPECT_TRUE(check_frame_body(h, body));
        bodies.emplace_back(body);
        at += kFrameHeaderSize + h.body_size;
    }
    EXPECT_EQ(bodies, (std::vector<std::string>{"first body", "", std::string(1000, '\xFF')}));
}

TEST(FrameTest, HeaderLayout) {
    std::string frame;
    append_frame(frame, "abc");
    ASSERT_EQ(frame.size(), kFrameHeaderSize + 3);
    EXPECT_EQ(be::load32(frame.data()), 3u);
    EXPECT_EQ(static_cast<uint8_t>(frame[4]), kFrameVersion);
    EXPECT_EQ(be::load32(frame.data() + 5), crc32c("abc"));
    EXPECT_EQ(frame.substr(kFrameHeaderSize), "abc");
}

TEST(FrameTest, InPlaceFrameEqualsAppendedFrame) {
    std::string in_place = "earlier bytes";
    size_t start = start_frame(in_place);
    in_place += "the body";
    finish_frame(in_place, start);

    std::string appended = "earlier bytes";
    append_frame(appended, "the body");
    EXPECT_EQ(in_place, appended);
}

TEST(FrameTest, BodyAboveTheLimitIsTooLarge) {
    std::string header(kFrameHeaderSize, '\0');
    header[4] = static_cast<char>(kFrameVersion);
    be::store32(header.data(), kMaxFrameBody);
    EXPECT_TRUE(parse_frame_header(header.data()));

    be::store32(header.data(), kMaxFrameBody + 1);
    auto h = parse_frame_header(header.data());
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error(), FrameError::too_large);

    be::store32(header.data(), 101);
    EXPECT_EQ(parse_frame_header(header.data(), 100).error(), FrameError::too_large);
    EXPECT_TRUE(parse_frame_header(header.data(), 101));
}

TEST(FrameTest, OtherVersionIsRefused) {
    std::string frame;
    append_frame(frame, "abc");
    for (int version : {0, 2, 255}) {
        frame[4] = static_cast<char>(version);
        auto h = parse_frame_header(frame.data());
        ASSERT_FALSE(h);
        EXPECT_EQ(h.error(), FrameError::bad_version);
    }
}

TEST(FrameTest, WrongChecksumIsRefused) {
    std::string frame;
    append_frame(frame, "abc");
    frame[8] = static_cast<char>(frame[8] ^ 1);
    FrameHeader h = parsed_header(frame);
    auto checked = check_frame_body(h, std::string_view(frame).substr(kFrameHeaderSize));
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error(), FrameError::bad_checksum);
}

TEST(FrameTest, EveryFlippedBodyBitIsDetected) {
    std::string frame;
    append_frame(frame, "a body of some length, to flip every bit of");
    FrameHeader h = parsed_header(frame);
    for (size_t i = kFrameHeaderSize; i < frame.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string flipped = frame;
            flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
            auto checked = check_frame_body(h, std::string_view(flipped).substr(kFrameHeaderSize));
            EXPECT_FALSE(checked) << "byte " << i << " bit " << bit;
        }
    }
}

TEST(FrameTest, ErrorsHaveDistinctNames) {
    EXPECT_EQ(to_string(FrameError::too_large), "frame body too large");
    EXPECT_EQ(to_string(FrameError::bad_version), "unknown frame version");
    EXPECT_EQ(to_string(FrameError::bad_checksum), "frame checksum mismatch");
}

TEST(FrameTest, RandomHeadersNeverCrash) {
    SeededRng rng(7);
    for (int i = 0; i < 10'000; ++i) {
        std::string header = random_bytes(rng, kFrameHeaderSize);
        auto h = parse_frame_header(header.data());
        if (h) {
            EXPECT_LE(h->body_size, kMaxFrameBody);
        }
    }
}

// ---------------------------------------------------------------------------
// Envelopes: Hello and Batch bodies.

Batch sample_batch() {
    return Batch{42,
                 {Item{ItemKind::raft, 7, "a raft message"}, Item{ItemKind::node_status, 0, ""},
                  Item{ItemKind::transfer_leadership, 0xFFFFFFFFFFFFFFFFull, std::string("\0\xFF\n", 3)}}};
}

std::string sample_batch_body() {
    Batch b = sample_batch();
    return encode_batch(b.from, b.items);
}

std::variant<Hello, Batch> decoded(std::string_view body) {
    auto d = decode_body(body);
    EXPECT_TRUE(d) << d.error();
    return d ? *d : std::variant<Hello, Batch>{};
}

std::string decode_error(std::string_view body) {
    auto d = decode_body(body);
    return d ? "(decoded)" : d.error();
}

TEST(EnvelopeTest, HelloRoundTrips) {
    Hello hello{3, 5, "cluster-a"};
    EXPECT_EQ(std::get<Hello>(decoded(encode_hello(hello))), hello);
    Hello empty_id{1, 2, ""};
    EXPECT_EQ(std::get<Hello>(decoded(encode_hello(empty_id))), empty_id);
}

TEST(EnvelopeTest, BatchRoundTrips) {
    EXPECT_EQ(std::get<Batch>(decoded(sample_batch_body())), sample_batch());
    Batch empty{9, {}};
    EXPECT_EQ(std::get<Batch>(decoded(encode_batch(9, {}))), empty);
}

TEST(EnvelopeTest, BatchWriterBuildsTheSameBodyInPlace) {
    Batch b = sample_batch();
    std::string out = "already queued";
    BatchWriter w(out, b.from);
    EXPECT_EQ(w.count(), 0u);
    w.add(b.items[0].kind, b.items[0].group, b.items[0].payload);
    w.add_in_place(b.items[1].kind, b.items[1].group, [](std::string&) {});
    w.add_in_place(b.items[2].kind, b.items[2].group, [&](std::string& o) { o.append(b.items[2].payload); });
    EXPECT_EQ(w.count(), 3u);
    EXPECT_EQ(out, "already queued" + sample_batch_body());
}

TEST(EnvelopeTest, BatchInsideAnInPlaceFrame) {
    std::string out;
    size_t start = start_frame(out);
    BatchWriter(out, 42).add(ItemKind::raft, 1, "payload");
    finish_frame(out, start);

    FrameHeader h = parsed_header(out);
    std::string_view body = std::string_view(out).substr(kFrameHeaderSize);
    ASSERT_TRUE(check_frame_body(h, body));
    EXPECT_EQ(std::get<Batch>(decoded(body)), (Batch{42, {Item{ItemKind::raft, 1, "payload"}}}));
}

TEST(EnvelopeTest, EveryTruncationFails) {
    for (const std::string& body : {encode_hello(Hello{3, 5, "cluster-a"}), sample_batch_body()}) {
        for (size_t n = 0; n < body.size(); ++n) {
            EXPECT_FALSE(decode_body(std::string_view(body).substr(0, n))) << "prefix of " << n;
        }
    }
}

TEST(EnvelopeTest, TrailingBytesFail) {
    EXPECT_EQ(decode_error(encode_hello(Hello{3, 5, "c"}) + "x"), "1 unexpected bytes after the end");
    EXPECT_EQ(decode_error(sample_batch_body() + "xy"), "2 unexpected bytes after the end");
}

TEST(EnvelopeTest, ErrorsSayWhatAndWhere) {
    EXPECT_EQ(decode_error(""), "body kind: needs 1 bytes, 0 left");
    EXPECT_EQ(decode_error("\x09"), "unknown body kind 9");
    EXPECT_EQ(decode_error(encode_hello(Hello{3, 5, "cluster-a"}).substr(0, 12)),
              "to node: needs 8 bytes, 3 left");

    // The third item (index 2) starts after the body's 13-byte head and the
    // first two items (13 + 14 and 13 + 0 bytes).
    std::string body = sample_batch_body();
    size_t third = 13 + 27 + 13;
    std::string unknown_kind = body;
    unknown_kind[third] = 9;
    EXPECT_EQ(decode_error(unknown_kind), "item 2: unknown kind 9");

    std::string long_payload = body;
    be::store32(long_payload.data() + third + 9, 99999);
    EXPECT_EQ(decode_error(long_payload), "item 2: payload: length 99999 exceeds the 3 bytes left");
}

TEST(EnvelopeTest, HugeItemCountFailsWithoutAllocating) {
    std::string body = encode_batch(1, {});
    be::store32(body.data() + 9, 0xFFFFFFFF);
    body += std::string(26, '\0');
    EXPECT_EQ(decode_error(body), "item count: 4294967295 elements cannot fit in the 26 bytes left");
}

// Whatever decodes must be exactly what encoding the result gives: there is
// one encoding per body, so nothing in the input went unread or unchecked.
void expect_decodes_only_canonical_bytes(const std::string& input) {
    auto d = decode_body(input);
    if (!d) return;
    if (const Hello* hello = std::get_if<Hello>(&*d)) {
        EXPECT_EQ(encode_hello(*hello), input);
    } else {
        const Batch& batch = std::get<Batch>(*d);
        EXPECT_EQ(encode_batch(batch.from, batch.items), input);
    }
}

TEST(EnvelopeTest, RandomBytesNeverCrash) {
    SeededRng rng(11);
    for (int i = 0; i < 10'000; ++i) {
        std::string garbage = random_bytes(rng, rng.range(0, 64));
        // Half the inputs start like a real body, to get past the first check.
        if (rng.chance(50) && !garbage.empty()) garbage[0] = static_cast<char>(rng.range(1, 2));
        expect_decodes_only_canonical_bytes(garbage);
    }
}

TEST(EnvelopeTest, CorruptedBodiesNeverCrash) {
    SeededRng rng(12);
    for (const std::string& valid : {encode_hello(Hello{3, 5, "cluster-a"}), sample_batch_body()}) {
        for (int i = 0; i < 10'000; ++i) {
            std::string mutated = valid;
            for (uint64_t k = rng.range(1, 4); k > 0; --k) {
                mutated[rng.range(0, mutated.size() - 1)] = static_cast<char>(rng.next());
            }
            expect_decodes_only_canonical_bytes(mutated);
        }
    }
}

}  // namespace
}  // namespace fjord::net::testing
