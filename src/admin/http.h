// The admin API's view of HTTP: a request, a response and the handler that
// turns one into the other. Plain types with no Boost in them, so the code
// that routes admin requests (and its tests) never compiles Beast; only
// http_server.cc and http_client.cc do.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace fjord::admin {

struct HttpRequest {
    std::string method;  // "GET", "POST", ... as sent
    std::string target;  // the request target as sent, e.g. "/topics?name=a%20b"
    std::string path;    // the target up to '?', not decoded, e.g. "/topics"
    // The query string split on '&' and '=', each key and value percent-decoded
    // ('+' is a space); "?flag" gives {"flag", ""}; a repeated key keeps its last value.
    std::map<std::string, std::string> query;
    std::string body;
};

struct HttpResponse {
    int status{200};
    std::string content_type{"application/json"};
    std::string body;
};

// Sends the response of one request.
using Respond = std::function<void(HttpResponse)>;

// Called on the event loop's thread. May call respond() at once or later (from
// the same loop thread), exactly once. A respond() that comes after the
// connection or the server is gone does nothing.
using HttpHandler = std::function<void(HttpRequest, Respond)>;

}  // namespace fjord::admin
