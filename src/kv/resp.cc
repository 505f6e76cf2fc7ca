#include "kv/resp.h"

#include <charconv>
#include <utility>

namespace fjord::kv {
namespace {

constexpr std::string_view kProtocolError = "ERR Protocol error: ";

std::string protocol_error(std::string_view what) {
    std::string text(kProtocolError);
    text.append(what);
    return text;
}

// Decimal as Redis's string2ll reads it: an optional '-', then "0" alone or a
// digit 1-9 followed by digits, within int64. Anything looser ("+1", "01",
// "-0", spaces) would let two readers of one stream disagree.
bool parse_int64(std::string_view s, int64_t& out) {
    bool negative = false;
    if (!s.empty() && s[0] == '-') {
        negative = true;
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 19) return false;
    if (s[0] == '0') {
        if (s.size() != 1 || negative) return false;
        out = 0;
        return true;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');  // 19 digits cannot wrap a uint64
    }
    constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
    if (v > kMax + (negative ? 1 : 0)) return false;
    // Negating in unsigned arithmetic keeps INT64_MIN well defined.
    out = negative ? static_cast<int64_t>(~v + 1) : static_cast<int64_t>(v);
    return true;
}

// limit + extra, saturating so that a limit of SIZE_MAX means "no limit".
size_t at_most(size_t limit, size_t extra) {
    return limit > SIZE_MAX - extra ? SIZE_MAX : limit + extra;
}

enum class LineStatus : uint8_t { found, incomplete, too_long, bad_end };

struct Line {
    LineStatus status;
    std::string_view body;  // from `pos` up to the CR
    size_t next = 0;        // just past the LF
};

// The CRLF-terminated line starting at `pos`. Only max_len + 1 bytes are
// searched, so a peer that never sends CR costs a bounded scan per call.
Line find_line(std::string_view in, size_t pos, size_t max_len) {
    std::string_view rest = in.substr(pos);
    std::string_view window = rest.substr(0, at_most(max_len, 1));
    size_t cr = window.find('\r');
    if (cr == std::string_view::npos) {
        return {rest.size() > max_len ? LineStatus::too_long : LineStatus::incomplete, {}, 0};
    }
    if (cr + 1 >= rest.size()) return {LineStatus::incomplete, {}, 0};
    if (rest[cr + 1] != '\n') return {LineStatus::bad_end, {}, 0};
    return {LineStatus::found, rest.substr(0, cr), pos + cr + 2};
}

// --- Multibulk commands ---------------------------------------------------

// Parses a multibulk command, copying each argument once all its bytes are
// here: a command still arriving is re-parsed as more comes, and costs only
// the arguments it already has.
CommandParse parse_multibulk(std::string_view in, const RespLimits& limits) {
    CommandParse result;
    auto fail = [&result](std::string_view what) {
        result.status = ParseStatus::error;
        result.error = protocol_error(what);
        return std::move(result);
    };

    Line head = find_line(in, 0, limits.max_inline_bytes);
    if (head.status == LineStatus::incomplete) return result;
    if (head.status == LineStatus::too_long) return fail("too big mbulk count string");
    int64_t count = 0;
    if (head.status == LineStatus::bad_end || !parse_int64(head.body.substr(1), count) ||
        (count > 0 && static_cast<uint64_t>(count) > limits.max_args)) {
        return fail("invalid multibulk length");
    }

    size_t pos = head.next;
    // Not `count`: a header alone must not make us allocate for a million arguments.
    if (count > 0) result.command.reserve(std::min<size_t>(static_cast<size_t>(count), 8));
    for (int64_t i = 0; i < count; ++i) {
        Line line = find_line(in, pos, limits.max_inline_bytes);
        if (line.status == LineStatus::incomplete) return result;
        if (line.status == LineStatus::too_long) return fail("too big bulk count string");
        if (line.status == LineStatus::bad_end) return fail("invalid bulk length");
        if (line.body.empty() || line.body[0] != '$') {
            // An empty line means the byte Redis looked at was the CR.
            char got = line.body.empty() ? '\r' : line.body[0];
            return fail(std::string("expected '$', got '") + got + "'");
        }
        int64_t len = 0;
        if (!parse_int64(line.body.substr(1), len) || len < 0 ||
            static_cast<uint64_t>(len) > limits.max_bulk_bytes) {
            return fail("invalid bulk length");
        }
        size_t n = static_cast<size_t>(len);
        // The payload is skipped by length, never scanned.
        if (in.size() - line.next < n + 2) return result;
        // Redis trusts the two bytes after the payload blindly; a peer whose
        // lengths do not match its payloads is out of step, so refuse it.
        if (in[line.next + n] != '\r' || in[line.next + n + 1] != '\n') return fail("invalid bulk length");
        result.command.emplace_back(in.substr(line.next, n));
        pos = line.next + n + 2;
    }
    result.status = ParseStatus::complete;
    result.consumed = pos;
    return result;
}

// --- Inline commands ------------------------------------------------------

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char unescape(char c) {
    switch (c) {
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'b':
            return '\b';
        case 'a':
            return '\a';
        default:
            return c;  // \\ and \" and any other escaped byte stand for themselves
    }
}

// A closing quote must end its word, so that "a"b cannot be read two ways.
bool ends_word(std::string_view line, size_t after_quote) {
    return after_quote >= line.size() || is_space(line[after_quote]);
}

// Splits one inline line into words the way redis-cli users expect from
// Redis (sdssplitargs). Returns false on unbalanced quotes.
bool split_inline(std::string_view line, Command& out) {
    // Redis splits the line as a C string, so a NUL byte ends it.
    line = line.substr(0, line.find('\0'));
    size_t i = 0;
    const size_t n = line.size();
    for (;;) {
        while (i < n && is_space(line[i])) ++i;
        if (i == n) return true;
        std::string word;
        enum class Mode : uint8_t { plain, double_quoted, single_quoted } mode = Mode::plain;
        bool done = false;
        while (!done) {
            if (mode == Mode::plain) {
                if (i == n) break;
                char c = line[i];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                    done = true;  // \v and \f only separate words before one starts, as in Redis
                } else if (c == '"') {
                    mode = Mode::double_quoted;
                } else if (c == '\'') {
                    mode = Mode::single_quoted;
                } else {
                    word.push_back(c);
                }
                ++i;
            } else if (i == n) {
                return false;
            } else if (mode == Mode::double_quoted) {
                char c = line[i];
                if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_value(line[i + 2]) >= 0 &&
                    hex_value(line[i + 3]) >= 0) {
                    word.push_back(static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3])));
                    i += 4;
                } else if (c == '\\' && i + 1 < n) {
                    word.push_back(unescape(line[i + 1]));
                    i += 2;
                } else if (c == '"') {
                    if (!ends_word(line, i + 1)) return false;
                    done = true;
                    ++i;
                } else {
                    word.push_back(c);
                    ++i;
                }
            } else {
                char c = line[i];
                if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
                    word.push_back('\'');
                    i += 2;
                } else if (c == '\'') {
                    if (!ends_word(line, i + 1)) return false;
                    done = true;
                    ++i;
                } else {
                    word.push_back(c);
                    ++i;
                }
            }
        }
        out.push_back(std::move(word));
    }
}

