// Commands forwarded between nodes and their answers: round trips of every
// mode and reply shape, and malformed payloads refused whole.
#include "kv/forward_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace fjord::kv {
namespace {

using namespace std::string_literals;

void expect_same(const ShardRequest& a, const ShardRequest& b) {
    EXPECT_EQ(a.group, b.group);
    EXPECT_EQ(a.command, b.command);
    EXPECT_EQ(a.write_mode, b.write_mode);
    EXPECT_EQ(a.read_mode, b.read_mode);
    EXPECT_EQ(a.min_index, b.min_index);
}

void expect_same(const ShardAnswer& a, const ShardAnswer& b) {
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.leader, b.leader);
    EXPECT_EQ(a.write_index, b.write_index);
    EXPECT_EQ(a.reply, b.reply);
}

ShardRequest request(Command command, WriteMode wm = WriteMode::sync, ReadMode rm = ReadMode::linearizable,
                     uint64_t min_index = 0, uint64_t group = 9) {
    ShardRequest r;
    r.group = group;
    r.command = std::move(command);
    r.write_mode = wm;
    r.read_mode = rm;
    r.min_index = min_index;
    return r;
}

ShardAnswer answer(Reply reply, ShardAnswer::Status status = ShardAnswer::Status::answer, uint64_t leader = 0,
                   uint64_t write_index = 0) {
    ShardAnswer a;
    a.status = status;
    a.leader = leader;
    a.write_index = write_index;
    a.reply = std::move(reply);
    return a;
}

void expect_request_round_trip(uint64_t id, const ShardRequest& r) {
    std::string bytes = encode_request(id, r);
    auto decoded = decode_request(bytes, r.group);
    ASSERT_TRUE(decoded.has_value()) << decoded.error();
    EXPECT_EQ(decoded->first, id);
    expect_same(decoded->second, r);
}

void expect_answer_round_trip(uint64_t id, const ShardAnswer& a) {
    std::string bytes = encode_answer(id, a);
    auto decoded = decode_answer(bytes);
    ASSERT_TRUE(decoded.has_value()) << decoded.error();
    EXPECT_EQ(decoded->first, id);
    expect_same(decoded->second, a);
}

// --- Requests ---------------------------------------------------------------

TEST(ForwardCodecTest, RequestRoundTrips) {
    expect_request_round_trip(1, request({"GET", "k"}));
    expect_request_round_trip(std::numeric_limits<uint64_t>::max(),
                              request({"SET", "k", "v", "EX", "10"}, WriteMode::async, ReadMode::stale,
                                      std::numeric_limits<uint64_t>::max()));
    expect_request_round_trip(0, request({"PING"}));
}

TEST(ForwardCodecTest, RequestRoundTripsEveryMode) {
    for (WriteMode wm : {WriteMode::sync, WriteMode::async}) {
        for (ReadMode rm : {ReadMode::linearizable, ReadMode::lease, ReadMode::stale}) {
            expect_request_round_trip(77, request({"INCR", "n"}, wm, rm, 123456));
        }
    }
}

TEST(ForwardCodecTest, RequestRoundTripsBinaryAndEmptyArguments) {
    expect_request_round_trip(5, request({"SET", "", "\0\r\n\xff"s}));
    expect_request_round_trip(5, request({"SET", "k", std::string(100000, 'x')}));
    Command many{"MSET"};
    for (int i = 0; i < 1000; ++i) {
        many.push_back("key" + std::to_string(i));
        many.push_back(std::to_string(i));
    }
    expect_request_round_trip(6, request(many));
}

TEST(ForwardCodecTest, TheGroupComesFromTheCallerNotTheBytes) {
    std::string bytes =
        encode_request(3, request({"GET", "k"}, WriteMode::sync, ReadMode::linearizable, 0, 1));
    auto decoded = decode_request(bytes, 42);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->second.group, 42u);
}

TEST(ForwardCodecTest, RequestLayoutIsTheDocumentedOne) {
    // [u64 id][u8 write mode][u8 read mode][u64 min index][u32 argc] argc x [bytes arg]
    std::string bytes =
        encode_request(0x0102, request({"GET", "k"}, WriteMode::async, ReadMode::lease, 0x0304));
    std::string expected = "\0\0\0\0\0\0\x01\x02"s + "\x01"s + "\x01"s + "\0\0\0\0\0\0\x03\x04"s +
                           "\0\0\0\x02"s + "\0\0\0\x03GET"s + "\0\0\0\x01k"s;
    EXPECT_EQ(bytes, expected);
}

