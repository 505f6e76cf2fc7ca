// http_request() (http_client.h): one exchange on a fresh connection, run as a
// coroutine on a private io_context until it finishes or the deadline passes.
// The client's only Beast TU.

#include "admin/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace fjord::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using BeastRequest = http::request<http::string_body>;

// Far above anything the admin API sends (Beast's default is 8 MB), but a
// bound all the same against a wrong or hostile endpoint.
constexpr size_t kMaxResponseBytes = size_t{64} << 20;

// Completion token that returns errors as values, each turned into a message.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct HostPort {
    std::string host;
    std::string port;
};

Result<HostPort, std::string> split_host_port(const std::string& host_port) {
    const size_t colon = host_port.rfind(':');
    const bool has_port = colon != std::string::npos && colon > 0 && colon + 1 < host_port.size() &&
                          host_port.find_first_not_of("0123456789", colon + 1) == std::string::npos;
    if (!has_port) return make_unexpected("invalid address '" + host_port + "': expected host:port");
    std::string host = host_port.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return HostPort{host, host_port.substr(colon + 1)};
}

BeastRequest make_request(const std::string& method, const std::string& host_port, const std::string& target,
                          const std::string& body) {
    BeastRequest request;
    const http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) {
        request.method_string(method);
    } else {
        request.method(verb);
    }
    request.target(target);
    request.version(11);
    request.set(http::field::host, host_port);
    request.set(http::field::user_agent, "fjord");
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    // One request per connection: the server closes after answering.
    request.keep_alive(false);
    request.body() = body;
    request.prepare_payload();
    return request;
}

HttpResponse to_http_response(http::response<http::string_body>&& response) {
    HttpResponse out;
    out.status = static_cast<int>(response.result_int());
    out.content_type = std::string(response[http::field::content_type]);
    out.body = std::move(response.body());
    return out;
}

// What the exchange leaves behind: the step it is in, which names the failure
// if the deadline passes, and its outcome once it has one.
struct Exchange {
    std::string step;
    std::optional<Result<HttpResponse, std::string>> outcome;

    void fail(const std::string& why) { outcome = make_unexpected(step + " failed: " + why); }
};

asio::awaitable<void> run_exchange(HostPort where, std::string host_port, BeastRequest request,
                                   Exchange& exchange) {
    const auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    exchange.step = "resolve " + where.host;
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(where.host, where.port, kNoThrow);
    if (resolve_ec) co_return exchange.fail(resolve_ec.message());

    beast::tcp_stream stream(executor);
    exchange.step = "connect to " + host_port;
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kNoThrow);
    if (connect_ec) co_return exchange.fail(connect_ec.message());

    exchange.step = "send request to " + host_port;
    auto [write_ec, written] = co_await http::async_write(stream, request, kNoThrow);
    if (write_ec) co_return exchange.fail(write_ec.message());

    exchange.step = "read response from " + host_port;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (read_ec) co_return exchange.fail(read_ec.message());

    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    exchange.outcome = to_http_response(parser.release());
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

}  // namespace

Result<HttpResponse, std::string> http_request(const std::string& method, const std::string& host_port,
                                               const std::string& target, const std::string& body,
                                               std::chrono::milliseconds timeout) {
    auto where = split_host_port(host_port);
    if (!where) return make_unexpected(where.error());
    // Declared before the io_context: the coroutine refers to it until the
    // io_context's destructor destroys an unfinished coroutine.
    Exchange exchange;
    exchange.step = "build the request for " + host_port;
    try {
        asio::io_context io;
        asio::co_spawn(
            io, run_exchange(*where, host_port, make_request(method, host_port, target, body), exchange),
            [&exchange](const std::exception_ptr& error) {
                if (error) exchange.fail(describe(error));
            });
        // The one deadline for the whole exchange, name resolution included.
        io.run_for(timeout);
    } catch (const std::exception& e) {
        exchange.fail(e.what());  // e.g. a method Beast refuses to send
    }
    if (exchange.outcome) return std::move(*exchange.outcome);
    return make_unexpected(exchange.step + " timed out after " + std::to_string(timeout.count()) + " ms");
}

}  // namespace fjord::admin