CommandParse parse_inline(std::string_view in, const RespLimits& limits) {
    CommandParse result;
    // As with length lines, look no further than the longest allowed line.
    std::string_view window = in.substr(0, at_most(limits.max_inline_bytes, 1));
    size_t lf = window.find('\n');
    if (lf == std::string_view::npos) {
        if (in.size() > limits.max_inline_bytes) {
            result.status = ParseStatus::error;
            result.error = protocol_error("too big inline request");
        }
        return result;
    }
    std::string_view line = in.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!split_inline(line, result.command)) {
        result.command.clear();
        result.status = ParseStatus::error;
        result.error = protocol_error("unbalanced quotes in request");
        return result;
    }
    result.status = ParseStatus::complete;
    result.consumed = lf + 1;
    return result;
}

// --- Replies --------------------------------------------------------------

// Walks one reply, building it into `out` when given; it runs once to check
// the reply is complete and again to build it.
class ReplyScanner {
  public:
    ReplyScanner(std::string_view in, const RespLimits& limits) : _in(in), _limits(limits) {}

    const std::string& error() const { return _error; }

    // `depth` counts the arrays around this reply.
    ParseStatus scan(size_t& pos, int depth, Reply* out) {
        if (pos >= _in.size()) return ParseStatus::incomplete;
        char type = _in[pos];
        if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') {
            return fail(std::string("unexpected reply type '") + type + "'");
        }
        bool counted = type == '$' || type == '*';
        Line line = find_line(_in, pos, _limits.max_inline_bytes);
        if (line.status == LineStatus::incomplete) return ParseStatus::incomplete;
        if (line.status == LineStatus::too_long) {
            return fail(type == '$'   ? "too big bulk count string"
                        : type == '*' ? "too big mbulk count string"
                                      : "too big reply line");
        }
        if (line.status == LineStatus::bad_end && !counted) return fail("invalid reply line");
        std::string_view body = line.status == LineStatus::found ? line.body.substr(1) : std::string_view{};
        switch (type) {
            case '+':
            case '-':
                if (out != nullptr) {
                    *out = type == '+' ? Reply::simple(std::string(body)) : Reply::error(std::string(body));
                }
                pos = line.next;
                return ParseStatus::complete;
            case ':': {
                int64_t v = 0;
                if (!parse_int64(body, v)) return fail("invalid integer");
                if (out != nullptr) *out = Reply::integer_of(v);
                pos = line.next;
                return ParseStatus::complete;
            }
            case '$':
                return scan_bulk(line, body, pos, out);
            default:
                return scan_array(line, body, pos, depth, out);
        }
    }

  private:
    ParseStatus fail(std::string_view what) {
        _error = protocol_error(what);
        return ParseStatus::error;
    }

    ParseStatus scan_bulk(const Line& line, std::string_view body, size_t& pos, Reply* out) {
        int64_t len = 0;
        bool ok = line.status == LineStatus::found && parse_int64(body, len);
        if (ok && len == -1) {
            if (out != nullptr) *out = Reply::nil();
            pos = line.next;
            return ParseStatus::complete;
        }
        if (!ok || len < 0 || static_cast<uint64_t>(len) > _limits.max_bulk_bytes) {
            return fail("invalid bulk length");
        }
        size_t n = static_cast<size_t>(len);
        if (_in.size() - line.next < n + 2) return ParseStatus::incomplete;
        if (_in[line.next + n] != '\r' || _in[line.next + n + 1] != '\n') return fail("invalid bulk length");
        if (out != nullptr) *out = Reply::bulk(std::string(_in.substr(line.next, n)));
        pos = line.next + n + 2;
        return ParseStatus::complete;
    }

    ParseStatus scan_array(const Line& line, std::string_view body, size_t& pos, int depth, Reply* out) {
        int64_t count = 0;
        bool ok = line.status == LineStatus::found && parse_int64(body, count);
        if (!ok || count < -1 || (count > 0 && static_cast<uint64_t>(count) > _limits.max_args)) {
            return fail("invalid multibulk length");
        }
        // Checked before descending, so recursion never goes deeper than this.
        if (depth >= kMaxReplyDepth) return fail("reply nested too deeply");
        if (count == -1) {
            if (out != nullptr) *out = Reply::nil_array();
            pos = line.next;
            return ParseStatus::complete;
        }
        size_t at = line.next;
        std::vector<Reply> elements;
        if (out != nullptr) elements.resize(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) {
            Reply* element = out != nullptr ? &elements[static_cast<size_t>(i)] : nullptr;
            ParseStatus status = scan(at, depth + 1, element);
            if (status != ParseStatus::complete) return status;
        }
        if (out != nullptr) *out = Reply::array(std::move(elements));
        pos = at;
        return ParseStatus::complete;
    }

    std::string_view _in;
    const RespLimits& _limits;
    std::string _error;
};

