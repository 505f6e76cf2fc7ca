// Redis's glob patterns (KEYS, SCAN MATCH): stars, single bytes, classes,
// ranges, negation, escapes, and no exponential backtracking.
#include "kv/glob.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace fjord::kv {
namespace {

using namespace std::string_literals;

TEST(GlobTest, LiteralPatternsMatchOnlyThemselves) {
    EXPECT_TRUE(glob_match("hello", "hello"));
    EXPECT_FALSE(glob_match("hello", "hell"));
    EXPECT_FALSE(glob_match("hello", "helloo"));
    EXPECT_FALSE(glob_match("hello", "Hello")) << "matching is case-sensitive";
    EXPECT_TRUE(glob_match("", ""));
    EXPECT_FALSE(glob_match("", "a"));
    EXPECT_FALSE(glob_match("a", ""));
}

TEST(GlobTest, StarMatchesAnyRunIncludingNone) {
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_TRUE(glob_match("*", "anything at all"));
    EXPECT_TRUE(glob_match("**", ""));
    EXPECT_TRUE(glob_match("h*llo", "hllo"));
    EXPECT_TRUE(glob_match("h*llo", "hello"));
    EXPECT_TRUE(glob_match("h*llo", "heeeello"));
    EXPECT_TRUE(glob_match("h*llo", "hllollo"));
    EXPECT_FALSE(glob_match("h*llo", "hellox"));
    EXPECT_FALSE(glob_match("h*llo", "xhello"));
    EXPECT_TRUE(glob_match("user:*", "user:"));
    EXPECT_TRUE(glob_match("user:*", "user:42"));
    EXPECT_FALSE(glob_match("user:*", "user"));
    EXPECT_TRUE(glob_match("*:42", "user:42"));
    EXPECT_TRUE(glob_match("*er*", "user:42"));
    EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
    EXPECT_FALSE(glob_match("a*b*c", "aXXcYYb"));
    EXPECT_TRUE(glob_match("a*", "a"));
    EXPECT_TRUE(glob_match("*a", "a"));
    EXPECT_FALSE(glob_match("*a", "ab"));
}

TEST(GlobTest, QuestionMarkMatchesExactlyOneByte) {
    EXPECT_TRUE(glob_match("h?llo", "hello"));
    EXPECT_TRUE(glob_match("h?llo", "hallo"));
    EXPECT_FALSE(glob_match("h?llo", "hllo"));
    EXPECT_FALSE(glob_match("h?llo", "heello"));
    EXPECT_TRUE(glob_match("???", "abc"));
    EXPECT_FALSE(glob_match("???", "ab"));
    EXPECT_FALSE(glob_match("?", ""));
    EXPECT_TRUE(glob_match("?", "\0"s));
    EXPECT_TRUE(glob_match("?", "\xff"s));
    EXPECT_TRUE(glob_match("*?", "x"));
    EXPECT_FALSE(glob_match("*?", ""));
}

TEST(GlobTest, ClassMatchesOneOfItsBytes) {
    EXPECT_TRUE(glob_match("h[ae]llo", "hello"));
    EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
    EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
    EXPECT_FALSE(glob_match("h[ae]llo", "hllo"));
    EXPECT_TRUE(glob_match("[abc]", "a"));
    EXPECT_TRUE(glob_match("[abc]", "c"));
    EXPECT_FALSE(glob_match("[abc]", "d"));
    EXPECT_FALSE(glob_match("[abc]", ""));
    EXPECT_FALSE(glob_match("[abc]", "ab"));
    EXPECT_TRUE(glob_match("[abc]*", "cat"));
}

TEST(GlobTest, NegatedClassMatchesAnyOtherByte) {
    EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
    EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
    EXPECT_TRUE(glob_match("[^a]", "b"));
    EXPECT_FALSE(glob_match("[^a]", "a"));
    EXPECT_FALSE(glob_match("[^a]", "")) << "a negated class still needs a byte";
    EXPECT_TRUE(glob_match("[^abc]", "d"));
    EXPECT_FALSE(glob_match("[^abc]", "b"));
    EXPECT_TRUE(glob_match("[^a-c]x", "dx"));
    EXPECT_FALSE(glob_match("[^a-c]x", "bx"));
}

TEST(GlobTest, RangesIncludeBothEnds) {
    EXPECT_TRUE(glob_match("[a-z]", "a"));
    EXPECT_TRUE(glob_match("[a-z]", "m"));
    EXPECT_TRUE(glob_match("[a-z]", "z"));
    EXPECT_FALSE(glob_match("[a-z]", "A"));
    EXPECT_FALSE(glob_match("[a-z]", "0"));
    EXPECT_TRUE(glob_match("key:[0-9][0-9]", "key:42"));
    EXPECT_FALSE(glob_match("key:[0-9][0-9]", "key:4x"));
    EXPECT_TRUE(glob_match("[a-cx-z]", "y"));
    EXPECT_FALSE(glob_match("[a-cx-z]", "m"));
    EXPECT_TRUE(glob_match("[z-a]", "m")) << "a reversed range is taken as the same range (as in Redis)";
}

TEST(GlobTest, DashAtTheEndOfAClassIsLiteral) {
    EXPECT_TRUE(glob_match("[a-]", "-"));
    EXPECT_TRUE(glob_match("[a-]", "a"));
    EXPECT_FALSE(glob_match("[a-]", "b"));
}

TEST(GlobTest, BackslashEscapesTheNextByte) {
    EXPECT_TRUE(glob_match("\\*", "*"));
    EXPECT_FALSE(glob_match("\\*", "x"));
    EXPECT_FALSE(glob_match("\\*", ""));
    EXPECT_TRUE(glob_match("\\?", "?"));
    EXPECT_FALSE(glob_match("\\?", "a"));
    EXPECT_TRUE(glob_match("\\[abc]", "[abc]"));
    EXPECT_FALSE(glob_match("\\[abc]", "a"));
    EXPECT_TRUE(glob_match("\\\\", "\\"));
    EXPECT_TRUE(glob_match("a\\b", "ab")) << "escaping an ordinary byte is the byte";
    EXPECT_TRUE(glob_match("user\\*:*", "user*:1"));
    EXPECT_FALSE(glob_match("user\\*:*", "user1:1"));
}

TEST(GlobTest, TrailingBackslashIsLiteral) {
    EXPECT_TRUE(glob_match("a\\", "a\\"));
    EXPECT_FALSE(glob_match("a\\", "a"));
}

TEST(GlobTest, EscapesInsideAClass) {
    EXPECT_TRUE(glob_match("[\\]]", "]"));
    EXPECT_TRUE(glob_match("[\\^a]", "^"));
    EXPECT_TRUE(glob_match("[\\-]", "-"));
    EXPECT_FALSE(glob_match("[\\]]", "\\"));
}

TEST(GlobTest, UnterminatedClassRunsToTheEnd) {
    EXPECT_TRUE(glob_match("[abc", "b"));
    EXPECT_FALSE(glob_match("[abc", "d"));
}

TEST(GlobTest, PatternsWithBinaryBytes) {
    EXPECT_TRUE(glob_match("a\0*"s, "a\0bc"s));
    EXPECT_FALSE(glob_match("a\0*"s, "abc"s));
    EXPECT_TRUE(glob_match("[\x80-\xff]"s, "\x90"s)) << "bytes above 0x7f compare as themselves in a range";
}

TEST(GlobTest, PathologicalPatternFinishesQuickly) {
    std::string text(100000, 'a');
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(glob_match("a*a*a*a*a*b", text));
    EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", text));
    EXPECT_TRUE(glob_match("a*a*a*a*a*a", text));
    EXPECT_FALSE(glob_match("*?*?*?*?*b", text));
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(1)) << "backtracking must not explode";
}

