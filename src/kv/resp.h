// The Redis wire protocol (RESP2) as the key-value layer speaks it: parsing
// client commands (RESP arrays of bulk strings, or inline command lines as
// typed into telnet), encoding replies, and decoding replies again for the
// answers one node relays from another.
//
// Both parsers are stateless: a connection keeps its unparsed bytes and calls
// again once more arrive. They skip bulk payloads by their length instead of
// scanning them, and build nothing until a whole command or reply is present,
// so re-parsing a large value that is still arriving stays cheap. Protocol
// errors carry Redis's own texts where Redis has one, so clients see the
// errors they know.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fjord::kv {

// One client command: its arguments, the command name first.
using Command = std::vector<std::string>;

struct RespLimits {
    size_t max_bulk_bytes = 512u << 20;   // Redis's proto-max-bulk-len
    size_t max_args = 1024 * 1024;        // elements of one multibulk
    size_t max_inline_bytes = 64u << 10;  // one inline command line (and one length line)
};

enum class ParseStatus : uint8_t { complete, incomplete, error };

struct CommandParse {
    ParseStatus status{ParseStatus::incomplete};
    size_t consumed{0};  // bytes of `in` the command (or an empty inline line) took; valid when complete
    Command command;     // empty for an empty inline line or "*0"/"*-1" (skip it, answer nothing)
    std::string error;   // when status == error: the Redis error text without "-" and CRLF
};

// Parses one command from the front of `in`: a RESP array of bulk strings
// ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or, when `in` does not start with '*',
// an inline command line split like Redis's sdssplitargs (whitespace
// separated words, "double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
// 'single quotes' with a \' escape, a closing quote followed by whitespace or
// the end; the line ends at \n, one \r before it is dropped, and a NUL byte
// ends it early as it does in Redis). With `incomplete`, call again with more
// bytes; after `error` the connection cannot be resynchronised.
CommandParse parse_command(std::string_view in, const RespLimits& limits = {});

// A reply, as the server builds it.
struct Reply {
    enum class Kind : uint8_t { simple, error, integer, bulk, nil, array, nil_array };
    Kind kind{Kind::nil};
    std::string text;  // simple, error (without '-'), bulk
    int64_t integer{0};
    std::vector<Reply> elements;

    static Reply ok();  // +OK
    static Reply simple(std::string s);
    static Reply error(std::string s);  // e.g. "ERR unknown command 'foo'"
    static Reply integer_of(int64_t v);
    static Reply bulk(std::string s);
    static Reply nil();  // $-1
    static Reply array(std::vector<Reply> e);
    static Reply nil_array();  // *-1
    bool operator==(const Reply&) const = default;
};

// Appends the RESP2 bytes of `reply`. A CR or LF inside a simple string or
// an error becomes a space (as Redis does), since either would end the line.
void encode_reply(const Reply& reply, std::string& out);
// Appends a bulk string, or nil for none: Reply::bulk's bytes without the copy into a Reply.
void encode_bulk(const std::string* value, std::string& out);

struct ReplyParse {
    ParseStatus status{ParseStatus::incomplete};
    size_t consumed{0};
    Reply reply;
    std::string error;
};

// Arrays nest at most this deep in parse_reply.
inline constexpr int kMaxReplyDepth = 32;

// Decodes one RESP2 reply from the front of `in` (answers relayed between
// nodes), under the same limits as commands.
ReplyParse parse_reply(std::string_view in, const RespLimits& limits = {});

}  // namespace fjord::kv
