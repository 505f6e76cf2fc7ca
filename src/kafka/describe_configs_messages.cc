// DescribeConfigs v1-2 bodies (schemas/DescribeConfigsRequest.json and
// DescribeConfigsResponse.json), both versions one layout:
//
//   request:  [resources: int8 resource_type, resource_name,
//              nullable [configuration_keys: string]],
//             bool include_synonyms
//   response: int32 throttle_time_ms,
//             [results: int16 error_code, nullable error_message,
//              int8 resource_type, resource_name,
//              [configs: name, nullable value, bool read_only,
//               int8 config_source, bool is_sensitive,
//               [synonyms: name, nullable value, int8 source]]]
//
// v0's is_default flag sits where config_source is and v0 has no synonyms;
// v3's documentation fields come after them. Neither is decoded here.
#include "kafka/describe_configs_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinKeySize = 2;
constexpr size_t kMinResourceSize = 1 + 2 + 4;
constexpr size_t kMinSynonymSize = 2 + 2 + 1;
constexpr size_t kMinConfigSize = 2 + 2 + 1 + 1 + 1 + 4;
constexpr size_t kMinResultSize = 2 + 2 + 1 + 2 + 4;

bool in_range(int16_t version) {
    return version >= kDescribeConfigsMinVersion && version <= kDescribeConfigsMaxVersion;
}

std::string unsupported(const char* direction, int16_t version) {
    return "DescribeConfigs " + std::string(direction) + " version " + std::to_string(version) +
           " is not supported (" + std::to_string(kDescribeConfigsMinVersion) + "-" +
           std::to_string(kDescribeConfigsMaxVersion) + ")";
}

// Kafka refuses a null where the schema does not allow one; so does fjord.
std::string read_string(Reader& r, const char* what) {
    std::optional<std::string> s = r.nullable_string(what);
    if (!s && r.ok()) r.fail(what, "null, but the field is not nullable");
    return s.value_or(std::string());
}

// nullopt for a null array.
template <typename ReadOne>
auto read_nullable_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    std::optional<std::vector<decltype(read_one())>> out;
    int32_t n = r.array(what, min_element_size);
    if (n < 0) return out;
    out.emplace();
    out->reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out->push_back(read_one());
    return out;
}

template <typename ReadOne>
auto read_array(Reader& r, const char* what, size_t min_element_size, ReadOne read_one) {
    auto out = read_nullable_array(r, what, min_element_size, read_one);
    if (!out && r.ok()) r.fail(what, "null, but the array is not nullable");
    return std::move(out).value_or(typename decltype(out)::value_type());
}

template <typename T, typename WriteOne>
void write_array(Writer& w, const std::vector<T>& items, WriteOne write_one) {
    w.array(items.size());
    for (const T& item : items) write_one(item);
}

template <typename T>
Result<T, std::string> finish(const Reader& r, T value, const char* direction, int16_t version) {
    std::string where = "DescribeConfigs v" + std::to_string(version) + " " + direction + ": ";
    if (!r.ok()) return make_unexpected(where + r.error());
    if (r.remaining() > 0) {
        return make_unexpected(where + std::to_string(r.remaining()) +
                               " trailing bytes after the last field");
    }
    return value;
}

DescribeConfigsRequest::Resource read_resource(Reader& r) {
    DescribeConfigsRequest::Resource res;
    res.resource_type = r.i8("resources.resource_type");
    res.resource_name = read_string(r, "resources.resource_name");
    res.configuration_keys = read_nullable_array(r, "resources.configuration_keys", kMinKeySize, [&] {
        return read_string(r, "resources.configuration_keys");
    });
    return res;
}

void write_resource(Writer& w, const DescribeConfigsRequest::Resource& res) {
    w.i8(res.resource_type);
    w.string(res.resource_name);
    if (!res.configuration_keys) return w.null_array();
    write_array(w, *res.configuration_keys, [&](const std::string& key) { w.string(key); });
}

DescribeConfigsResponse::Synonym read_synonym(Reader& r) {
    DescribeConfigsResponse::Synonym s;
    s.name = read_string(r, "results.configs.synonyms.name");
    s.value = r.nullable_string("results.configs.synonyms.value");
    s.source = r.i8("results.configs.synonyms.source");
    return s;
}

DescribeConfigsResponse::Config read_config(Reader& r) {
    DescribeConfigsResponse::Config c;
    c.name = read_string(r, "results.configs.name");
    c.value = r.nullable_string("results.configs.value");
    c.read_only = r.boolean("results.configs.read_only");
    c.config_source = r.i8("results.configs.config_source");
    c.is_sensitive = r.boolean("results.configs.is_sensitive");
    c.synonyms = read_array(r, "results.configs.synonyms", kMinSynonymSize, [&] { return read_synonym(r); });
    return c;
}

DescribeConfigsResponse::ResourceResult read_result(Reader& r) {
    DescribeConfigsResponse::ResourceResult res;
    res.error_code = r.i16("results.error_code");
    res.error_message = r.nullable_string("results.error_message");
    res.resource_type = r.i8("results.resource_type");
    res.resource_name = read_string(r, "results.resource_name");
    res.configs = read_array(r, "results.configs", kMinConfigSize, [&] { return read_config(r); });
    return res;
}

void write_config(Writer& w, const DescribeConfigsResponse::Config& c) {
    w.string(c.name);
    w.nullable_string(c.value);
    w.boolean(c.read_only);
    w.i8(c.config_source);
    w.boolean(c.is_sensitive);
    write_array(w, c.synonyms, [&](const DescribeConfigsResponse::Synonym& s) {
        w.string(s.name);
        w.nullable_string(s.value);
        w.i8(s.source);
    });
}

void write_result(Writer& w, const DescribeConfigsResponse::ResourceResult& res) {
    w.i16(res.error_code);
    w.nullable_string(res.error_message);
    w.i8(res.resource_type);
    w.string(res.resource_name);
    write_array(w, res.configs, [&](const DescribeConfigsResponse::Config& c) { write_config(w, c); });
}

}  // namespace

Result<DescribeConfigsRequest, std::string> decode_describe_configs_request(std::string_view body,
                                                                            int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("request", version));
    Reader r(body);
    DescribeConfigsRequest req;
    req.resources = read_array(r, "resources", kMinResourceSize, [&] { return read_resource(r); });
    req.include_synonyms = r.boolean("include_synonyms");
    return finish(r, std::move(req), "request", version);
}

void encode_describe_configs_request(std::string& out, const DescribeConfigsRequest& request,
                                     int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    write_array(w, request.resources,
                [&](const DescribeConfigsRequest::Resource& res) { write_resource(w, res); });
    w.boolean(request.include_synonyms);
}

Result<DescribeConfigsResponse, std::string> decode_describe_configs_response(std::string_view body,
                                                                              int16_t version) {
    if (!in_range(version)) return make_unexpected(unsupported("response", version));
    Reader r(body);
    DescribeConfigsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.results = read_array(r, "results", kMinResultSize, [&] { return read_result(r); });
    return finish(r, std::move(resp), "response", version);
}

void encode_describe_configs_response(std::string& out, const DescribeConfigsResponse& response,
                                      int16_t version) {
    assert(in_range(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_array(w, response.results,
                [&](const DescribeConfigsResponse::ResourceResult& res) { write_result(w, res); });
}

}  // namespace fjord::kafka
