// Layout of format 1 (integers big-endian, `bytes` = u32 length + bytes):
//
//   u8 format, u8 type, u64 from, to, term, log_index, log_term, commit,
//   u32 entry count, then per entry: u64 index, u64 term, u32 span,
//   u8 entry type, bytes data;
//   u8 reject, u64 hint_index, hint_term, read_seq, lease_tick, context,
//   u8 force, u8 lease_read, u64 chunk_offset, bytes chunk, u8 chunk_last,
//   bytes snapshot_membership (raft::Membership::encode(), empty when the
//   membership is, which every message but a snapshot chunk's is).
#include "cluster/raft_message_codec.h"

#include "common/byte_codec.h"

namespace fjord::cluster {

namespace {

// Index, term, span, type and data length: an entry with no data.
constexpr size_t kMinEntrySize = 8 + 8 + 4 + 1 + 4;

void write_entry(ByteWriter& w, const raft::Entry& e) {
    w.u64(e.index.value);
    w.u64(e.term.value);
    w.u32(e.span);
    w.u8(static_cast<uint8_t>(e.type));
    w.bytes(e.data.view());
}

std::string encode_membership(const raft::Membership& m) {
    return m.voters.empty() && m.learners.empty() ? std::string() : m.encode();
}

raft::Entry read_entry(ByteReader& r) {
    raft::Entry e;
    e.index = raft::Index{r.u64("index")};
    e.term = raft::Term{r.u64("term")};
    e.span = r.u32("span");
    uint8_t type = r.u8("type");
    if (type > static_cast<uint8_t>(raft::EntryType::membership)) {
        r.fail("unknown entry type " + std::to_string(type));
    }
    e.type = static_cast<raft::EntryType>(type);
    e.data = Payload(std::string(r.bytes("data")));
    return e;
}

std::vector<raft::Entry> read_entries(ByteReader& r) {
    std::vector<raft::Entry> entries;
    uint32_t n = r.count("entry count", kMinEntrySize);
    entries.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        entries.push_back(read_entry(r));
        r.add_context("entry", i);
    }
    return entries;
}

raft::MessageType read_type(ByteReader& r) {
    uint8_t type = r.u8("message type");
    if (type > static_cast<uint8_t>(raft::MessageType::read_index_resp)) {
        r.fail("unknown message type " + std::to_string(type));
    }
    return static_cast<raft::MessageType>(type);
}

raft::Membership read_membership(ByteReader& r) {
    raft::Membership m;
    std::string_view bytes = r.bytes("snapshot membership");
    if (bytes.empty()) return m;
    if (!raft::Membership::decode(bytes, m)) {
        r.fail("snapshot membership: not a valid membership encoding");
    } else if (m.voters.empty() && m.learners.empty()) {
        // One encoding per message: an empty membership is written as no bytes.
        r.fail("snapshot membership: an empty membership must take no bytes");
    }
    return m;
}

}  // namespace

void encode_message(std::string& out, const raft::Message& m) {
    // Sized up front: an append carries up to a megabyte of entries, which
    // growing by doubling would copy several times over.
    size_t size = out.size() + 160 + m.chunk.size();
    for (const raft::Entry& e : m.entries) size += 25 + e.data.size();
    out.reserve(size);
    ByteWriter w(out);
    w.u8(kRaftMessageFormat);
    w.u8(static_cast<uint8_t>(m.type));
    w.u64(m.from.value);
    w.u64(m.to.value);
    w.u64(m.term.value);
    w.u64(m.log_index.value);
    w.u64(m.log_term.value);
    w.u64(m.commit.value);
    w.u32(static_cast<uint32_t>(m.entries.size()));
    for (const raft::Entry& e : m.entries) write_entry(w, e);
    w.boolean(m.reject);
    w.u64(m.hint_index.value);
    w.u64(m.hint_term.value);
    w.u64(m.read_seq);
    w.u64(m.lease_tick);
    w.u64(m.context);
    w.boolean(m.force);
    w.boolean(m.lease_read);
    w.u64(m.chunk_offset);
    w.bytes(m.chunk);
    w.boolean(m.chunk_last);
    w.bytes(encode_membership(m.snapshot_membership));
}

Result<raft::Message, std::string> decode_message(std::string_view bytes) {
    ByteReader r(bytes);
    uint8_t format = r.u8("format version");
    if (format != kRaftMessageFormat) r.fail("unknown format version " + std::to_string(format));
    raft::Message m;
    m.type = read_type(r);
    m.from = raft::NodeId{r.u64("from")};
    m.to = raft::NodeId{r.u64("to")};
    m.term = raft::Term{r.u64("term")};
    m.log_index = raft::Index{r.u64("log index")};
    m.log_term = raft::Term{r.u64("log term")};
    m.commit = raft::Index{r.u64("commit")};
    m.entries = read_entries(r);
    m.reject = r.boolean("reject");
    m.hint_index = raft::Index{r.u64("hint index")};
    m.hint_term = raft::Term{r.u64("hint term")};
    m.read_seq = r.u64("read seq");
    m.lease_tick = r.u64("lease tick");
    m.context = r.u64("context");
    m.force = r.boolean("force");
    m.lease_read = r.boolean("lease read");
    m.chunk_offset = r.u64("chunk offset");
    m.chunk = r.bytes("chunk");
    m.chunk_last = r.boolean("chunk last");
    m.snapshot_membership = read_membership(r);
    r.expect_end();
    if (!r.ok()) return make_unexpected(r.error());
    return m;
}

}  // namespace fjord::cluster