// Replaces CR and LF, which would end a simple line early and leave the
// client reading the rest as a new reply.
void append_line_text(std::string_view text, std::string& out) {
    size_t from = out.size();
    out.append(text);
    for (size_t i = from; i < out.size(); ++i) {
        if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
    }
}

void append_decimal(int64_t v, std::string& out) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;  // 24 bytes always hold an int64
    out.append(buf, end);
}

}  // namespace

CommandParse parse_command(std::string_view in, const RespLimits& limits) {
    if (in.empty()) return {};
    if (in[0] != '*') return parse_inline(in, limits);
    CommandParse result = parse_multibulk(in, limits);
    if (result.status != ParseStatus::complete) result.command.clear();
    return result;
}

Reply Reply::ok() {
    return simple("OK");
}

Reply Reply::simple(std::string s) {
    Reply r;
    r.kind = Kind::simple;
    r.text = std::move(s);
    return r;
}

Reply Reply::error(std::string s) {
    Reply r;
    r.kind = Kind::error;
    r.text = std::move(s);
    return r;
}

Reply Reply::integer_of(int64_t v) {
    Reply r;
    r.kind = Kind::integer;
    r.integer = v;
    return r;
}

Reply Reply::bulk(std::string s) {
    Reply r;
    r.kind = Kind::bulk;
    r.text = std::move(s);
    return r;
}

