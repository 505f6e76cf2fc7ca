#include "kv/forward_codec.h"

#include "common/byte_codec.h"

namespace fjord::kv {

std::string encode_request(uint64_t id, const ShardRequest& request) {
    std::string out;
    ByteWriter w(out);
    w.u64(id);
    w.u8(static_cast<uint8_t>(request.write_mode));
    w.u8(static_cast<uint8_t>(request.read_mode));
    w.u64(request.min_index);
    w.u32(static_cast<uint32_t>(request.command.size()));
    for (const std::string& arg : request.command) w.bytes(arg);
    return out;
}

Result<std::pair<uint64_t, ShardRequest>, std::string> decode_request(std::string_view bytes,
                                                                      uint64_t group) {
    ByteReader r(bytes);
    ShardRequest request;
    request.group = group;
    uint64_t id = r.u64("id");
    uint8_t write_mode = r.u8("write mode");
    uint8_t read_mode = r.u8("read mode");
    if (r.ok() && (write_mode > 1 || read_mode > 2)) r.fail("unknown write or read mode");
    request.write_mode = static_cast<WriteMode>(write_mode);
    request.read_mode = static_cast<ReadMode>(read_mode);
    request.min_index = r.u64("min index");
    uint32_t argc = r.count("arguments", 4);
    for (uint32_t i = 0; i < argc && r.ok(); ++i) request.command.emplace_back(r.bytes("argument"));
    r.expect_end();
    if (r.ok() && request.command.empty()) r.fail("a command without arguments");
    if (!r.ok()) return make_unexpected("kv request: " + r.error());
    return std::pair{id, std::move(request)};
}

std::string encode_answer(uint64_t id, const ShardAnswer& answer) {
    std::string out;
    ByteWriter w(out);
    w.u64(id);
    w.u8(static_cast<uint8_t>(answer.status));
    w.u64(answer.leader);
    w.u64(answer.write_index);
    std::string reply;
    encode_reply(answer.reply, reply);
    w.bytes(reply);
    return out;
}

Result<std::pair<uint64_t, ShardAnswer>, std::string> decode_answer(std::string_view bytes) {
    ByteReader r(bytes);
    ShardAnswer answer;
    uint64_t id = r.u64("id");
    uint8_t status = r.u8("status");
    if (r.ok() && status > 1) r.fail("unknown status " + std::to_string(status));
    answer.status = static_cast<ShardAnswer::Status>(status);
    answer.leader = r.u64("leader");
    answer.write_index = r.u64("write index");
    std::string_view reply = r.bytes("reply");
    r.expect_end();
    if (!r.ok()) return make_unexpected("kv answer: " + r.error());
    ReplyParse parsed = parse_reply(reply);
    if (parsed.status != ParseStatus::complete || parsed.consumed != reply.size())
        return make_unexpected(std::string("kv answer: the reply is not one RESP value"));
    answer.reply = std::move(parsed.reply);
    return std::pair{id, std::move(answer)};
}

}  // namespace fjord::kv
