// AlterConfigs v0-1 bodies (schemas/AlterConfigsRequest.json and
// AlterConfigsResponse.json), both versions one layout:
//
//   request:  [resources: int8 resource_type, resource_name,
//              [configs: name, nullable value]],
//             bool validate_only
//   response: int32 throttle_time_ms,
//             [responses: int16 error_code, nullable error_message,
//              int8 resource_type, resource_name]
#include "kafka/alter_configs_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinResourceSize = 1 + 2 + 4;
constexpr size_t kMinConfigSize = 2 + 2;
constexpr size_t kMinResultSize = 2 + 2 + 1 + 2;

constexpr VersionedCodec kCodec{"AlterConfigs", kAlterConfigsMinVersion, kAlterConfigsMaxVersion};

AlterConfigsRequest::Config read_config(Reader& r) {
    AlterConfigsRequest::Config c;
    c.name = r.non_null_string("resources.configs.name");
    c.value = r.nullable_string("resources.configs.value");
    return c;
}

AlterConfigsRequest::Resource read_resource(Reader& r) {
    AlterConfigsRequest::Resource res;
    res.resource_type = r.i8("resources.resource_type");
    res.resource_name = r.non_null_string("resources.resource_name");
    res.configs = read_vector(r, "resources.configs", kMinConfigSize, [&] { return read_config(r); });
    return res;
}

void write_resource(Writer& w, const AlterConfigsRequest::Resource& res) {
    w.i8(res.resource_type);
    w.string(res.resource_name);
    write_vector(w, res.configs, [&](const AlterConfigsRequest::Config& c) {
        w.string(c.name);
        w.nullable_string(c.value);
    });
}

}  // namespace

Result<AlterConfigsRequest, std::string> decode_alter_configs_request(std::string_view body,
                                                                      int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    AlterConfigsRequest req;
    req.resources = read_vector(r, "resources", kMinResourceSize, [&] { return read_resource(r); });
    req.validate_only = r.boolean("validate_only");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_alter_configs_request(std::string& out, const AlterConfigsRequest& request, int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.resources,
                 [&](const AlterConfigsRequest::Resource& res) { write_resource(w, res); });
    w.boolean(request.validate_only);
}

Result<AlterConfigsResponse, std::string> decode_alter_configs_response(std::string_view body,
                                                                        int16_t version) {
    return detail::decode_config_results(body, version, kCodec);
}

void encode_alter_configs_response(std::string& out, const AlterConfigsResponse& response, int16_t version) {
    detail::encode_config_results(out, response, version, kCodec);
}

Result<AlterConfigsResponse, std::string> detail::decode_config_results(std::string_view body,
                                                                        int16_t version,
                                                                        const VersionedCodec& codec) {
    if (!codec.supports(version)) return make_unexpected(codec.unsupported("response", version));
    Reader r(body);
    AlterConfigsResponse resp;
    resp.throttle_time_ms = r.i32("throttle_time_ms");
    resp.responses = read_vector(r, "responses", kMinResultSize, [&] {
        AlterConfigsResponse::ResourceResult res;
        res.error_code = r.i16("responses.error_code");
        res.error_message = r.nullable_string("responses.error_message");
        res.resource_type = r.i8("responses.resource_type");
        res.resource_name = r.non_null_string("responses.resource_name");
        return res;
    });
    return codec.finish(r, std::move(resp), "response", version);
}

void detail::encode_config_results(std::string& out, const AlterConfigsResponse& response, int16_t version,
                                   const VersionedCodec& codec) {
    assert(codec.supports(version));
    (void)version;
    (void)codec;
    Writer w(out);
    w.i32(response.throttle_time_ms);
    write_vector(w, response.responses, [&](const AlterConfigsResponse::ResourceResult& res) {
        w.i16(res.error_code);
        w.nullable_string(res.error_message);
        w.i8(res.resource_type);
        w.string(res.resource_name);
    });
}

}  // namespace fjord::kafka