Reply Reply::nil() {
    return Reply{};
}

Reply Reply::array(std::vector<Reply> e) {
    Reply r;
    r.kind = Kind::array;
    r.elements = std::move(e);
    return r;
}

Reply Reply::nil_array() {
    Reply r;
    r.kind = Kind::nil_array;
    return r;
}

void encode_reply(const Reply& reply, std::string& out) {
    switch (reply.kind) {
        case Reply::Kind::simple:
            out.push_back('+');
            append_line_text(reply.text, out);
            break;
        case Reply::Kind::error:
            out.push_back('-');
            append_line_text(reply.text, out);
            break;
        case Reply::Kind::integer:
            out.push_back(':');
            append_decimal(reply.integer, out);
            break;
        case Reply::Kind::bulk:
            return encode_bulk(&reply.text, out);
        case Reply::Kind::nil:
            return encode_bulk(nullptr, out);
        case Reply::Kind::array:
            out.push_back('*');
            append_decimal(static_cast<int64_t>(reply.elements.size()), out);
            out.append("\r\n");
            for (const Reply& e : reply.elements) encode_reply(e, out);
            return;
        case Reply::Kind::nil_array:
            out.append("*-1");
            break;
    }
    out.append("\r\n");
}

void encode_bulk(const std::string* value, std::string& out) {
    if (value == nullptr) {
        out.append("$-1\r\n");
        return;
    }
    out.push_back('$');
    append_decimal(static_cast<int64_t>(value->size()), out);
    out.append("\r\n");
    out.append(*value);
    out.append("\r\n");
}

ReplyParse parse_reply(std::string_view in, const RespLimits& limits) {
    ReplyParse result;
    ReplyScanner scanner(in, limits);
    size_t end = 0;
    result.status = scanner.scan(end, 0, nullptr);
    if (result.status == ParseStatus::error) {
        result.error = scanner.error();
        return result;
    }
    if (result.status != ParseStatus::complete) return result;
    size_t pos = 0;
    scanner.scan(pos, 0, &result.reply);
    result.consumed = pos;
    return result;
}

}  // namespace fjord::kv
