// RESP2 codec: multibulk and inline commands, pipelining, every split point,
// Redis's protocol error texts, limits, reply encoding and decoding, and
// seeded random bytes that must never crash either parser.
#include "kv/resp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fjord::kv {
namespace {

using namespace std::string_literals;

// The input for a failure message, cut short so that a large input does not
// cost more to print than to parse.
std::string shown(std::string_view in) {
    constexpr size_t kMax = 200;
    std::string s = ::testing::PrintToString(std::string(in.substr(0, kMax)));
    if (in.size() > kMax) s += " ... (" + std::to_string(in.size()) + " bytes)";
    return s;
}

CommandParse parse(std::string_view in, const RespLimits& limits = {}) {
    return parse_command(in, limits);
}

// `consumed` defaults to all of `in`.
void expect_command(std::string_view in, const Command& want, size_t consumed = std::string_view::npos) {
    SCOPED_TRACE(shown(in));
    CommandParse p = parse(in);
    ASSERT_EQ(p.status, ParseStatus::complete) << p.error;
    EXPECT_EQ(p.command, want);
    EXPECT_EQ(p.consumed, consumed == std::string_view::npos ? in.size() : consumed);
}

void expect_error(std::string_view in, std::string_view error, const RespLimits& limits = {}) {
    SCOPED_TRACE(shown(in));
    CommandParse p = parse(in, limits);
    ASSERT_EQ(p.status, ParseStatus::error);
    EXPECT_EQ(p.error, error);
    EXPECT_TRUE(p.command.empty());
}

void expect_incomplete(std::string_view in, const RespLimits& limits = {}) {
    SCOPED_TRACE(shown(in));
    EXPECT_EQ(parse(in, limits).status, ParseStatus::incomplete);
}

std::string encoded(const Reply& r) {
    std::string out;
    encode_reply(r, out);
    return out;
}

// Parses every command of `in` in turn, as a connection would.
std::vector<Command> parse_all(std::string_view in) {
    std::vector<Command> commands;
    while (!in.empty()) {
        CommandParse p = parse(in);
        EXPECT_EQ(p.status, ParseStatus::complete) << p.error;
        if (p.status != ParseStatus::complete) break;
        EXPECT_GT(p.consumed, 0u);
        commands.push_back(p.command);
        in.remove_prefix(p.consumed);
    }
    return commands;
}

// --- Multibulk commands ----------------------------------------------------

TEST(RespCommand, ParsesMultibulk) {
    expect_command("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", {"GET", "k"}, 20);
}

TEST(RespCommand, LeavesBytesAfterTheCommand) {
    expect_command("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", {"PING"}, 14);
}

TEST(RespCommand, EmptyAndNullMultibulkAreEmptyCommands) {
    expect_command("*0\r\n", {}, 4);
    expect_command("*-1\r\n", {}, 5);
    expect_command("*-7\r\nGET", {}, 5);
}

TEST(RespCommand, BulkMayHoldAnyBytes) {
    std::string value = "a\r\nb\0c*$\r\n"s;
    std::string in =
        "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
    expect_command(in, {"SET", "", value}, in.size());
}

TEST(RespCommand, EmptyInputIsIncomplete) {
    expect_incomplete("");
}

TEST(RespCommand, IncompleteWhileThePayloadArrives) {
    expect_incomplete("*1\r\n$10\r\n\r\n\r\n\r\n");  // CRLFs inside a payload are not its end
    expect_incomplete("*1\r\n$3\r\nfoo");
    expect_incomplete("*1\r\n$3\r\nfoo\r");
    expect_incomplete("*1\r\n$3\r");
    expect_incomplete("*1\r");
    expect_incomplete("*");
}

TEST(RespCommand, LargePartialValueIsIncomplete) {
    std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000000\r\n";
    in.append(19'000'000, '\r');
    for (int i = 0; i < 50; ++i) expect_incomplete(in);
    in.append(1'000'000, 'x');
    in.append("\r\n");
    CommandParse p = parse(in);
    ASSERT_EQ(p.status, ParseStatus::complete);
    ASSERT_EQ(p.command.size(), 3u);
    EXPECT_EQ(p.command[2].size(), 20'000'000u);
    EXPECT_EQ(p.consumed, in.size());
}

// --- Inline commands -------------------------------------------------------

TEST(RespInline, SplitsWordsOnCrlfAndBareLf) {
    expect_command("GET k\r\n", {"GET", "k"}, 7);
    expect_command("GET k\n", {"GET", "k"}, 6);
    expect_command("  SET\tk   v  \r\nPING\r\n", {"SET", "k", "v"}, 15);
}

TEST(RespInline, EmptyLinesAreConsumedWithoutACommand) {
    expect_command("\r\n", {}, 2);
    expect_command("\n", {}, 1);
    expect_command(" \t \r\nPING\r\n", {}, 5);
}

TEST(RespInline, OnlyOneCrBeforeTheLfIsDropped) {
    // The other CR is whitespace, as in Redis.
    expect_command("a\r\r\n", {"a"}, 4);
    expect_command("a\rb\n", {"a", "b"}, 4);
}

TEST(RespInline, IncompleteUntilLf) {
    expect_incomplete("GET k");
    expect_incomplete("GET k\r");
    expect_incomplete("\"unterminated");
}

TEST(RespInline, DoubleQuotes) {
    expect_command("set k \"a b\"\r\n", {"set", "k", "a b"}, 13);
    expect_command("\"\"\n", {""}, 3);
    expect_command("\"a\"\t\"b\"\n", {"a", "b"}, 8);
    expect_command("x\"a b\"\n", {"xa b"}, 7);  // a quote inside a word opens quoting
}

TEST(RespInline, DoubleQuoteEscapes) {
    expect_command(R"("\n\r\t\b\a\\\"\q")"s + "\n", {"\n\r\t\b\a\\\"q"});
    expect_command(R"("\x41\x7a\x00\xfF")"s + "\n", {"Az\0\xff"s});
    // Not two hex digits: the escape is a plain 'x'.
    expect_command(R"("\x4g" "\x")"s + "\n", {"x4g", "x"});
}

