// Command evaluation against one shard: each write becomes its reply and the
// effects to replicate (applied here to a store, so that commands chain as
// they would on a replica), each read is answered from the store. Replies and
// error texts follow Redis's.
#include "kv/commands.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace fjord::kv {
namespace {

using namespace std::string_literals;

const std::string kNotInteger = "ERR value is not an integer or out of range";
const std::string kSyntax = "ERR syntax error";
const std::string kInvalidSetExpire = "ERR invalid expire time in 'set' command";

// A shard as a write sees it: a plain store, no overlay.
class StoreView final : public KeyView {
  public:
    const Value* find(std::string_view key, int64_t now_ms) const override { return store.find(key, now_ms); }
    KvStore store;
};

Reply integer(int64_t v) {
    return Reply::integer_of(v);
}
Reply bulk(std::string s) {
    return Reply::bulk(std::move(s));
}
Reply error(std::string s) {
    return Reply::error(std::move(s));
}
Reply array(std::vector<Reply> e) {
    return Reply::array(std::move(e));
}

class CommandsTest : public ::testing::Test {
  protected:
    // Evaluates a write and applies its effects, as every replica would.
    Evaluation eval(const Command& c) {
        Evaluation e = evaluate_write(c, view, now, limits);
        for (const Effect& effect : e.effects) view.store.apply(effect);
        return e;
    }
    Reply write(const Command& c) { return eval(c).reply; }
    Reply read(const Command& c) { return evaluate_read(c, view.store, now); }

    // A write that must be refused: the reply is `expected` and nothing changes.
    void expect_refused(const Command& c, const std::string& expected) {
        std::string before = view.store.image();
        Evaluation e = eval(c);
        EXPECT_EQ(e.reply, error(expected)) << ::testing::PrintToString(c);
        EXPECT_TRUE(e.effects.empty()) << ::testing::PrintToString(c);
        EXPECT_EQ(view.store.image(), before) << ::testing::PrintToString(c);
    }

    int64_t expiry_of(const std::string& key) {
        const Value* v = view.store.find(key, now);
        return v ? v->expire_at_ms : -1;
    }

    // The internal SCAN over this shard, page by page until "done": the keys returned, in order.
    std::vector<std::string> scan_shard(const std::vector<std::string>& options, int* pages = nullptr) {
        std::vector<std::string> keys;
        std::string cursor = "0";
        for (int n = 1;; ++n) {
            Command c{"SCAN", cursor};
            c.insert(c.end(), options.begin(), options.end());
            Reply r = read(c);
            if (r.kind != Reply::Kind::array || r.elements.size() != 2 ||
                r.elements[0].kind != Reply::Kind::bulk || r.elements[1].kind != Reply::Kind::array) {
                ADD_FAILURE() << "not [cursor, [keys]]: " << ::testing::PrintToString(c);
                break;
            }
            for (const Reply& k : r.elements[1].elements) keys.push_back(k.text);
            if (pages) *pages = n;
            if (r.elements[0].text == "done") break;
            if (n > 100000) {
                ADD_FAILURE() << "the scan does not end";
                break;
            }
            cursor = r.elements[0].text;
        }
        return keys;
    }

