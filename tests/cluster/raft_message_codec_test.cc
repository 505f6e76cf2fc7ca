// The wire encoding of raft::Message (cluster/raft_message_codec.h): every
// field survives a round trip for every message type, and truncated,
// extended, corrupted or random input is refused with a precise error.
#include "cluster/raft_message_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/big_endian.h"
#include "seeded_rng.h"

namespace fjord::cluster::testing {
namespace {

using fjord::testing::SeededRng;
using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Membership;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Term;

constexpr int kMessageTypes = static_cast<int>(MessageType::read_index_resp) + 1;

std::string random_bytes(SeededRng& rng, size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng.next());
    return s;
}

// Large values half of the time, so that all 8 bytes of a field matter.
uint64_t random_u64(SeededRng& rng) {
    return rng.chance(50) ? rng.next() : rng.range(0, 1000);
}

Membership random_membership(SeededRng& rng) {
    std::set<uint64_t> ids;
    for (uint64_t n = rng.range(0, 6); ids.size() < n;) ids.insert(rng.range(1, 20));
    Membership m;
    for (uint64_t id : ids) (rng.chance(70) ? m.voters : m.learners).push_back(NodeId{id});
    return m;
}

Entry random_entry(SeededRng& rng) {
    Entry e;
    e.index = Index{random_u64(rng)};
    e.term = Term{random_u64(rng)};
    e.span = static_cast<uint32_t>(rng.range(1, 100));
    e.type = static_cast<EntryType>(rng.range(0, 2));
    e.data = e.type == EntryType::membership ? random_membership(rng).encode()
                                             : random_bytes(rng, rng.range(0, 40));
    return e;
}

// Every field set at random, whatever the type: the codec writes them all.
Message random_message(SeededRng& rng, MessageType type) {
    Message m;
    m.type = type;
    m.from = NodeId{random_u64(rng)};
    m.to = NodeId{random_u64(rng)};
    m.term = Term{random_u64(rng)};
    m.log_index = Index{random_u64(rng)};
    m.log_term = Term{random_u64(rng)};
    m.commit = Index{random_u64(rng)};
    for (uint64_t n = rng.range(0, 4); n > 0; --n) m.entries.push_back(random_entry(rng));
    m.reject = rng.chance(50);
    m.hint_index = Index{random_u64(rng)};
    m.hint_term = Term{random_u64(rng)};
    m.read_seq = random_u64(rng);
    m.lease_tick = random_u64(rng);
    m.context = random_u64(rng);
    m.force = rng.chance(50);
    m.lease_read = rng.chance(50);
    m.chunk_offset = random_u64(rng);
    m.chunk = random_bytes(rng, rng.range(0, 64));
    m.chunk_last = rng.chance(50);
    m.snapshot_membership = random_membership(rng);
    return m;
}

// A message whose every variable part is present, for the corruption tests.
Message full_message() {
    Message m;
    m.type = MessageType::snapshot;
    m.from = NodeId{1};
    m.to = NodeId{2};
    m.term = Term{3};
    m.entries = {Entry{Index{10}, Term{3}, 2, EntryType::normal, Payload("batch")},
                 Entry{Index{11}, Term{3}, 1, EntryType::noop, Payload()}};
    m.reject = true;
    m.chunk = "chunk bytes";
    m.chunk_last = true;
    m.snapshot_membership = Membership{{NodeId{1}, NodeId{2}}, {NodeId{3}}};
    return m;
}

std::string encoded(const Message& m) {
    std::string out;
    encode_message(out, m);
    return out;
}

std::string decode_error(std::string_view bytes) {
    auto d = decode_message(bytes);
    return d ? "(decoded)" : d.error();
}

// Byte offsets in format 1: format, type, six u64 fields, then the entries.
constexpr size_t kTypeAt = 1;
constexpr size_t kEntryCountAt = 2 + 6 * 8;
constexpr size_t kFirstEntryAt = kEntryCountAt + 4;
constexpr size_t kFirstEntryTypeAt = kFirstEntryAt + 8 + 8 + 4;

// What follows the entries of full_message(): the offset of its `reject`.
size_t reject_at(const Message& m) {
    size_t at = kFirstEntryAt;
    for (const Entry& e : m.entries) at += 8 + 8 + 4 + 1 + 4 + e.data.size();
    return at;
}

TEST(RaftMessageCodecTest, DefaultMessageRoundTrips) {
    auto d = decode_message(encoded(Message{}));
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d->type, MessageType::heartbeat);
    EXPECT_EQ(encoded(*d), encoded(Message{}));
}