TEST(RespInline, SingleQuotes) {
    expect_command("'a b'\n", {"a b"});
    expect_command(R"('it\'s')"s + "\n", {"it's"});
    // Only \' is an escape inside single quotes.
    expect_command(R"('a\nb\\c')"s + "\n", {R"(a\nb\\c)"});
    expect_command("'say \"hi\"'\n", {"say \"hi\""});
    // So a backslash before the closing quote escapes it.
    expect_error(R"('a\\')"s + "\n", "ERR Protocol error: unbalanced quotes in request");
}

TEST(RespInline, NulEndsTheLine) {
    // Redis splits the line as a C string.
    expect_command("a b\0c d\n"s, {"a", "b"}, 8);
    expect_error("\"a\0\"\n"s, "ERR Protocol error: unbalanced quotes in request");
}

TEST(RespInline, UnbalancedQuotes) {
    const std::string unbalanced = "ERR Protocol error: unbalanced quotes in request";
    expect_error("set k \"abc\r\n", unbalanced);
    expect_error("set k 'abc\n", unbalanced);
    expect_error("\"abc\\\"\n", unbalanced);  // the escaped quote does not close
    expect_error("\"abc\\\n", unbalanced);    // nor does a backslash at the end
    // A closing quote must be followed by whitespace or the end.
    expect_error("\"a\"b\n", unbalanced);
    expect_error("'it''s'\n", unbalanced);
    expect_error("'a'\"b\"\n", unbalanced);
}

TEST(RespInline, ClosingQuoteMayBeFollowedByAnyWhitespace) {
    expect_command("'a'\tb\n", {"a", "b"}, 6);
    expect_command("'a'\vb\n", {"a", "b"}, 6);
    expect_command("'a'\r\n", {"a"}, 5);
}

TEST(RespInline, NonStarFirstByteIsInline) {
    // Redis reads anything not starting with '*' as an inline line.
    expect_command("$3\r\n", {"$3"}, 4);
}

// --- Pipelining and split points --------------------------------------------

const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n"
    "PING\r\n"
    "\r\n"
    "*0\r\n"
    "*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n"
    "set 'a b' \"c\\x00d\"\n"
    "*-1\r\n"
    "*1\r\n$4\r\nQUIT\r\n";

