// The admin HTTP/1.1 server: accepts connections on one address and hands each
// request to an HttpHandler on the caller's event loop. It owns the listening
// socket and every connection it accepted; the Beast code lives in
// http_server.cc only, so including this header costs no Boost.
//
// Per connection: keep-alive, one request at a time in order, bodies up to
// 1 MiB (413 above), 400 and close on a malformed request, close after 30 s
// idle. The handler may answer later; the connection waits without blocking
// the loop.
//
// Threading: the io_context is run by the caller on one thread. listen(),
// stop() and the destructor run on that thread, or while no thread runs the
// io_context (e.g. before it starts or after it returned). The io_context must
// outlive the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "admin/http.h"
#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace fjord::admin {

class HttpServer {
  public:
    HttpServer(boost::asio::io_context& io, HttpHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds host:port (SO_REUSEADDR, so a restarted node binds again at once)
    // and starts accepting. Returns the bound port: pass 0 for any free port.
    // The error names the address, e.g. "bind 127.0.0.1:80 failed: Permission denied".
    Result<uint16_t, std::string> listen(const std::string& host, uint16_t port);

    // Closes the listening socket and every connection. A respond() still
    // outstanding then does nothing. Safe to call more than once.
    void stop();

  private:
    class Impl;
    // Shared with the server's coroutines, which may outlive this object by a
    // few turns of the loop while they unwind after stop().
    std::shared_ptr<Impl> _impl;
};

}  // namespace fjord::admin