void expect_same_message(const Message& got, const Message& want) {
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.from, want.from);
    EXPECT_EQ(got.to, want.to);
    EXPECT_EQ(got.term, want.term);
    EXPECT_EQ(got.log_index, want.log_index);
    EXPECT_EQ(got.log_term, want.log_term);
    EXPECT_EQ(got.commit, want.commit);
    EXPECT_EQ(got.entries, want.entries);
    EXPECT_EQ(got.reject, want.reject);
    EXPECT_EQ(got.hint_index, want.hint_index);
    EXPECT_EQ(got.hint_term, want.hint_term);
    EXPECT_EQ(got.read_seq, want.read_seq);
    EXPECT_EQ(got.lease_tick, want.lease_tick);
    EXPECT_EQ(got.context, want.context);
    EXPECT_EQ(got.force, want.force);
    EXPECT_EQ(got.lease_read, want.lease_read);
    EXPECT_EQ(got.chunk_offset, want.chunk_offset);
    EXPECT_EQ(got.chunk, want.chunk);
    EXPECT_EQ(got.chunk_last, want.chunk_last);
    EXPECT_EQ(got.snapshot_membership, want.snapshot_membership);
}

TEST(RaftMessageCodecTest, RandomMessagesOfEveryTypeRoundTrip) {
    SeededRng rng(21);
    for (int type = 0; type < kMessageTypes; ++type) {
        for (int i = 0; i < 200; ++i) {
            Message m = random_message(rng, static_cast<MessageType>(type));
            auto d = decode_message(encoded(m));
            ASSERT_TRUE(d) << d.error();
            expect_same_message(*d, m);
            if (::testing::Test::HasFailure()) FAIL() << "type " << type << ", message " << i;
        }
    }
}

TEST(RaftMessageCodecTest, EncodeAppendsToTheBuffer) {
    std::string out = "head";
    encode_message(out, full_message());
    EXPECT_EQ(out, "head" + encoded(full_message()));
}

TEST(RaftMessageCodecTest, EveryTruncationFails) {
    SeededRng rng(22);
    std::vector<Message> messages = {Message{}, full_message()};
    for (int type = 0; type < kMessageTypes; ++type) {
        messages.push_back(random_message(rng, static_cast<MessageType>(type)));
    }
    for (const Message& m : messages) {
        std::string bytes = encoded(m);
        for (size_t n = 0; n < bytes.size(); ++n) {
            EXPECT_FALSE(decode_message(std::string_view(bytes).substr(0, n))) << "prefix of " << n;
        }
    }
}

TEST(RaftMessageCodecTest, TruncationErrorNamesTheField) {
    std::string bytes = encoded(full_message());
    EXPECT_EQ(decode_error(bytes.substr(0, 5)), "from: needs 8 bytes, 3 left");
    EXPECT_EQ(decode_error(bytes.substr(0, bytes.size() - 1)),
              "snapshot membership: length 40 exceeds the 39 bytes left");
}

TEST(RaftMessageCodecTest, TrailingByteFails) {
    EXPECT_EQ(decode_error(encoded(full_message()) + "x"), "1 unexpected bytes after the end");
}

TEST(RaftMessageCodecTest, UnknownFormatVersionFails) {
    std::string bytes = encoded(full_message());
    bytes[0] = 2;
    EXPECT_EQ(decode_error(bytes), "unknown format version 2");
}