const std::vector<Command> kPipelineCommands = {
    {"SET", "k\r\n", ""}, {"PING"}, {}, {}, {"GET", "k\r\n"}, {"set", "a b", "c\0d"s}, {}, {"QUIT"}};

TEST(RespPipeline, ParsesCommandsOneAfterAnother) {
    EXPECT_EQ(parse_all(kPipeline), kPipelineCommands);
}

TEST(RespPipeline, EveryPrefixIsIncompleteUntilTheCommandIsWhole) {
    std::string_view rest = kPipeline;
    for (const Command& want : kPipelineCommands) {
        CommandParse whole = parse(rest);
        ASSERT_EQ(whole.status, ParseStatus::complete) << whole.error;
        ASSERT_EQ(whole.command, want);
        for (size_t cut = 0; cut < whole.consumed; ++cut) {
            SCOPED_TRACE(shown(rest.substr(0, cut)));
            EXPECT_EQ(parse(rest.substr(0, cut)).status, ParseStatus::incomplete);
        }
        // Any longer prefix gives the very same command.
        for (size_t cut = whole.consumed; cut <= rest.size(); ++cut) {
            CommandParse p = parse(rest.substr(0, cut));
            ASSERT_EQ(p.status, ParseStatus::complete);
            EXPECT_EQ(p.consumed, whole.consumed);
            EXPECT_EQ(p.command, want);
        }
        rest.remove_prefix(whole.consumed);
    }
    EXPECT_TRUE(rest.empty());
}

// --- Protocol errors ---------------------------------------------------------

TEST(RespErrors, InvalidMultibulkLength) {
    const std::string e = "ERR Protocol error: invalid multibulk length";
    for (std::string in : {"*\r\n", "*abc\r\n", "*1x\r\n", "* 1\r\n", "*+1\r\n", "*01\r\n", "*-0\r\n",
                           "*-\r\n", "*99999999999999999999\r\n", "*9223372036854775808\r\n", "*2\rX"}) {
        expect_error(in, e);
    }
}

TEST(RespErrors, InvalidBulkLength) {
    const std::string e = "ERR Protocol error: invalid bulk length";
    for (std::string in : {"*1\r\n$-1\r\n", "*1\r\n$\r\n", "*1\r\n$x\r\n", "*1\r\n$03\r\nfoo\r\n",
                           "*1\r\n$3 \r\n", "*1\r\n$3\rX", "*1\r\n$99999999999999999999\r\n"}) {
        expect_error(in, e);
    }
}

TEST(RespErrors, PayloadWithoutCrlfAfterIt) {
    const std::string e = "ERR Protocol error: invalid bulk length";
    expect_error("*1\r\n$3\r\nfooXY", e);
    expect_error("*1\r\n$3\r\nfoo\rX", e);
    expect_error("*1\r\n$3\r\nfoo\n\r", e);
    expect_error("*2\r\n$1\r\na\r\n$2\r\nabc\r\n", e);  // a length one short of the payload
}

TEST(RespErrors, ExpectedDollar) {
    expect_error("*1\r\n:3\r\n", "ERR Protocol error: expected '$', got ':'");
    expect_error("*2\r\n$1\r\na\r\nGET\r\n", "ERR Protocol error: expected '$', got 'G'");
    expect_error("*1\r\n\r\n", "ERR Protocol error: expected '$', got '\r'");
    // Like Redis, the whole line is awaited first.
    expect_incomplete("*1\r\nGET");
}

TEST(RespErrors, TooBigInlineRequest) {
    const std::string e = "ERR Protocol error: too big inline request";
    std::string line(64 * 1024, 'a');
    expect_incomplete(line);  // exactly the limit, no LF yet
    expect_error(line + "a", e);
    expect_command(line + "\n", {line}, line.size() + 1);
    expect_error(line + "a\n", e);
    // The CR counts toward the line: the prefix line + "\r" must already be
    // refused, and the whole line must not be judged differently.
    expect_error(line + "\r", e);
    expect_error(line + "\r\n", e);
}

