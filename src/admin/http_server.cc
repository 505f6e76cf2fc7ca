// HttpServer (http_server.h) on Boost.Beast with C++20 coroutines: one
// coroutine accepts, and one per connection reads a request, calls the handler,
// waits for its respond() and writes the answer, then reads the next request.
// This is the server's only Beast TU.

#include "admin/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_set>

namespace fjord::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;

constexpr size_t kMaxBodyBytes = size_t{1} << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(30);
// After an error answer the server stops sending and discards what the client
// still sends, for a while, before closing: closing a socket with unread bytes
// makes the kernel send a reset, which can destroy the answer (a 413 sent while
// a 2 MiB body is still arriving) before the client has read it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = size_t{8} << 20;
// An accept error such as "too many open files" repeats at once; pausing keeps
// the loop from spinning on it.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

// Completion token that returns errors as values: on a network, errors are
// normal outcomes, and the server must never throw.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string format_address(const std::string& host, uint16_t port) {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
    return format_address(endpoint.address().to_string(), endpoint.port());
}

std::string describe(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

// ---- Request targets ----

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes %XX escapes and '+' (a space, as HTML forms encode queries);
// nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] != '%') {
            out += text[i];
        } else {
            const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
            const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (high < 0 || low < 0) return std::nullopt;
            out += static_cast<char>(high * 16 + low);
            i += 2;
        }
    }
    return out;
}

// Splits "a=1&b=x%20y&flag" into decoded pairs; nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (!key || !value) return std::nullopt;
        out[std::move(*key)] = std::move(*value);
    }
    return out;
}

Result<HttpRequest, std::string> to_http_request(BeastRequest&& request) {
    HttpRequest out;
    out.method = std::string(request.method_string());
    out.target = std::string(request.target());
    const size_t question = out.target.find('?');
    out.path = out.target.substr(0, question);
    if (question != std::string::npos) {
        auto query = parse_query(std::string_view(out.target).substr(question + 1));
        if (!query) return make_unexpected(std::string("malformed percent-encoding in the query"));
        out.query = std::move(*query);
    }
    out.body = std::move(request.body());
    return out;
}

// ---- Responses ----

HttpResponse error_response(int status, const std::string& message) {
    // replace: an exception's what() need not be valid UTF-8, and dump() would throw on it.
    const auto body =
        nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return HttpResponse{status, "application/json", body};
}

BeastResponse to_beast_response(HttpResponse response, unsigned version, bool keep_alive) {
    // Beast throws on codes it cannot send; 1xx would also confuse the client.
    if (response.status < 200 || response.status > 599) response.status = 500;
    // These statuses cannot carry a body (Beast's prepare_payload() throws).
    if (response.status == 204 || response.status == 304) response.body.clear();
    BeastResponse out;
    out.version(version);
    out.result(static_cast<unsigned>(response.status));
    out.set(http::field::server, "fjord");
    out.set(http::field::content_type, response.content_type);
    out.keep_alive(keep_alive);
    out.body() = std::move(response.body);
    out.prepare_payload();
    return out;
}

// ---- Connections ----

// Where a handler's respond() leaves the answer to one request. The connection
// waits on `ready`, which never expires by itself: respond() cancels it to wake
// the connection up, a one-shot event that costs no thread.
struct ResponseSlot {
    explicit ResponseSlot(const asio::any_io_executor& executor)
        : ready(executor, asio::steady_timer::time_point::max()) {}
    std::optional<HttpResponse> response;
    asio::steady_timer ready;
};

// Holds the slot weakly, so a respond() after the connection (or the whole
// server) is gone does nothing.
Respond make_respond(const std::shared_ptr<ResponseSlot>& slot) {
    return [weak = std::weak_ptr<ResponseSlot>(slot)](HttpResponse response) {
        const auto alive = weak.lock();
        if (!alive || alive->response) return;  // gone, or a second respond()
        alive->response = std::move(response);
        alive->ready.cancel();
    };
}

struct Connection {
    Connection(tcp::socket socket, std::string peer_address)
        : stream(std::move(socket)), peer(std::move(peer_address)) {}

    // Ends every pending operation; the connection's coroutine then unwinds.
    void close() {
        closed = true;
        stream.close();
        if (pending) pending->ready.cancel();
    }

    beast::tcp_stream stream;
    std::string peer;
    std::shared_ptr<ResponseSlot> pending;  // the request whose respond() is awaited
    bool closed = false;
};

// What to do about a request that could not be read: answer `status` and
// close, or (status 0) just close, because the peer went away or idled.
struct ReadFailure {
    int status;
    std::string reason;
};