TEST(ForwardCodecTest, EveryTruncatedRequestIsRefused) {
    std::string bytes =
        encode_request(9, request({"SET", "key", "value"}, WriteMode::async, ReadMode::lease, 5));
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto decoded = decode_request(std::string_view(bytes).substr(0, cut), 1);
        EXPECT_FALSE(decoded.has_value()) << "cut at " << cut;
        if (!decoded) {
            EXPECT_EQ(decoded.error().rfind("kv request: ", 0), 0u) << decoded.error();
        }
    }
}

TEST(ForwardCodecTest, RequestWithTrailingBytesIsRefused) {
    std::string bytes = encode_request(9, request({"GET", "k"})) + "x";
    EXPECT_FALSE(decode_request(bytes, 1).has_value());
}

TEST(ForwardCodecTest, RequestWithUnknownModesIsRefused) {
    std::string bytes = encode_request(9, request({"GET", "k"}));
    ASSERT_TRUE(decode_request(bytes, 1).has_value());
    for (uint8_t wm : {2, 3, 0xff}) {
        std::string bad = bytes;
        bad[8] = static_cast<char>(wm);
        EXPECT_FALSE(decode_request(bad, 1).has_value()) << "write mode " << int{wm};
    }
    for (uint8_t rm : {3, 4, 0xff}) {
        std::string bad = bytes;
        bad[9] = static_cast<char>(rm);
        EXPECT_FALSE(decode_request(bad, 1).has_value()) << "read mode " << int{rm};
    }
}

TEST(ForwardCodecTest, RequestWithoutArgumentsIsRefused) {
    std::string bytes = encode_request(9, request({}));
    auto decoded = decode_request(bytes, 1);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().find("without arguments"), std::string::npos) << decoded.error();
}

TEST(ForwardCodecTest, RequestWithAnArgumentCountBeyondTheBytesIsRefused) {
    std::string bytes = encode_request(9, request({"GET", "k"}));
    // argc sits after id (8), modes (2) and min index (8).
    std::string bad = bytes;
    bad.replace(18, 4, "\xff\xff\xff\xff"s);
    EXPECT_FALSE(decode_request(bad, 1).has_value());
    bad = bytes;
    bad.replace(18, 4, "\0\0\0\x03"s);  // one argument more than present
    EXPECT_FALSE(decode_request(bad, 1).has_value());
    bad = bytes;
    bad.replace(18, 4, "\0\0\0\x01"s);  // one fewer: the last is left over
    EXPECT_FALSE(decode_request(bad, 1).has_value());
}

TEST(ForwardCodecTest, RequestWithAnArgumentLengthBeyondTheBytesIsRefused) {
    std::string bytes = encode_request(9, request({"GET", "k"}));
    std::string bad = bytes;
    bad.replace(22, 4, "\0\0\0\x7f"s);  // the first argument's length
    EXPECT_FALSE(decode_request(bad, 1).has_value());
}

// --- Answers ----------------------------------------------------------------

TEST(ForwardCodecTest, AnswerRoundTripsEveryReplyKind) {
    expect_answer_round_trip(1, answer(Reply::ok()));
    expect_answer_round_trip(2, answer(Reply::simple("string")));
    expect_answer_round_trip(3, answer(Reply::error("ERR value is not an integer or out of range")));
    expect_answer_round_trip(4, answer(Reply::error("WRONGTYPE Operation against a key")));
    expect_answer_round_trip(5, answer(Reply::integer_of(0)));
    expect_answer_round_trip(6, answer(Reply::integer_of(std::numeric_limits<int64_t>::min())));
    expect_answer_round_trip(7, answer(Reply::integer_of(std::numeric_limits<int64_t>::max())));
    expect_answer_round_trip(8, answer(Reply::bulk("")));
    expect_answer_round_trip(9, answer(Reply::bulk("binary\0\r\n\xff"s)));
    expect_answer_round_trip(10, answer(Reply::nil()));
    expect_answer_round_trip(11, answer(Reply::nil_array()));
    expect_answer_round_trip(12, answer(Reply::array({})));
}