TEST(RespErrors, TooBigCountStrings) {
    std::string digits(64 * 1024, '1');
    expect_incomplete("*" + digits.substr(1));
    expect_error("*" + digits, "ERR Protocol error: too big mbulk count string");
    expect_error("*" + digits + "\r\n", "ERR Protocol error: too big mbulk count string");
    // Short of the limit, a long count line waits for its CR like Redis.
    expect_incomplete("*" + std::string(100, '1'));
    expect_error("*" + std::string(100, '1') + "\r\n", "ERR Protocol error: invalid multibulk length");

    expect_incomplete("*1\r\n$" + digits.substr(1));
    expect_error("*1\r\n$" + digits, "ERR Protocol error: too big bulk count string");
}

// --- Limits -------------------------------------------------------------------

TEST(RespLimits, MaxArgs) {
    RespLimits limits;
    limits.max_args = 2;
    CommandParse ok = parse("*2\r\n$1\r\na\r\n$1\r\nb\r\n", limits);
    EXPECT_EQ(ok.status, ParseStatus::complete);
    expect_error("*3\r\n", "ERR Protocol error: invalid multibulk length", limits);
    // The default matches Redis's historic 1024*1024.
    expect_incomplete("*1048576\r\n");
    expect_error("*1048577\r\n", "ERR Protocol error: invalid multibulk length");
}

TEST(RespLimits, MaxBulkBytes) {
    RespLimits limits;
    limits.max_bulk_bytes = 4;
    CommandParse ok = parse("*1\r\n$4\r\nabcd\r\n", limits);
    EXPECT_EQ(ok.status, ParseStatus::complete);
    expect_error("*1\r\n$5\r\n", "ERR Protocol error: invalid bulk length", limits);
    expect_incomplete("*1\r\n$536870912\r\n");
    expect_error("*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length");
}

TEST(RespLimits, MaxInlineBytes) {
    RespLimits limits;
    limits.max_inline_bytes = 8;
    EXPECT_EQ(parse("abcdefgh\n", limits).status, ParseStatus::complete);
    expect_incomplete("abcdefgh", limits);
    expect_error("abcdefghi", "ERR Protocol error: too big inline request", limits);
    expect_error("abcdefghi\n", "ERR Protocol error: too big inline request", limits);
    // It also bounds the length lines of a multibulk.
    expect_error("*000000000", "ERR Protocol error: too big mbulk count string", limits);
    expect_error("*1\r\n$000000000", "ERR Protocol error: too big bulk count string", limits);
}

TEST(RespLimits, LimitsOfSizeMaxMeanUnlimited) {
    RespLimits limits{SIZE_MAX, SIZE_MAX, SIZE_MAX};
    CommandParse inline_line = parse("GET k\n", limits);
    EXPECT_EQ(inline_line.command, (Command{"GET", "k"}));
    CommandParse multibulk = parse("*1\r\n$1\r\nk\r\n", limits);
    EXPECT_EQ(multibulk.command, Command{"k"});
    expect_incomplete("GET k", limits);
    expect_incomplete("*9223372036854775807\r\n$9223372036854775807\r\nab", limits);
    EXPECT_EQ(parse_reply("$9223372036854775807\r\nab", limits).status, ParseStatus::incomplete);
}

// --- Replies --------------------------------------------------------------------

TEST(RespReply, EncodesEveryKind) {
    EXPECT_EQ(encoded(Reply::ok()), "+OK\r\n");
    EXPECT_EQ(encoded(Reply::simple("PONG")), "+PONG\r\n");
    EXPECT_EQ(encoded(Reply::error("ERR unknown command 'foo'")), "-ERR unknown command 'foo'\r\n");
    EXPECT_EQ(encoded(Reply::integer_of(0)), ":0\r\n");
    EXPECT_EQ(encoded(Reply::integer_of(-42)), ":-42\r\n");
    EXPECT_EQ(encoded(Reply::integer_of(INT64_MIN)), ":-9223372036854775808\r\n");
    EXPECT_EQ(encoded(Reply::integer_of(INT64_MAX)), ":9223372036854775807\r\n");
    EXPECT_EQ(encoded(Reply::bulk("")), "$0\r\n\r\n");
    EXPECT_EQ(encoded(Reply::bulk("bar")), "$3\r\nbar\r\n");
    EXPECT_EQ(encoded(Reply::bulk("a\r\nb\0"s)), "$5\r\na\r\nb\0\r\n"s);
    EXPECT_EQ(encoded(Reply::nil()), "$-1\r\n");
    EXPECT_EQ(encoded(Reply::array({})), "*0\r\n");
    EXPECT_EQ(encoded(Reply::nil_array()), "*-1\r\n");
    EXPECT_EQ(encoded(Reply::array({Reply::bulk("a"), Reply::nil(), Reply::integer_of(1)})),
              "*3\r\n$1\r\na\r\n$-1\r\n:1\r\n");
}

