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

constexpr VersionedCodec kCodec{"DescribeConfigs", kDescribeConfigsMinVersion, kDescribeConfigsMaxVersion};

DescribeConfigsRequest::Resource read_resource(Reader& r) {
    DescribeConfigsRequest::Resource res;
    res.resource_type = r.i8("resources.resource_type");
    res.resource_name = r.non_null_string("resources.resource_name");
    res.configuration_keys = read_optional_vector(r, "resources.configuration_keys", kMinKeySize, [&] {
        return r.non_null_string("resources.configuration_keys");
    });
    return res;
}

void write_resource(Writer& w, const DescribeConfigsRequest::Resource& res) {
    w.i8(res.resource_type);
    w.string(res.resource_name);
    if (!res.configuration_keys) return w.null_array();
    write_vector(w, *res.configuration_keys, [&](const std::string& key) { w.string(key); });
}

DescribeConfigsResponse::Synonym read_synonym(Reader& r) {
    DescribeConfigsResponse::Synonym s;
    s.name = r.non_null_string("results.configs.synonyms.name");
    s.value = r.nullable_string("results.configs.synonyms.value");
    s.source = r.i8("results.configs.synonyms.source");
    return s;
}

DescribeConfigsResponse::Config read_config(Reader& r) {
    DescribeConfigsResponse::Config c;
    c.name = r.non_null_string("results.configs.name");
    c.value = r.nullable_string("results.configs.value");
    c.read_only = r.boolean("results.configs.read_only");
    c.config_source = r.i8("results.configs.config_source");
    c.is_sensitive = r.boolean("results.configs.is_sensitive");
    c.synonyms = read_vector(r, "results.configs.synonyms", kMinSynonymSize, [&] { return read_synonym(r); });
    return c;
}

DescribeConfigsResponse::ResourceResult read_result(Reader& r) {
    DescribeConfigsResponse::ResourceResult res;
    res.error_code = r.i16("results.error_code");
    res.error_message = r.nullable_string("results.error_message");
    res.resource_type = r.i8("results.resource_type");
    res.resource_name = r.non_null_string("results.resource_name");
    res.configs = read_vector(r, "results.configs", kMinConfigSize, [&] { return read_config(r); });
    return res;
}

void write_config(Writer& w, const DescribeConfigsResponse::Config& c) {
    w.string(c.name);
    w.nullable_string(c.value);
    w.boolean(c.read_only);
    w.i8(c.config_source);
    w.boolean(c.is_sensitive);
    write_vector(w, c.synonyms, [&](const DescribeConfigsResponse::Synonym& s) {
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
    write_vector(w, res.configs, [&](const DescribeConfigsResponse::Config& c) { write_config(w, c); });
}

}  // namespace

Result<DescribeConfigsRequest, std::string> decode_describe_configs_request(std::string_view body,
                                                                            int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    DescribeConfigsRequest req;
    req.resources = read_vector(r, "resources", kMinResourceSize, [&] { return read_resource(r); });
    req.include_synonyms = r.boolean("include_synonyms");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_describe_configs_request(std::string& out, const DescribeConfigsRequest& request,
                                     int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.resources,
                 [&](const DescribeConfigsRequest::Resource& res) { write_resource(w, res); });
    w.boolean(request.include_synonyms);
}

Result<DescribeConfigsResponse, std::string> decode_describe_configs_response(std::string_view body,
                                                                              int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("response", version));
    Reader r(body);
    DescribeConfigsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.results = read_vector(r, "results", kMinResultSize, [&] { return read_result(r); });
    return kCodec.finish(r, std::move(resp), "response", version);
}

void encode_describe_configs_response(std::string& out, const DescribeConfigsResponse& response,
                                      int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_vector(w, response.results,
                 [&](const DescribeConfigsResponse::ResourceResult& res) { write_result(w, res); });
}

}  // namespace fjord::kafka