ReadFailure classify_read_error(const beast::error_code& ec) {
    if (ec == http::error::end_of_stream) return {0, "closed by the peer"};
    if (ec == beast::error::timeout) return {0, "idle for 30 s"};
    if (ec == http::error::partial_message) return {0, "closed by the peer within a request"};
    if (ec == http::error::body_limit) return {413, "request body larger than 1 MiB"};
    if (ec == http::error::header_limit) return {431, "request header too large"};
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
        return {400, "malformed request: " + ec.message()};
    }
    return {0, ec.message()};
}

bool expects_continue(const BeastRequest& request) {
    return request.version() >= 11 && beast::iequals(request[http::field::expect], "100-continue");
}

// Clients such as curl send "Expect: 100-continue" before a large body and
// wait (curl: 1 s) for this interim answer.
asio::awaitable<beast::error_code> send_continue(Connection& c) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, written] = co_await asio::async_write(c.stream, asio::buffer(kContinue), kNoThrow);
    co_return ec;
}

// Reads one request; the idle timeout covers the wait for it and its arrival.
asio::awaitable<beast::error_code> read_request(Connection& c, beast::flat_buffer& buffer,
                                                http::request_parser<http::string_body>& parser) {
    c.stream.expires_after(kIdleTimeout);
    auto [header_ec, header_bytes] = co_await http::async_read_header(c.stream, buffer, parser, kNoThrow);
    if (header_ec || parser.is_done()) co_return header_ec;
    if (expects_continue(parser.get())) {
        if (auto ec = co_await send_continue(c)) co_return ec;
    }
    auto [body_ec, body_bytes] = co_await http::async_read(c.stream, buffer, parser, kNoThrow);
    co_return body_ec;
}

asio::awaitable<bool> write_response(Connection& c, BeastResponse& response) {
    c.stream.expires_after(kIdleTimeout);
    auto [ec, written] = co_await http::async_write(c.stream, response, kNoThrow);
    co_return !ec;
}

// Stops sending and discards the rest of the request (see kLingerTime).
asio::awaitable<void> linger(Connection& c) {
    beast::error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    c.stream.expires_after(kLingerTime);
    std::array<char, 16 * 1024> scratch;
    for (size_t discarded = 0; discarded < kMaxLingerBytes;) {
        auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(scratch), kNoThrow);
        if (ec) break;
        discarded += n;
    }
}

// Answers a request the server refuses, then closes the connection.
asio::awaitable<void> reject(Connection& c, int status, const std::string& reason) {
    spdlog::warn("admin http: closing connection from {}: {}", c.peer, reason);
    auto response = to_beast_response(error_response(status, reason), 11, false);
    if (co_await write_response(c, response)) co_await linger(c);
}

asio::awaitable<void> end_after_read_error(Connection& c, const beast::error_code& ec) {
    if (c.closed) co_return;  // stop()
    const ReadFailure failure = classify_read_error(ec);
    if (failure.status == 0) {
        spdlog::debug("admin http: closing connection from {}: {}", c.peer, failure.reason);
        co_return;
    }
    co_await reject(c, failure.status, failure.reason);
}

}  // namespace

// ---- The server ----

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
  public:
    Impl(asio::io_context& io, HttpHandler handler) : _io(io), _handler(std::move(handler)), _acceptor(io) {}

    Result<uint16_t, std::string> listen(const std::string& host, uint16_t port);
    void stop();

  private:
    Result<tcp::endpoint, std::string> listen_endpoint(const std::string& host, uint16_t port);
    asio::awaitable<void> accept_loop();
    void start_connection(tcp::socket socket);
    void finish_connection(const std::shared_ptr<Connection>& c, const std::exception_ptr& error);
    asio::awaitable<void> serve(std::shared_ptr<Connection> c);
    asio::awaitable<std::optional<HttpResponse>> call_handler(Connection& c, HttpRequest request);
    void invoke_handler(HttpRequest request, const Respond& respond);

    asio::io_context& _io;
    HttpHandler _handler;
    tcp::acceptor _acceptor;
    // Open connections, so that stop() can close them.
    std::unordered_set<std::shared_ptr<Connection>> _connections;
    bool _stopped = false;
};

Result<tcp::endpoint, std::string> HttpServer::Impl::listen_endpoint(const std::string& host, uint16_t port) {
    std::string bare = host;
    if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    beast::error_code ec;
    const auto address = asio::ip::make_address(bare.empty() ? "0.0.0.0" : bare, ec);
    if (!ec) return tcp::endpoint(address, port);
    // A name such as "localhost": bind its first address.
    tcp::resolver resolver(_io);
    const auto results = resolver.resolve(bare, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
        const std::string why = ec ? ec.message() : "no address";
        return make_unexpected("resolve " + format_address(host, port) + " failed: " + why);
    }
    return results.begin()->endpoint();
}