TEST(RespReply, EncodesNestedArrays) {
    Reply r = Reply::array({Reply::array({Reply::simple("x"), Reply::array({})}), Reply::nil_array(),
                            Reply::array({Reply::error("E")})});
    EXPECT_EQ(encoded(r), "*3\r\n*2\r\n+x\r\n*0\r\n*-1\r\n*1\r\n-E\r\n");
}

TEST(RespReply, EncodeAppends) {
    std::string out = "prefix";
    encode_reply(Reply::ok(), out);
    EXPECT_EQ(out, "prefix+OK\r\n");
}

TEST(RespReply, LineBreaksInSimpleTextBecomeSpaces) {
    EXPECT_EQ(encoded(Reply::error("ERR bad\r\n+OK")), "-ERR bad  +OK\r\n");
    EXPECT_EQ(encoded(Reply::simple("a\nb\rc")), "+a b c\r\n");
}

std::vector<Reply> sample_replies() {
    return {
        Reply::ok(),
        Reply::simple(""),
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Reply::integer_of(INT64_MIN),
        Reply::integer_of(INT64_MAX),
        Reply::integer_of(0),
        Reply::bulk(""),
        Reply::bulk("\r\n$3\r\n*1\r\n\0\xff"s),
        Reply::nil(),
        Reply::nil_array(),
        Reply::array({}),
        Reply::array({Reply::bulk("k"), Reply::array({Reply::nil(), Reply::array({Reply::integer_of(-1)})}),
                      Reply::nil_array(), Reply::error("ERR x")})};
}

TEST(RespReply, RoundTrips) {
    for (const Reply& r : sample_replies()) {
        std::string bytes = encoded(r);
        SCOPED_TRACE(shown(bytes));
        ReplyParse p = parse_reply(bytes);
        ASSERT_EQ(p.status, ParseStatus::complete) << p.error;
        EXPECT_EQ(p.consumed, bytes.size());
        EXPECT_EQ(p.reply, r);
    }
}

TEST(RespReply, EveryPrefixIsIncompleteAndPipelinedRepliesFollow) {
    std::string all;
    for (const Reply& r : sample_replies()) encode_reply(r, all);
    std::string_view rest = all;
    for (const Reply& r : sample_replies()) {
        std::string one = encoded(r);
        for (size_t cut = 0; cut < one.size(); ++cut) {
            SCOPED_TRACE(shown(one.substr(0, cut)));
            EXPECT_EQ(parse_reply(rest.substr(0, cut)).status, ParseStatus::incomplete);
        }
        ReplyParse p = parse_reply(rest);
        ASSERT_EQ(p.status, ParseStatus::complete) << p.error;
        EXPECT_EQ(p.consumed, one.size());
        EXPECT_EQ(p.reply, r);
        rest.remove_prefix(p.consumed);
    }
    EXPECT_TRUE(rest.empty());
}

void expect_reply_error(std::string_view in, std::string_view error, const RespLimits& limits = {}) {
    SCOPED_TRACE(shown(in));
    ReplyParse p = parse_reply(in, limits);
    ASSERT_EQ(p.status, ParseStatus::error);
    EXPECT_EQ(p.error, error);
}