TEST(RaftMessageCodecTest, UnknownMessageTypeFails) {
    std::string bytes = encoded(full_message());
    bytes[kTypeAt] = static_cast<char>(kMessageTypes);
    EXPECT_EQ(decode_error(bytes), "unknown message type 13");
}

TEST(RaftMessageCodecTest, UnknownEntryTypeFails) {
    std::string bytes = encoded(full_message());
    bytes[kFirstEntryTypeAt] = 3;
    EXPECT_EQ(decode_error(bytes), "entry 0: unknown entry type 3");
}

TEST(RaftMessageCodecTest, EntryDataBeyondTheInputFails) {
    std::string bytes = encoded(full_message());
    be::store32(bytes.data() + kFirstEntryTypeAt + 1, 99999);
    EXPECT_EQ(decode_error(bytes), "entry 0: data: length 99999 exceeds the " +
                                       std::to_string(bytes.size() - kFirstEntryTypeAt - 5) + " bytes left");
}

TEST(RaftMessageCodecTest, BooleanOtherThanZeroOrOneFails) {
    Message m = full_message();
    std::string bytes = encoded(m);
    bytes[reject_at(m)] = 2;
    EXPECT_EQ(decode_error(bytes), "reject: byte 2 is not a boolean");
}

TEST(RaftMessageCodecTest, InvalidMembershipFails) {
    Message m = full_message();
    m.snapshot_membership = Membership{{NodeId{2}, NodeId{1}}, {}};  // unsorted
    EXPECT_EQ(decode_error(encoded(m)), "snapshot membership: not a valid membership encoding");
}

TEST(RaftMessageCodecTest, EmptyMembershipTakesNoBytes) {
    std::string bytes = encoded(Message{});
    ASSERT_EQ(bytes.substr(bytes.size() - 4), std::string(4, '\0'));
    // The long form of an empty membership would be a second encoding of the same message.
    bytes.resize(bytes.size() - 4);
    std::string long_form = Membership{}.encode();
    be::append(bytes, long_form.size(), 4);
    bytes += long_form;
    EXPECT_EQ(decode_error(bytes), "snapshot membership: an empty membership must take no bytes");
}

TEST(RaftMessageCodecTest, HugeEntryCountFailsWithoutAllocating) {
    std::string bytes = encoded(Message{});
    be::store32(bytes.data() + kEntryCountAt, 0xFFFFFFFF);
    size_t left = bytes.size() - kFirstEntryAt;
    EXPECT_EQ(decode_error(bytes),
              "entry count: 4294967295 elements cannot fit in the " + std::to_string(left) + " bytes left");
}

TEST(RaftMessageCodecTest, RandomGarbageNeverCrashes) {
    SeededRng rng(23);
    for (int i = 0; i < 10'000; ++i) {
        std::string garbage = random_bytes(rng, rng.range(0, 200));
        // Most inputs get past the version check, to reach the later fields.
        if (rng.chance(80) && !garbage.empty()) garbage[0] = static_cast<char>(kRaftMessageFormat);
        auto d = decode_message(garbage);
        if (d) {
            EXPECT_EQ(encoded(*d), garbage);
        }
    }
}

TEST(RaftMessageCodecTest, CorruptedMessagesNeverCrash) {
    SeededRng rng(24);
    std::string valid = encoded(full_message());
    for (int i = 0; i < 10'000; ++i) {
        std::string mutated = valid;
        for (uint64_t k = rng.range(1, 4); k > 0; --k) {
            mutated[rng.range(0, mutated.size() - 1)] = static_cast<char>(rng.next());
        }
        // A corruption that still decodes must decode to what encodes to it.
        auto d = decode_message(mutated);
        if (d) {
            EXPECT_EQ(encoded(*d), mutated);
        }
    }
}

}  // namespace
}  // namespace fjord::cluster::testing
