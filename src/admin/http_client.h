// A synchronous HTTP/1.1 client for the command line: one request on a fresh
// connection, with a deadline for the whole exchange. It runs an io_context of
// its own, so it must not be called from a thread that runs an event loop the
// answer depends on. The Beast code lives in http_client.cc only.
#pragma once

#include <chrono>
#include <string>

#include "admin/http.h"
#include "common/result.h"

namespace fjord::admin {

// Sends `method target` with `body` (as application/json when not empty) to
// host_port ("127.0.0.1:9644", "localhost:9644", "[::1]:9644") and returns the
// response, whatever its status. Fails only when no response arrived; the error
// says which step failed and where, e.g.
// "connect to 127.0.0.1:9 failed: Connection refused" or
// "read response from 127.0.0.1:9644 timed out after 500 ms".
Result<HttpResponse, std::string> http_request(const std::string& method, const std::string& host_port,
                                               const std::string& target, const std::string& body,
                                               std::chrono::milliseconds timeout);

}  // namespace fjord::admin