TEST(RespReply, DecodeErrors) {
    expect_reply_error("?x\r\n", "ERR Protocol error: unexpected reply type '?'");
    expect_reply_error("*1\r\nGET\r\n", "ERR Protocol error: unexpected reply type 'G'");
    expect_reply_error(":\r\n", "ERR Protocol error: invalid integer");
    expect_reply_error(":1.5\r\n", "ERR Protocol error: invalid integer");
    expect_reply_error(":9223372036854775808\r\n", "ERR Protocol error: invalid integer");
    expect_reply_error(":-9223372036854775809\r\n", "ERR Protocol error: invalid integer");
    expect_reply_error("+OK\rX", "ERR Protocol error: invalid reply line");
    expect_reply_error("$-2\r\n", "ERR Protocol error: invalid bulk length");
    expect_reply_error("$3\r\nabcd\r\n", "ERR Protocol error: invalid bulk length");
    expect_reply_error("*-2\r\n", "ERR Protocol error: invalid multibulk length");
    expect_reply_error("*x\r\n", "ERR Protocol error: invalid multibulk length");

    RespLimits limits;
    limits.max_args = 2;
    limits.max_bulk_bytes = 3;
    limits.max_inline_bytes = 8;
    expect_reply_error("*3\r\n", "ERR Protocol error: invalid multibulk length", limits);
    expect_reply_error("$4\r\n", "ERR Protocol error: invalid bulk length", limits);
    expect_reply_error("+123456789", "ERR Protocol error: too big reply line", limits);
    expect_reply_error("*123456789", "ERR Protocol error: too big mbulk count string", limits);
    expect_reply_error("$123456789", "ERR Protocol error: too big bulk count string", limits);
}

std::string nested(int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "*1\r\n";
    return s + ":7\r\n";
}

TEST(RespReply, NestingIsLimited) {
    ReplyParse p = parse_reply(nested(kMaxReplyDepth));
    ASSERT_EQ(p.status, ParseStatus::complete) << p.error;
    Reply* r = &p.reply;
    for (int i = 0; i < kMaxReplyDepth; ++i) {
        ASSERT_EQ(r->kind, Reply::Kind::array);
        r = &r->elements.at(0);
    }
    EXPECT_EQ(*r, Reply::integer_of(7));
    expect_reply_error(nested(kMaxReplyDepth + 1), "ERR Protocol error: reply nested too deeply");
    // Deep nesting is refused before the rest has arrived.
    expect_reply_error(nested(10'000).substr(0, 4 * 10'000), "ERR Protocol error: reply nested too deeply");
}

// --- Random bytes -----------------------------------------------------------------

std::string random_word(std::mt19937& rng) {
    static constexpr std::string_view kAlphabet = "ab\r\n\0 \"'\\x*$";
    std::string w(rng() % 5, 'a');
    for (char& c : w) c = kAlphabet[rng() % kAlphabet.size()];
    return w;
}

Reply random_reply(std::mt19937& rng, int depth) {
    switch (rng() % (depth < 3 ? 8 : 6)) {
        case 0:
            return Reply::simple(random_word(rng));
        case 1:
            return Reply::error(random_word(rng));
        case 2:
            return Reply::integer_of(static_cast<int64_t>(rng()) - 1000);
        case 3:
            return Reply::bulk(random_word(rng));
        case 4:
            return Reply::nil();
        case 5:
            return Reply::nil_array();
        default: {
            std::vector<Reply> elements(rng() % 4);
            for (Reply& e : elements) e = random_reply(rng, depth + 1);
            return Reply::array(std::move(elements));
        }
    }
}

// Mostly protocol-shaped bytes, so that the parsers get far often: valid
// commands and replies, sometimes with a byte changed or cut short, and
// runs of protocol pieces and random bytes.
std::string random_input(std::mt19937& rng) {
    static constexpr std::string_view kAlphabet = "*$+-:\r\n\r\n0123-1 \"'\\x\tabc";
    static const std::vector<std::string> kPieces = {"*1\r\n",  "*2\r\n",  "$1\r\n",   "$3\r\n",
                                                     "$0\r\n",  "\r\n",    ":1\r\n",   "+OK\r\n",
                                                     "*-1\r\n", "$-1\r\n", "set k v\n"};
    std::string s;
    uint32_t shape = rng() % 4;
    if (shape == 0) {
        std::vector<Reply> args(rng() % 4);
        for (Reply& a : args) a = Reply::bulk(random_word(rng));
        encode_reply(Reply::array(std::move(args)), s);  // a multibulk command
    } else if (shape == 1) {
        encode_reply(random_reply(rng, 0), s);
    } else {
        size_t len = std::uniform_int_distribution<size_t>(0, 48)(rng);
        while (s.size() < len) {
            uint32_t pick = rng() % 4;
            if (pick == 0) {
                s.push_back(static_cast<char>(rng() & 0xff));
            } else if (pick == 1) {
                s.push_back(kAlphabet[rng() % kAlphabet.size()]);
            } else {
                s += kPieces[rng() % kPieces.size()];
            }
        }
    }
    if (!s.empty() && rng() % 2 == 0) s[rng() % s.size()] = kAlphabet[rng() % kAlphabet.size()];
    if (!s.empty() && rng() % 4 == 0) s.resize(rng() % s.size());
    return s;
}