    StoreView view;
    int64_t now{1'700'000'000'000};
    Limits limits;
};

// --- SET --------------------------------------------------------------------

TEST_F(CommandsTest, SetStoresAValueWithoutExpiry) {
    Evaluation e = eval({"SET", "k", "v"});
    EXPECT_EQ(e.reply, Reply::ok());
    ASSERT_EQ(e.effects.size(), 1u);
    EXPECT_EQ(e.effects[0], (Effect{Effect::Kind::put, "k", "v", 0}));
    EXPECT_EQ(read({"GET", "k"}), bulk("v"));
    EXPECT_EQ(read({"GET", "other"}), Reply::nil());
}

TEST_F(CommandsTest, SetOverwritesAndClearsTheTtl) {
    write({"SET", "k", "v1", "EX", "100"});
    EXPECT_EQ(write({"SET", "k", "v2"}), Reply::ok());
    EXPECT_EQ(read({"GET", "k"}), bulk("v2"));
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
}

TEST_F(CommandsTest, SetNxOnlyWhenMissing) {
    EXPECT_EQ(write({"SET", "k", "first", "NX"}), Reply::ok());
    Evaluation e = eval({"SET", "k", "second", "NX"});
    EXPECT_EQ(e.reply, Reply::nil());
    EXPECT_TRUE(e.effects.empty());
    EXPECT_EQ(read({"GET", "k"}), bulk("first"));
}

TEST_F(CommandsTest, SetXxOnlyWhenPresent) {
    Evaluation e = eval({"SET", "k", "v", "XX"});
    EXPECT_EQ(e.reply, Reply::nil());
    EXPECT_TRUE(e.effects.empty());
    EXPECT_EQ(read({"GET", "k"}), Reply::nil());
    write({"SET", "k", "v"});
    EXPECT_EQ(write({"SET", "k", "w", "XX"}), Reply::ok());
    EXPECT_EQ(read({"GET", "k"}), bulk("w"));
}

TEST_F(CommandsTest, SetNxTreatsAnExpiredKeyAsMissing) {
    write({"SET", "k", "old", "PX", "10"});
    now += 10;
    EXPECT_EQ(write({"SET", "k", "new", "NX"}), Reply::ok());
    EXPECT_EQ(read({"GET", "k"}), bulk("new"));
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
}

TEST_F(CommandsTest, SetGetAnswersTheOldValue) {
    EXPECT_EQ(write({"SET", "k", "v1", "GET"}), Reply::nil());
    EXPECT_EQ(write({"SET", "k", "v2", "GET"}), bulk("v1"));
    EXPECT_EQ(read({"GET", "k"}), bulk("v2"));
}

TEST_F(CommandsTest, SetGetWithAFailedConditionAnswersTheOldValueAndChangesNothing) {
    write({"SET", "k", "v1"});
    Evaluation e = eval({"SET", "k", "v2", "NX", "GET"});
    EXPECT_EQ(e.reply, bulk("v1"));
    EXPECT_TRUE(e.effects.empty());
    EXPECT_EQ(read({"GET", "k"}), bulk("v1"));

    e = eval({"SET", "missing", "v", "XX", "GET"});
    EXPECT_EQ(e.reply, Reply::nil());
    EXPECT_TRUE(e.effects.empty());
    EXPECT_EQ(read({"GET", "missing"}), Reply::nil());
}

TEST_F(CommandsTest, SetExAndPxAreRelativeToTheLeadersClock) {
    EXPECT_EQ(write({"SET", "a", "v", "EX", "10"}), Reply::ok());
    EXPECT_EQ(expiry_of("a"), now + 10'000);
    EXPECT_EQ(write({"SET", "b", "v", "PX", "1500"}), Reply::ok());
    EXPECT_EQ(expiry_of("b"), now + 1500);
    EXPECT_EQ(read({"PTTL", "b"}), integer(1500));
    now += 1500;
    EXPECT_EQ(read({"GET", "b"}), Reply::nil());
    EXPECT_EQ(read({"GET", "a"}), bulk("v"));
}

TEST_F(CommandsTest, SetExatAndPxatAreAbsolute) {
    int64_t at_s = now / 1000 + 100;
    EXPECT_EQ(write({"SET", "a", "v", "EXAT", std::to_string(at_s)}), Reply::ok());
    EXPECT_EQ(expiry_of("a"), at_s * 1000);
    EXPECT_EQ(write({"SET", "b", "v", "PXAT", std::to_string(now + 777)}), Reply::ok());
    EXPECT_EQ(expiry_of("b"), now + 777);
}

TEST_F(CommandsTest, SetPxatInThePastLeavesNoVisibleKey) {
    EXPECT_EQ(write({"SET", "k", "v", "PXAT", std::to_string(now - 1)}), Reply::ok());
    EXPECT_EQ(read({"GET", "k"}), Reply::nil());
    EXPECT_EQ(read({"EXISTS", "k"}), integer(0));
}

TEST_F(CommandsTest, SetKeepTtlKeepsTheExpiry) {
    write({"SET", "k", "v1", "PX", "5000"});
    int64_t at = expiry_of("k");
    EXPECT_EQ(write({"SET", "k", "v2", "KEEPTTL"}), Reply::ok());
    EXPECT_EQ(read({"GET", "k"}), bulk("v2"));
    EXPECT_EQ(expiry_of("k"), at);
    // On a missing key there is nothing to keep.
    EXPECT_EQ(write({"SET", "new", "v", "KEEPTTL"}), Reply::ok());
    EXPECT_EQ(expiry_of("new"), 0);
}

TEST_F(CommandsTest, SetOptionsAreCaseInsensitive) {
    EXPECT_EQ(write({"set", "k", "v", "nx", "ex", "5"}), Reply::ok());
    EXPECT_EQ(expiry_of("k"), now + 5000);
    EXPECT_EQ(write({"SeT", "k", "w", "xX", "gEt", "kEePtTl"}), bulk("v"));
    EXPECT_EQ(expiry_of("k"), now + 5000);
}

TEST_F(CommandsTest, SetRepeatedCompatibleFlagsAreAccepted) {
    EXPECT_EQ(write({"SET", "k", "v", "NX", "NX"}), Reply::ok());
    EXPECT_EQ(write({"SET", "k", "w", "GET", "GET"}), bulk("v"));
}

TEST_F(CommandsTest, SetSyntaxErrors) {
    write({"SET", "k", "orig", "PX", "100000"});
    expect_refused({"SET", "k", "v", "NX", "XX"}, kSyntax);
    expect_refused({"SET", "k", "v", "XX", "NX"}, kSyntax);
    expect_refused({"SET", "k", "v", "EX"}, kSyntax);
    expect_refused({"SET", "k", "v", "PX"}, kSyntax);
    expect_refused({"SET", "k", "v", "EX", "1", "PX", "1"}, kSyntax);
    expect_refused({"SET", "k", "v", "EX", "1", "EX", "1"}, kSyntax);
    expect_refused({"SET", "k", "v", "EX", "1", "KEEPTTL"}, kSyntax);
    expect_refused({"SET", "k", "v", "KEEPTTL", "EX", "1"}, kSyntax);
    expect_refused({"SET", "k", "v", "KEEPTTL", "PXAT", "1"}, kSyntax);
    expect_refused({"SET", "k", "v", "BOGUS"}, kSyntax);
    expect_refused({"SET", "k", "v", "1"}, kSyntax);
    EXPECT_EQ(read({"GET", "k"}), bulk("orig"));
}

TEST_F(CommandsTest, SetExpiryErrors) {
    expect_refused({"SET", "k", "v", "EX", "0"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "EX", "-1"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "PX", "0"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "EXAT", "0"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "PXAT", "-5"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "EX", "9223372036854775807"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "EXAT", "9223372036854775807"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "PX", "9223372036854775807"}, kInvalidSetExpire);
    expect_refused({"SET", "k", "v", "EX", "abc"}, kNotInteger);
    expect_refused({"SET", "k", "v", "PX", "1.5"}, kNotInteger);
    expect_refused({"SET", "k", "v", "EX", ""}, kNotInteger);
    expect_refused({"SET", "k", "v", "EX", "99999999999999999999"}, kNotInteger);
    // The largest absolute time is fine.
    EXPECT_EQ(write({"SET", "k", "v", "PXAT", "9223372036854775807"}), Reply::ok());
    EXPECT_EQ(expiry_of("k"), std::numeric_limits<int64_t>::max());
}

TEST_F(CommandsTest, SetParsesEveryOptionBeforeCheckingTheCondition) {
    // Parsing comes first: a bad option is an error even when NX would not write.
    write({"SET", "k", "v"});
    expect_refused({"SET", "k", "w", "NX", "EX", "0"}, kInvalidSetExpire);
}

// --- SETNX, GETSET, MSET ----------------------------------------------------

TEST_F(CommandsTest, SetNx) {
    EXPECT_EQ(write({"SETNX", "k", "first"}), integer(1));
    Evaluation e = eval({"SETNX", "k", "second"});
    EXPECT_EQ(e.reply, integer(0));
    EXPECT_TRUE(e.effects.empty());
    EXPECT_EQ(read({"GET", "k"}), bulk("first"));
}

TEST_F(CommandsTest, GetSetAnswersTheOldValueAndClearsTheTtl) {
    EXPECT_EQ(write({"GETSET", "k", "v1"}), Reply::nil());
    write({"EXPIRE", "k", "100"});
    EXPECT_EQ(write({"GETSET", "k", "v2"}), bulk("v1"));
    EXPECT_EQ(read({"GET", "k"}), bulk("v2"));
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
}

TEST_F(CommandsTest, MsetWritesEveryPairInOrder) {
    write({"SET", "a", "old", "EX", "100"});
    Evaluation e = eval({"MSET", "a", "1", "b", "2", "a", "3"});
    EXPECT_EQ(e.reply, Reply::ok());
    EXPECT_EQ(e.effects.size(), 3u);
    EXPECT_EQ(read({"MGET", "a", "b"}), array({bulk("3"), bulk("2")}));
    EXPECT_EQ(read({"TTL", "a"}), integer(-1)) << "MSET clears the TTL";
}

TEST_F(CommandsTest, MsetWithAnOddNumberOfArgumentsIsRefused) {
    expect_refused({"MSET", "a", "1", "b"}, "ERR wrong number of arguments for 'mset' command");
}

// --- DEL --------------------------------------------------------------------

TEST_F(CommandsTest, DelCountsDistinctExistingKeys) {
    write({"MSET", "a", "1", "b", "2", "c", "3"});
    write({"SET", "expired", "x", "PX", "1"});
    now += 1;
    Evaluation e = eval({"DEL", "a", "a", "b", "missing", "expired", "b"});
    EXPECT_EQ(e.reply, integer(2));
    EXPECT_EQ(e.effects,
              (std::vector<Effect>{{Effect::Kind::del, "a", {}, 0}, {Effect::Kind::del, "b", {}, 0}}));
    EXPECT_EQ(read({"MGET", "a", "b", "c"}), array({Reply::nil(), Reply::nil(), bulk("3")}));
    EXPECT_EQ(write({"DEL", "a"}), integer(0));
    EXPECT_EQ(write({"UNLINK", "c", "c"}), integer(1));
    EXPECT_EQ(read({"DBSIZE"}), integer(0));
}

// --- INCR and friends -------------------------------------------------------

TEST_F(CommandsTest, IncrDecrFromNothing) {
    EXPECT_EQ(write({"INCR", "n"}), integer(1));
    EXPECT_EQ(write({"INCR", "n"}), integer(2));
    EXPECT_EQ(read({"GET", "n"}), bulk("2"));
    EXPECT_EQ(write({"DECR", "m"}), integer(-1));
    EXPECT_EQ(write({"DECR", "m"}), integer(-2));
    EXPECT_EQ(read({"GET", "m"}), bulk("-2"));
}

TEST_F(CommandsTest, IncrByAndDecrBy) {
    write({"SET", "n", "10"});
    EXPECT_EQ(write({"INCRBY", "n", "5"}), integer(15));
    EXPECT_EQ(write({"INCRBY", "n", "-20"}), integer(-5));
    EXPECT_EQ(write({"DECRBY", "n", "3"}), integer(-8));
    EXPECT_EQ(write({"DECRBY", "n", "-10"}), integer(2));
    EXPECT_EQ(write({"INCRBY", "n", "0"}), integer(2));
    EXPECT_EQ(read({"GET", "n"}), bulk("2"));
    EXPECT_EQ(write({"INCRBY", "fresh", "100"}), integer(100));
}

TEST_F(CommandsTest, IncrOfANonIntegerIsRefused) {
    for (std::string value : {"abc"s, "1.5"s, ""s, " 1"s, "1 "s, "+1"s, "01"s, "-0"s, "0x10"s, "1e3"s, "-01"s,
                              "9223372036854775808"s, "-9223372036854775809"s, "99999999999999999999"s}) {
        view.store.apply(Effect{Effect::Kind::put, "k", value, 0});
        expect_refused({"INCR", "k"}, kNotInteger);
        expect_refused({"DECR", "k"}, kNotInteger);
        expect_refused({"INCRBY", "k", "1"}, kNotInteger);
        EXPECT_EQ(read({"GET", "k"}), bulk(value));
    }
}

TEST_F(CommandsTest, IncrByANonIntegerIsRefused) {
    write({"SET", "n", "1"});
    for (std::string delta : {"abc"s, "1.0"s, ""s, "+1"s, "-0"s, "007"s, "-07"s, "9223372036854775808"s}) {
        expect_refused({"INCRBY", "n", delta}, kNotInteger);
        expect_refused({"DECRBY", "n", delta}, kNotInteger);
    }
    // Refused even on a missing key: no key is created.
    expect_refused({"INCRBY", "missing", "x"}, kNotInteger);
    EXPECT_EQ(read({"EXISTS", "missing"}), integer(0));
}

TEST_F(CommandsTest, IncrHandlesTheInt64Extremes) {
    write({"SET", "max", "9223372036854775807"});
    write({"SET", "min", "-9223372036854775808"});
    EXPECT_EQ(write({"DECR", "max"}), integer(9223372036854775806));
    EXPECT_EQ(write({"INCR", "max"}), integer(std::numeric_limits<int64_t>::max()));
    EXPECT_EQ(write({"INCR", "min"}), integer(std::numeric_limits<int64_t>::min() + 1));
    EXPECT_EQ(write({"DECR", "min"}), integer(std::numeric_limits<int64_t>::min()));
    EXPECT_EQ(read({"GET", "min"}), bulk("-9223372036854775808"));
}

TEST_F(CommandsTest, IncrOverflowIsRefused) {
    const std::string overflow = "ERR increment or decrement would overflow";
    write({"SET", "max", "9223372036854775807"});
    write({"SET", "min", "-9223372036854775808"});
    expect_refused({"INCR", "max"}, overflow);
    expect_refused({"INCRBY", "max", "1"}, overflow);
    expect_refused({"DECRBY", "max", "-1"}, overflow);
    expect_refused({"DECR", "min"}, overflow);
    expect_refused({"INCRBY", "min", "-1"}, overflow);
    expect_refused({"DECRBY", "min", "1"}, overflow);
    write({"SET", "n", "1"});
    expect_refused({"INCRBY", "n", "9223372036854775807"}, overflow);
    write({"SET", "n", "-2"});
    expect_refused({"INCRBY", "n", "-9223372036854775807"}, overflow);
    expect_refused({"DECRBY", "n", "-9223372036854775808"}, "ERR decrement would overflow");
    EXPECT_EQ(read({"MGET", "max", "min", "n"}),
              array({bulk("9223372036854775807"), bulk("-9223372036854775808"), bulk("-2")}));
}

TEST_F(CommandsTest, IncrKeepsTheTtl) {
    write({"SET", "n", "1", "PX", "5000"});
    int64_t at = expiry_of("n");
    EXPECT_EQ(write({"INCR", "n"}), integer(2));
    EXPECT_EQ(expiry_of("n"), at);
    EXPECT_EQ(write({"INCRBY", "n", "10"}), integer(12));
    EXPECT_EQ(expiry_of("n"), at);
}

TEST_F(CommandsTest, IncrOfAnExpiredKeyStartsAtZeroWithoutExpiry) {
    write({"SET", "n", "41", "PX", "10"});
    now += 10;
    EXPECT_EQ(write({"INCR", "n"}), integer(1));
    EXPECT_EQ(read({"TTL", "n"}), integer(-1));
}

// --- APPEND -----------------------------------------------------------------

TEST_F(CommandsTest, AppendCreatesOrExtendsAndKeepsTheTtl) {
    EXPECT_EQ(write({"APPEND", "k", "Hello"}), integer(5));
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
    write({"EXPIRE", "k", "100"});
    int64_t at = expiry_of("k");
    EXPECT_EQ(write({"APPEND", "k", " World"}), integer(11));
    EXPECT_EQ(read({"GET", "k"}), bulk("Hello World"));
    EXPECT_EQ(expiry_of("k"), at);
    EXPECT_EQ(write({"APPEND", "k", ""}), integer(11));
}

// --- EXPIRE, PEXPIRE, PERSIST ----------------------------------------------

TEST_F(CommandsTest, ExpireSetsARelativeTime) {
    EXPECT_EQ(write({"EXPIRE", "missing", "10"}), integer(0));
    EXPECT_EQ(read({"EXISTS", "missing"}), integer(0));
    write({"SET", "k", "v"});
    Evaluation e = eval({"EXPIRE", "k", "10"});
    EXPECT_EQ(e.reply, integer(1));
    EXPECT_EQ(e.effects, std::vector<Effect>{(Effect{Effect::Kind::expire, "k", {}, now + 10'000})});
    EXPECT_EQ(read({"TTL", "k"}), integer(10));
    EXPECT_EQ(read({"GET", "k"}), bulk("v"));
    EXPECT_EQ(write({"PEXPIRE", "k", "1500"}), integer(1));
    EXPECT_EQ(read({"PTTL", "k"}), integer(1500));
    EXPECT_EQ(read({"TTL", "k"}), integer(2));
    now += 1500;
    EXPECT_EQ(read({"GET", "k"}), Reply::nil());
    EXPECT_EQ(write({"EXPIRE", "k", "10"}), integer(0)) << "an expired key is missing";
}

TEST_F(CommandsTest, NonPositiveExpireDeletesTheKey) {
    for (std::string when : {"0"s, "-1"s, "-100000"s}) {
        write({"SET", "k", "v"});
        Evaluation e = eval({"EXPIRE", "k", when});
        EXPECT_EQ(e.reply, integer(1)) << when;
        EXPECT_EQ(e.effects, std::vector<Effect>{(Effect{Effect::Kind::del, "k", {}, 0})}) << when;
        EXPECT_EQ(read({"EXISTS", "k"}), integer(0));
        EXPECT_EQ(view.store.size(), 0u) << "deleted, not just expired";

        write({"SET", "k", "v"});
        EXPECT_EQ(write({"PEXPIRE", "k", when}), integer(1));
        EXPECT_EQ(view.store.size(), 0u);
    }
    EXPECT_EQ(write({"EXPIRE", "missing", "0"}), integer(0));
}

TEST_F(CommandsTest, ExpireErrors) {
    write({"SET", "k", "v"});
    expect_refused({"EXPIRE", "k", "abc"}, kNotInteger);
    expect_refused({"EXPIRE", "k", "1.5"}, kNotInteger);
    expect_refused({"PEXPIRE", "k", ""}, kNotInteger);
    expect_refused({"EXPIRE", "k", "9223372036854775807"}, "ERR invalid expire time in 'expire' command");
    expect_refused({"EXPIRE", "k", "-9223372036854775807"}, "ERR invalid expire time in 'expire' command");
    expect_refused({"EXPIRE", "k", "9223372036854775"}, "ERR invalid expire time in 'expire' command");
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
}

TEST_F(CommandsTest, PexpireOverflowNamesPexpire) {
    // Redis names the command that was called: "invalid expire time in 'pexpire' command".
    write({"SET", "k", "v"});
    expect_refused({"PEXPIRE", "k", "9223372036854775807"}, "ERR invalid expire time in 'pexpire' command");
}

TEST_F(CommandsTest, Persist) {
    EXPECT_EQ(write({"PERSIST", "missing"}), integer(0));
    write({"SET", "k", "v"});
    Evaluation e = eval({"PERSIST", "k"});
    EXPECT_EQ(e.reply, integer(0));
    EXPECT_TRUE(e.effects.empty());
    write({"EXPIRE", "k", "10"});
    e = eval({"PERSIST", "k"});
    EXPECT_EQ(e.reply, integer(1));
    EXPECT_EQ(e.effects, std::vector<Effect>{(Effect{Effect::Kind::expire, "k", {}, 0})});
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
    now += 100'000;
    EXPECT_EQ(read({"GET", "k"}), bulk("v"));
}

// --- Reads ------------------------------------------------------------------

TEST_F(CommandsTest, TtlAndPttl) {
    EXPECT_EQ(read({"TTL", "missing"}), integer(-2));
    EXPECT_EQ(read({"PTTL", "missing"}), integer(-2));
    write({"SET", "k", "v"});
    EXPECT_EQ(read({"TTL", "k"}), integer(-1));
    EXPECT_EQ(read({"PTTL", "k"}), integer(-1));
    write({"SET", "e", "v", "PX", "1"});
    now += 1;
    EXPECT_EQ(read({"TTL", "e"}), integer(-2));
    EXPECT_EQ(read({"PTTL", "e"}), integer(-2));
}

TEST_F(CommandsTest, TtlRoundsToTheNearestSecond) {
    struct Case {
        int64_t left_ms;
        int64_t ttl;
    };
    for (Case c : {Case{1, 0}, Case{499, 0}, Case{500, 1}, Case{1499, 1}, Case{1500, 2}, Case{10'000, 10},
                   Case{10'499, 10}}) {
        write({"SET", "k", "v", "PX", std::to_string(c.left_ms)});
        EXPECT_EQ(read({"PTTL", "k"}), integer(c.left_ms));
        EXPECT_EQ(read({"TTL", "k"}), integer(c.ttl)) << c.left_ms << " ms left";
    }
}

TEST_F(CommandsTest, Strlen) {
    EXPECT_EQ(read({"STRLEN", "missing"}), integer(0));
    write({"SET", "k", "hello"});
    EXPECT_EQ(read({"STRLEN", "k"}), integer(5));
    write({"SET", "bin", "a\0b"s});
    EXPECT_EQ(read({"STRLEN", "bin"}), integer(3));
}

TEST_F(CommandsTest, Type) {
    EXPECT_EQ(read({"TYPE", "missing"}), Reply::simple("none"));
    write({"SET", "k", "v"});
    EXPECT_EQ(read({"TYPE", "k"}), Reply::simple("string"));
}

TEST_F(CommandsTest, ExistsCountsDuplicates) {
    write({"MSET", "a", "1", "b", "2"});
    EXPECT_EQ(read({"EXISTS", "a"}), integer(1));
    EXPECT_EQ(read({"EXISTS", "a", "a", "b", "missing"}), integer(3));
    EXPECT_EQ(read({"EXISTS", "missing", "missing"}), integer(0));
}

TEST_F(CommandsTest, Mget) {
    write({"MSET", "a", "1", "b", "2"});
    EXPECT_EQ(read({"MGET", "a", "missing", "b", "a"}),
              array({bulk("1"), Reply::nil(), bulk("2"), bulk("1")}));
}

std::set<std::string> keys_of(const Reply& r) {
    std::set<std::string> keys;
    for (const Reply& e : r.elements) keys.insert(e.text);
    return keys;
}

TEST_F(CommandsTest, Keys) {
    write({"MSET", "user:1", "a", "user:2", "b", "order:1", "c", "user", "d"});
    write({"SET", "user:old", "x", "PX", "1"});
    now += 1;
    Reply all = read({"KEYS", "*"});
    EXPECT_EQ(all.kind, Reply::Kind::array);
    EXPECT_EQ(keys_of(all), (std::set<std::string>{"user:1", "user:2", "order:1", "user"}));
    EXPECT_EQ(keys_of(read({"KEYS", "user:*"})), (std::set<std::string>{"user:1", "user:2"}));
    EXPECT_EQ(read({"KEYS", "nothing*"}), array({}));
    EXPECT_EQ(read({"KEYS", "user"}), array({bulk("user")}));
}

TEST_F(CommandsTest, DbsizeCountsLiveKeys) {
    EXPECT_EQ(read({"DBSIZE"}), integer(0));
    write({"MSET", "a", "1", "b", "2"});
    write({"SET", "c", "3", "PX", "10"});
    EXPECT_EQ(read({"DBSIZE"}), integer(3));
    now += 10;
    EXPECT_EQ(read({"DBSIZE"}), integer(2));
}

TEST_F(CommandsTest, ScanReturnsEveryKeyOnceInPages) {
    std::set<std::string> expected;
    for (int i = 0; i < 200; ++i) {
        write({"SET", "key:" + std::to_string(i), "v"});
        expected.insert("key:" + std::to_string(i));
    }
    int pages = 0;
    auto keys = scan_shard({"COUNT", "7"}, &pages);
    EXPECT_EQ(keys.size(), expected.size());
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
    EXPECT_GE(pages, 200 / 8);

    // The default COUNT is 10.
    keys = scan_shard({}, &pages);
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
    EXPECT_GE(pages, 200 / 11);
    EXPECT_LE(pages, 200 / 10 + 1);
}

TEST_F(CommandsTest, ScanCursorIsTheNextHash) {
    write({"MSET", "a", "1", "b", "2", "c", "3"});
    Reply r = read({"SCAN", "0", "COUNT", "1"});
    ASSERT_EQ(r.elements.size(), 2u);
    ASSERT_NE(r.elements[0].text, "done");
    int64_t cursor = 0;
    ASSERT_TRUE(parse_int64(r.elements[0].text, cursor));
    ASSERT_EQ(r.elements[1].elements.size(), 1u);
    EXPECT_LT(key_hash(r.elements[1].elements[0].text), static_cast<uint32_t>(cursor));
    // Starting past every hash finds nothing and is done.
    EXPECT_EQ(read({"SCAN", "4294967295"}).elements[0], bulk("done"));
}

TEST_F(CommandsTest, ScanMatch) {
    for (int i = 0; i < 50; ++i)
        write({"MSET", "user:" + std::to_string(i), "u", "order:" + std::to_string(i), "o"});
    auto keys = scan_shard({"MATCH", "user:*", "COUNT", "3"});
    EXPECT_EQ(keys.size(), 50u);
    for (const std::string& k : keys) EXPECT_EQ(k.rfind("user:", 0), 0u) << k;
    keys = scan_shard({"count", "1000", "match", "order:4?"});
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
              (std::set<std::string>{"order:40", "order:41", "order:42", "order:43", "order:44", "order:45",
                                     "order:46", "order:47", "order:48", "order:49"}));
}

TEST_F(CommandsTest, ScanErrors) {
    write({"SET", "k", "v"});
    EXPECT_EQ(read({"SCAN", "-1"}), error("ERR invalid cursor"));
    EXPECT_EQ(read({"SCAN", "abc"}), error("ERR invalid cursor"));
    EXPECT_EQ(read({"SCAN", "4294967296"}), error("ERR invalid cursor"));
    EXPECT_EQ(read({"SCAN", "0", "COUNT", "0"}), error(kSyntax));
    EXPECT_EQ(read({"SCAN", "0", "COUNT", "-3"}), error(kSyntax));
    EXPECT_EQ(read({"SCAN", "0", "COUNT", "x"}), error(kNotInteger));
    EXPECT_EQ(read({"SCAN", "0", "MATCH"}), error(kSyntax));
    EXPECT_EQ(read({"SCAN", "0", "COUNT"}), error(kSyntax));
    EXPECT_EQ(read({"SCAN", "0", "TYPE", "string"}), error(kSyntax));
    EXPECT_EQ(read({"SCAN", "0", "MATCH", "*", "EXTRA"}), error(kSyntax));
}

// --- Aliases and FLUSHDB ----------------------------------------------------

TEST_F(CommandsTest, PutReadDeleteAliases) {
    Evaluation e = eval({"PUT", "k", "v"});
    EXPECT_EQ(e.reply, Reply::ok());
    EXPECT_EQ(e.effects, std::vector<Effect>{(Effect{Effect::Kind::put, "k", "v", 0})});
    EXPECT_EQ(read({"READ", "k"}), bulk("v"));
    EXPECT_EQ(read({"READ", "missing"}), Reply::nil());
    write({"EXPIRE", "k", "100"});
    EXPECT_EQ(write({"PUT", "k", "w"}), Reply::ok());
    EXPECT_EQ(read({"TTL", "k"}), integer(-1)) << "PUT is a plain SET";
    EXPECT_EQ(write({"PUT", "j", "x"}), Reply::ok());
    EXPECT_EQ(write({"DELETE", "k", "j", "k", "missing"}), integer(2));
    EXPECT_EQ(write({"DELETE", "k"}), integer(0));
    EXPECT_EQ(read({"READ", "k"}), Reply::nil());
}

TEST_F(CommandsTest, Flushdb) {
    write({"MSET", "a", "1", "b", "2"});
    write({"SET", "c", "3", "EX", "100"});
    Evaluation e = eval({"FLUSHDB"});
    EXPECT_EQ(e.reply, Reply::ok());
    EXPECT_EQ(e.effects, std::vector<Effect>{(Effect{Effect::Kind::flush, {}, {}, 0})});
    EXPECT_EQ(read({"DBSIZE"}), integer(0));
    EXPECT_EQ(view.store.size(), 0u);
    EXPECT_EQ(write({"FLUSHDB", "ASYNC"}), Reply::ok());
    EXPECT_EQ(write({"flushdb", "sync"}), Reply::ok());
    EXPECT_EQ(write({"FLUSHALL"}), Reply::ok());
    write({"SET", "k", "v"});
    expect_refused({"FLUSHDB", "NOW"}, kSyntax);
    expect_refused({"FLUSHDB", "ASYNC", "SYNC"}, kSyntax);
    EXPECT_EQ(read({"DBSIZE"}), integer(1));
}

TEST_F(CommandsTest, CommandNamesAreCaseInsensitive) {
    EXPECT_EQ(write({"set", "k", "1"}), Reply::ok());
    EXPECT_EQ(write({"iNcR", "k"}), integer(2));
    EXPECT_EQ(read({"get", "k"}), bulk("2"));
    EXPECT_EQ(read({"Get", "k"}), bulk("2"));
}

TEST_F(CommandsTest, UnknownCommandsAreErrors) {
    expect_refused({"GET", "k"}, "ERR unknown write command 'GET'");
    EXPECT_EQ(read({"SET", "k", "v"}), error("ERR unknown read command 'SET'"));
}

// --- Limits -----------------------------------------------------------------

TEST_F(CommandsTest, ValuesAboveTheLimitAreRefusedWithNoEffects) {
    limits.max_value_bytes = 10;
    const std::string too_large = "ERR value is larger than the maximum of 10 bytes";
    const std::string fits(10, 'x'), big(11, 'x');
    write({"SET", "k", "orig"});
    expect_refused({"SET", "k", big}, too_large);
    expect_refused({"SET", "k", big, "NX"}, too_large);
    expect_refused({"SET", "new", big, "XX"}, too_large);
    expect_refused({"PUT", "k", big}, too_large);
    expect_refused({"SETNX", "new", big}, too_large);
    expect_refused({"GETSET", "k", big}, too_large);
    expect_refused({"MSET", "a", "1", "b", big, "c", "3"}, too_large);
    expect_refused({"APPEND", "k", "1234567"}, too_large);  // 4 + 7 > 10
    expect_refused({"APPEND", "new", big}, too_large);
    EXPECT_EQ(read({"MGET", "k", "new", "a", "b", "c"}),
              array({bulk("orig"), Reply::nil(), Reply::nil(), Reply::nil(), Reply::nil()}));

    EXPECT_EQ(write({"SET", "k", fits}), Reply::ok());
    EXPECT_EQ(write({"SETNX", "n", fits}), integer(1));
    EXPECT_EQ(write({"MSET", "a", fits, "b", fits}), Reply::ok());
    EXPECT_EQ(write({"APPEND", "s", "12345"}), integer(5));
    EXPECT_EQ(write({"APPEND", "s", "67890"}), integer(10));
}

// --- Command table ----------------------------------------------------------

TEST(CommandTableTest, FindCommandIsCaseInsensitive) {
    const CommandSpec* get = find_command("get");
    ASSERT_NE(get, nullptr);
    EXPECT_EQ(get->name, "get");
    EXPECT_EQ(find_command("GET"), get);
    EXPECT_EQ(find_command("gEt"), get);
    EXPECT_EQ(find_command("nope"), nullptr);
    EXPECT_EQ(find_command(""), nullptr);
    EXPECT_EQ(find_command("ge"), nullptr);
    EXPECT_EQ(find_command("gets"), nullptr);
    EXPECT_EQ(find_command("get\0"s), nullptr);
    for (const CommandSpec& spec : command_table()) {
        EXPECT_EQ(find_command(spec.name), &spec);
        EXPECT_EQ(find_command(upper(spec.name)), &spec);
    }
}

TEST(CommandTableTest, NamesAreLowerCaseAndUnique) {
    std::set<std::string_view> names;
    for (const CommandSpec& spec : command_table()) {
        EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
        for (char ch : spec.name) EXPECT_TRUE(ch >= 'a' && ch <= 'z') << spec.name;
        EXPECT_NE(spec.arity, 0) << spec.name;
    }
}

TEST(CommandTableTest, ClassesAndWriteFlagsAgree) {
    for (const CommandSpec& spec : command_table()) {
        switch (spec.cls) {
            case CommandClass::write:
            case CommandClass::multi_write:
                EXPECT_TRUE(spec.write) << spec.name;
                break;
            case CommandClass::read:
            case CommandClass::multi_read:
            case CommandClass::connection:
                EXPECT_FALSE(spec.write) << spec.name;
                break;
            case CommandClass::keyspace:
                break;
        }
        if (spec.cls == CommandClass::read || spec.cls == CommandClass::write) {
            EXPECT_EQ(spec.first_key, 1) << spec.name;
            EXPECT_EQ(spec.last_key, 1) << spec.name;
        }
    }
    EXPECT_TRUE(find_command("flushdb")->write);
    EXPECT_FALSE(find_command("keys")->write);
    EXPECT_EQ(find_command("mset")->key_step, 2);
    EXPECT_EQ(find_command("put")->cls, CommandClass::write);
    EXPECT_EQ(find_command("read")->cls, CommandClass::read);
    EXPECT_EQ(find_command("delete")->cls, CommandClass::multi_write);
}

TEST(CommandTableTest, ArityFollowsRedisConvention) {
    const CommandSpec& get = *find_command("get");  // 2: exactly
    EXPECT_FALSE(arity_ok(get, 0));
    EXPECT_FALSE(arity_ok(get, 1));
    EXPECT_TRUE(arity_ok(get, 2));
    EXPECT_FALSE(arity_ok(get, 3));
    const CommandSpec& set = *find_command("set");  // -3: at least 3
    EXPECT_FALSE(arity_ok(set, 2));
    EXPECT_TRUE(arity_ok(set, 3));
    EXPECT_TRUE(arity_ok(set, 4));
    EXPECT_TRUE(arity_ok(set, 9));
    const CommandSpec& ping = *find_command("ping");  // -1
    EXPECT_FALSE(arity_ok(ping, 0));
    EXPECT_TRUE(arity_ok(ping, 1));
    EXPECT_TRUE(arity_ok(ping, 2));
    const CommandSpec& dbsize = *find_command("dbsize");  // 1
    EXPECT_TRUE(arity_ok(dbsize, 1));
    EXPECT_FALSE(arity_ok(dbsize, 2));
    const CommandSpec& mset = *find_command("mset");  // -3
    EXPECT_FALSE(arity_ok(mset, 2));
    EXPECT_TRUE(arity_ok(mset, 3));
    EXPECT_TRUE(arity_ok(mset, 4)) << "an odd pair count is the command's own error";
    EXPECT_EQ(find_command("incrby")->arity, 3);
    EXPECT_EQ(find_command("del")->arity, -2);
}

TEST(CommandHelpersTest, Upper) {
    EXPECT_EQ(upper("get"), "GET");
    EXPECT_EQ(upper("MiXeD 123_x"), "MIXED 123_X");
    EXPECT_EQ(upper(""), "");
    EXPECT_EQ(upper("\xe9t\xe9"s), "\xe9T\xe9"s) << "only ASCII changes";
}

TEST(CommandHelpersTest, ParseInt64) {
    int64_t v = 0;
    EXPECT_TRUE(parse_int64("0", v));
    EXPECT_EQ(v, 0);
    EXPECT_TRUE(parse_int64("42", v));
    EXPECT_EQ(v, 42);
    EXPECT_TRUE(parse_int64("-42", v));
    EXPECT_EQ(v, -42);
    EXPECT_TRUE(parse_int64("9223372036854775807", v));
    EXPECT_EQ(v, std::numeric_limits<int64_t>::max());
    EXPECT_TRUE(parse_int64("-9223372036854775808", v));
    EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
    for (std::string_view bad : {"", "-", "+1", "01", "-0", "-01", "1.0", " 1", "1 ", "1a", "0x1",
                                 "9223372036854775808", "-9223372036854775809", "100000000000000000000"}) {
        EXPECT_FALSE(parse_int64(bad, v)) << bad;
    }
}

TEST_F(CommandsTest, EncodedReadsAreTheEncodedRepliesOfEvaluatedReads) {
    write({"SET", "k", "value"});
    write({"SET", "gone", "x", "PX", "5"});
    now += 10;  // "gone" has expired
    write({"SET", "empty", ""});
    for (const Command& c : std::vector<Command>{{"GET", "k"},
                                                 {"get", "k"},
                                                 {"GeT", "missing"},
                                                 {"GET", "gone"},
                                                 {"GET", "empty"},
                                                 {"READ", "k"},
                                                 {"STRLEN", "k"},
                                                 {"TTL", "k"},
                                                 {"EXISTS", "k", "missing"}}) {
        std::string direct = "prefix";
        const CommandSpec* spec = find_command(c[0]);
        ASSERT_NE(spec, nullptr) << c[0];
        encode_read(*spec, c, view.store, now, direct);
        std::string via_reply = "prefix";
        encode_reply(read(c), via_reply);
        EXPECT_EQ(direct, via_reply) << ::testing::PrintToString(c);
    }
}

TEST(CommandTableTest, EveryCommandIsFoundByItsNameInAnyCase) {
    for (const CommandSpec& spec : command_table()) {
        EXPECT_EQ(find_command(spec.name), &spec);
        EXPECT_EQ(find_command(upper(spec.name)), &spec);
    }
    for (std::string_view unknown : {"", "x", "gett", "ge", "{}", "1get", "zzz", "getsetextralongname"})
        EXPECT_EQ(find_command(unknown), nullptr) << unknown;
}

}  // namespace
}  // namespace fjord::kv
