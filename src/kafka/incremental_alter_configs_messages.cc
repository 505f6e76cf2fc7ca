// IncrementalAlterConfigs v0 bodies
// (schemas/IncrementalAlterConfigsRequest.json and
// IncrementalAlterConfigsResponse.json):
//
//   request:  [resources: int8 resource_type, resource_name,
//              [configs: name, int8 config_operation, nullable value]],
//             bool validate_only
//   response: int32 throttle_time_ms,
//             [responses: int16 error_code, nullable error_message,
//              int8 resource_type, resource_name]
#include "kafka/incremental_alter_configs_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

using Request = IncrementalAlterConfigsRequest;
using Response = IncrementalAlterConfigsResponse;

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinResourceSize = 1 + 2 + 4;
constexpr size_t kMinConfigSize = 2 + 1 + 2;
constexpr size_t kMinResultSize = 2 + 2 + 1 + 2;

bool in_range(int16_t version) {
    return version >= kIncrementalAlterConfigsMinVersion && version <= kIncrementalAlterConfigsMaxVersion;
}

std::string unsupported(const char* direction, int16_t version) {
    return "IncrementalAlterConfigs " + std::string(direction) + " version " + std::to_string(version) +
           " is not supported (" + std::to_string(kIncrementalAlterConfigsMinVersion) + "-" +
           std::to_string(kIncrementalAlterConfigsMaxVersion) + ")";
}

// Kafka refuses a null where the schema does not allow one; so does fjord.
std::string read_string(Reader& r, const char* what) {
    std::optional<std::string> s = r.nullable_string(what);
    if (!s && r.ok()) r.fail(what, "null, but the field is not nullable");
    return s.value_or(std::string());
}

template <typename ReadOne>
auto read_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    std::vector<decltype(read_one())> out;
    int32_t n = r.array(what, min_element_size);
    if (n < 0) r.fail(what, "null, but the array is not nullable");
    if (n > 0) out.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(read_one());
    return out;
}

template <typename T, typename WriteOne>
void write_array(Writer& w, const std::vector<T>& items, WriteOne write_one) {
    w.array(items.size());
    for (const T& item : items) write_one(item);
}

template <typename T>
Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) {
    std::string where = "IncrementalAlterConfigs v" + std::to_string(version) + " " + direction + ": ";
    if (!r.ok()) return make_unexpected(where + r.error());
    if (r.remaining() > 0) {
        return make_unexpected(where + std::to_string(r.remaining()) +
                               " trailing bytes after the last field");
    }
    return value;
}

Request::Config read_config(Reader& r) {
    Request::Config c;
    c.name = read_string(r, "resources.configs.name");
    c.config_operation = r.i8("resources.configs.config_operation");
    c.value = r.nullable_string("resources.configs.value");
    return c;
}

Request::Resource read_resource(Reader& r) {
    Request::Resource res;
    res.resource_type = r.i8("resources.resource_type");
    res.resource_name = read_string(r, "resources.resource_name");
    res.configs = read_array(r, "resources.configs", kMinConfigSize, [&] { return read_config(r); });
    return res;
}

void write_resource(Writer& w, const Request::Resource& res) {
    w.i8(res.resource_type);
    w.string(res.resource_name);
    write_array(w, res.configs, [&](const Request::Config& c) {
        w.string(c.name);
        w.i8(c.config_operation);
        w.nullable_string(c.value);
    });
}

Response::ResourceResult read_result(Reader& r) {
    Response::ResourceResult res;
    res.error_code = r.i16("responses.error_code");
    res.error_message = r.nullable_string("responses.error_message");
    res.resource_type = r.i8("responses.resource_type");
    res.resource_name = read_string(r, "responses.resource_name");
    return res;
}

}  // namespace

Result<IncrementalAlterConfigsRequest, std::string> decode_incremental_alter_configs_request(
    std::string_view body, int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("request", version));
    Reader r(body);
    Request req;
    req.resources = read_array(r, "resources", kMinResourceSize, [&] { return read_resource(r); });
    req.validate_only = r.boolean("validate_only");
    return finish(r, std::move(req), "request", version);
}

void encode_incremental_alter_configs_request(std::string& out, const IncrementalAlterConfigsRequest& request,
                                              int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    write_array(w, request.resources, [&](const Request::Resource& res) { write_resource(w, res); });
    w.boolean(request.validate_only);
}

Result<IncrementalAlterConfigsResponse, std::string> decode_incremental_alter_configs_response(
    std::string_view body, int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("response", version));
    Reader r(body);
    Response resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.responses = read_array(r, "responses", kMinResultSize, [&] { return read_result(r); });
    return finish(r, std::move(resp), "response", version);
}

void encode_incremental_alter_configs_response(std::string& out,
                                               const IncrementalAlterConfigsResponse& response,
                                               int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_array(w, response.responses, [&](const Response::ResourceResult& res) {
        w.i16(res.error_code);
        w.nullable_string(res.error_message);
        w.i8(res.resource_type);
        w.string(res.resource_name);
    });
}

}  // namespace fjord::kafka