Result<uint16_t, std::string> HttpServer::Impl::listen(const std::string& host, uint16_t port) {
    const std::string where = format_address(host, port);
    if (_stopped || _acceptor.is_open()) {
        return make_unexpected("listen on " + where + " failed: server already listening or stopped");
    }
    auto endpoint = listen_endpoint(host, port);
    if (!endpoint) return make_unexpected(endpoint.error());
    beast::error_code ec;
    const auto failed = [&](const std::string& step) {
        beast::error_code ignored;
        _acceptor.close(ignored);
        return make_unexpected(step + " " + where + " failed: " + ec.message());
    };
    _acceptor.open(endpoint->protocol(), ec);
    if (ec) return failed("open a socket for");
    // A restarted node must bind again while its old connections sit in TIME_WAIT.
    _acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return failed("set SO_REUSEADDR on");
    _acceptor.bind(*endpoint, ec);
    if (ec) return failed("bind");
    _acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed("listen on");
    const auto bound = _acceptor.local_endpoint(ec);
    if (ec) return failed("read the bound port of");
    asio::co_spawn(_io, accept_loop(), [self = shared_from_this()](const std::exception_ptr& error) {
        if (error) spdlog::error("admin http: accept loop failed: {}", describe(error));
    });
    return bound.port();
}

void HttpServer::Impl::stop() {
    _stopped = true;
    beast::error_code ignored;
    _acceptor.close(ignored);
    // close() only cancels operations (Asio never runs handlers inside it), so
    // _connections is not changed while this loop walks it.
    for (const auto& c : _connections) c->close();
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
    while (!_stopped) {
        auto [ec, socket] = co_await _acceptor.async_accept(kNoThrow);
        if (_stopped) co_return;
        if (!ec) {
            start_connection(std::move(socket));
            continue;
        }
        spdlog::warn("admin http: accept failed: {}", ec.message());
        asio::steady_timer pause(_io, kAcceptRetryDelay);
        co_await pause.async_wait(kNoThrow);
    }
}

void HttpServer::Impl::start_connection(tcp::socket socket) {
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    auto c =
        std::make_shared<Connection>(std::move(socket), ec ? "an unknown peer" : format_endpoint(remote));
    _connections.insert(c);
    asio::co_spawn(_io, serve(c), [self = shared_from_this(), c](const std::exception_ptr& error) {
        self->finish_connection(c, error);
    });
}

void HttpServer::Impl::finish_connection(const std::shared_ptr<Connection>& c,
                                         const std::exception_ptr& error) {
    // The last line of defence: whatever went wrong stays within this connection.
    if (error) spdlog::warn("admin http: closing connection from {}: {}", c->peer, describe(error));
    c->close();
    _connections.erase(c);
}

asio::awaitable<void> HttpServer::Impl::serve(std::shared_ptr<Connection> c) {
    beast::flat_buffer buffer;  // outlives each request: it may hold the start of the next one
    while (!c->closed) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBodyBytes);
        if (const auto ec = co_await read_request(*c, buffer, parser)) {
            co_await end_after_read_error(*c, ec);
            co_return;
        }
        const unsigned version = parser.get().version();
        const bool keep_alive = parser.get().keep_alive();
        auto request = to_http_request(parser.release());
        if (!request) {
            co_await reject(*c, 400, request.error());
            co_return;
        }
        auto response = co_await call_handler(*c, std::move(request.value()));
        if (!response || c->closed) co_return;
        auto beast_response = to_beast_response(std::move(*response), version, keep_alive);
        if (!co_await write_response(*c, beast_response) || !keep_alive) co_return;
    }
}

asio::awaitable<std::optional<HttpResponse>> HttpServer::Impl::call_handler(Connection& c,
                                                                            HttpRequest request) {
    auto slot = std::make_shared<ResponseSlot>(c.stream.get_executor());
    c.pending = slot;
    invoke_handler(std::move(request), make_respond(slot));
    // No timeout here: the handler owns the request until it responds (it may
    // wait for Raft); stop() ends the wait.
    while (!slot->response && !c.closed) co_await slot->ready.async_wait(kNoThrow);
    c.pending.reset();
    co_return std::move(slot->response);
}

void HttpServer::Impl::invoke_handler(HttpRequest request, const Respond& respond) {
    try {
        _handler(std::move(request), respond);
    } catch (...) {
        const std::string what = describe(std::current_exception());
        spdlog::error("admin http: handler failed: {}", what);
        respond(error_response(500, "internal error: " + what));  // a no-op if it had responded
    }
}

HttpServer::HttpServer(boost::asio::io_context& io, HttpHandler handler)
    : _impl(std::make_shared<Impl>(io, std::move(handler))) {}

HttpServer::~HttpServer() {
    stop();
}

Result<uint16_t, std::string> HttpServer::listen(const std::string& host, uint16_t port) {
    return _impl->listen(host, port);
}

void HttpServer::stop() {
    _impl->stop();
}

}  // namespace fjord::admin