TEST(GlobTest, MatchesAgreeWithASimpleReference) {
    // A plain recursive matcher over small inputs (no classes or escapes) as the reference.
    struct Ref {
        static bool match(std::string_view p, std::string_view t) {
            if (p.empty()) return t.empty();
            if (p[0] == '*') return match(p.substr(1), t) || (!t.empty() && match(p, t.substr(1)));
            if (t.empty()) return false;
            return (p[0] == '?' || p[0] == t[0]) && match(p.substr(1), t.substr(1));
        }
    };
    const std::string alphabet = "ab*?";
    const std::string text_alphabet = "ab";
    // Every pattern of length <= 4 over "ab*?" against every text of length <= 5 over "ab".
    std::vector<std::string> patterns{""}, texts{""};
    for (size_t len = 1, from = 0; len <= 4; ++len) {
        size_t to = patterns.size();
        for (size_t i = from; i < to; ++i)
            for (char c : alphabet) patterns.push_back(patterns[i] + c);
        from = to;
    }
    for (size_t len = 1, from = 0; len <= 5; ++len) {
        size_t to = texts.size();
        for (size_t i = from; i < to; ++i)
            for (char c : text_alphabet) texts.push_back(texts[i] + c);
        from = to;
    }
    int checked = 0;
    for (const std::string& p : patterns) {
        for (const std::string& t : texts) {
            ASSERT_EQ(glob_match(p, t), Ref::match(p, t)) << "pattern '" << p << "' text '" << t << "'";
            ++checked;
        }
    }
    EXPECT_GT(checked, 10000);
}

}  // namespace
}  // namespace fjord::kv