bool has_lf_in_line(const Reply& r) {
    if (r.kind == Reply::Kind::simple || r.kind == Reply::Kind::error) {
        return r.text.find('\n') != std::string::npos;
    }
    for (const Reply& e : r.elements) {
        if (has_lf_in_line(e)) return true;
    }
    return false;
}

TEST(RespFuzz, RandomBytesNeverCrashAndPrefixesAgree) {
    std::mt19937 rng(20240611);
    RespLimits small;
    small.max_args = 3;
    small.max_bulk_bytes = 8;
    small.max_inline_bytes = 16;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string s = random_input(rng);
        // An exact-size heap copy, so that ASan catches a read past the end.
        std::vector<char> heap(s.begin(), s.end());
        std::string_view in(heap.data(), heap.size());
        const RespLimits& limits = iter % 2 == 0 ? small : RespLimits{};

        CommandParse c = parse_command(in, limits);
        if (c.status == ParseStatus::complete) {
            ASSERT_GT(c.consumed, 0u);
            ASSERT_LE(c.consumed, in.size());
        }
        if (c.status == ParseStatus::error) {
            ASSERT_FALSE(c.error.empty());
        }
        ReplyParse r = parse_reply(in, limits);
        if (r.status == ParseStatus::complete) {
            ASSERT_GT(r.consumed, 0u);
            ASSERT_LE(r.consumed, in.size());
            // A decoded reply re-encodes to the bytes it came from, except
            // where the encoder turns a bare LF in a simple line into a space.
            if (!has_lf_in_line(r.reply)) {
                ASSERT_EQ(encoded(r.reply), std::string(in.substr(0, r.consumed)));
            }
        }

        // A prefix that already decides the outcome must decide it the same way.
        size_t cut = in.empty() ? 0 : rng() % in.size();
        CommandParse cp = parse_command(in.substr(0, cut), limits);
        if (cp.status != ParseStatus::incomplete) {
            ASSERT_EQ(cp.status, c.status);
            ASSERT_EQ(cp.consumed, c.consumed);
            ASSERT_EQ(cp.command, c.command);
            ASSERT_EQ(cp.error, c.error);
        }
        ReplyParse rp = parse_reply(in.substr(0, cut), limits);
        if (rp.status != ParseStatus::incomplete) {
            ASSERT_EQ(rp.status, r.status);
            ASSERT_EQ(rp.consumed, r.consumed);
            ASSERT_EQ(rp.reply, r.reply);
            ASSERT_EQ(rp.error, r.error);
        }
    }
}

TEST(RespFuzz, ParsingARandomStreamAlwaysProgresses) {
    std::mt19937 rng(7);
    for (int iter = 0; iter < 2000; ++iter) {
        std::string s;
        for (int i = 0; i < 8; ++i) s += random_input(rng);
        std::string_view in = s;
        while (!in.empty()) {
            CommandParse p = parse_command(in);
            if (p.status != ParseStatus::complete) break;
            ASSERT_GT(p.consumed, 0u);
            ASSERT_LE(p.consumed, in.size());
            in.remove_prefix(p.consumed);
        }
    }
}

TEST(RespReply, EncodedBulkMatchesTheBulkAndNilReplies) {
    for (const std::string& value :
         {std::string(), std::string("v"), std::string(300, 'x'), std::string("a\r\nb")}) {
        std::string direct, via_reply;
        encode_bulk(&value, direct);
        encode_reply(Reply::bulk(value), via_reply);
        EXPECT_EQ(direct, via_reply);
    }
    std::string direct, via_reply;
    encode_bulk(nullptr, direct);
    encode_reply(Reply::nil(), via_reply);
    EXPECT_EQ(direct, "$-1\r\n");
    EXPECT_EQ(direct, via_reply);
}

}  // namespace
}  // namespace fjord::kv