TEST(ForwardCodecTest, AnswerRoundTripsNestedArrays) {
    // The shape of SCAN's internal answer, and deeper nesting with every kind inside.
    Reply scan = Reply::array({Reply::bulk("12345"), Reply::array({Reply::bulk("a"), Reply::bulk("b")})});
    expect_answer_round_trip(1, answer(scan));
    Reply deep = Reply::array(
        {Reply::nil(), Reply::integer_of(-1), Reply::error("ERR inner"),
         Reply::array({Reply::array({Reply::simple("x"), Reply::nil_array()}), Reply::array({})}),
         Reply::bulk("tail")});
    expect_answer_round_trip(2, answer(deep, ShardAnswer::Status::answer, 3, 99));
    Reply nested = Reply::bulk("leaf");
    for (int i = 0; i < 20; ++i) nested = Reply::array({nested, Reply::integer_of(i)});
    expect_answer_round_trip(3, answer(nested));
}

TEST(ForwardCodecTest, AnswerRoundTripsStatusLeaderAndWriteIndex) {
    expect_answer_round_trip(std::numeric_limits<uint64_t>::max(),
                             answer(Reply::nil(), ShardAnswer::Status::retry, 3, 0));
    expect_answer_round_trip(
        4, answer(Reply::ok(), ShardAnswer::Status::answer, 0, std::numeric_limits<uint64_t>::max()));
}

TEST(ForwardCodecTest, EveryTruncatedAnswerIsRefused) {
    std::string bytes = encode_answer(9, answer(Reply::array({Reply::bulk("v"), Reply::integer_of(3)}),
                                                ShardAnswer::Status::answer, 2, 17));
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto decoded = decode_answer(std::string_view(bytes).substr(0, cut));
        EXPECT_FALSE(decoded.has_value()) << "cut at " << cut;
        if (!decoded) {
            EXPECT_EQ(decoded.error().rfind("kv answer: ", 0), 0u) << decoded.error();
        }
    }
}

TEST(ForwardCodecTest, AnswerWithTrailingBytesIsRefused) {
    EXPECT_FALSE(decode_answer(encode_answer(1, answer(Reply::ok())) + "\0"s).has_value());
}

TEST(ForwardCodecTest, AnswerWithAnUnknownStatusIsRefused) {
    std::string bytes = encode_answer(1, answer(Reply::ok()));
    for (uint8_t status : {2, 7, 0xff}) {
        std::string bad = bytes;
        bad[8] = static_cast<char>(status);
        auto decoded = decode_answer(bad);
        ASSERT_FALSE(decoded.has_value()) << "status " << int{status};
        EXPECT_NE(decoded.error().find("unknown status"), std::string::npos) << decoded.error();
    }
}

// An answer whose reply bytes are `reply`, verbatim.
std::string raw_answer(std::string_view reply) {
    std::string out(8 + 1 + 8 + 8, '\0');
    out += std::string{static_cast<char>(reply.size() >> 24), static_cast<char>(reply.size() >> 16),
                       static_cast<char>(reply.size() >> 8), static_cast<char>(reply.size())};
    out += reply;
    return out;
}

TEST(ForwardCodecTest, AnswerWhoseReplyIsNotOneRespValueIsRefused) {
    ASSERT_TRUE(decode_answer(raw_answer("+OK\r\n")).has_value()) << "the hand-made framing is right";
    for (std::string reply : {""s, "+OK"s, "+OK\r\n+OK\r\n"s, "$5\r\nab\r\n"s, "*2\r\n:1\r\n"s, "garbage"s,
                              ":12x\r\n"s, "$-2\r\n"s}) {
        auto decoded = decode_answer(raw_answer(reply));
        EXPECT_FALSE(decoded.has_value()) << ::testing::PrintToString(reply);
    }
}

TEST(ForwardCodecTest, AnswerWithAReplyLengthBeyondTheBytesIsRefused) {
    std::string bytes = encode_answer(1, answer(Reply::ok()));
    bytes[25] = '\x10';  // the reply's length, high byte
    EXPECT_FALSE(decode_answer(bytes).has_value());
}

TEST(ForwardCodecTest, ARequestIsNotAnAnswer) {
    // Neither decoder accepts the other's bytes by accident in these cases.
    std::string req = encode_request(1, request({"GET", "k"}));
    EXPECT_FALSE(decode_answer(req).has_value());
}

}  // namespace
}  // namespace fjord::kv
