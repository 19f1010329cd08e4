#include "device/dmi/convert.hpp"

#include <fmt/format.h>
#include <google/protobuf/any.pb.h>
#include <google/protobuf/wrappers.pb.h>

#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace kedge::device::dmi {

namespace {

namespace json = boost::json;
namespace pb = google::protobuf;

std::string_view kind_name(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "a boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "an integer";
        case json::kind::double_:
            return "a number";
        case json::kind::string:
            return "a string";
        case json::kind::array:
            return "an array";
        case json::kind::object:
            return "an object";
    }
    return "something else";
}

std::string join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

// Walks a Kubernetes object and keeps the first type error, so that the conversion code reads
// as a plain list of fields and still reports exactly which one was wrong. Missing and null
// fields give the zero value, as a Go client decoding the same object would.
class Reader {
public:
    const json::value* field(const json::object& o, std::string_view key) const {
        const json::value* v = o.if_contains(key);
        return (v == nullptr || v->is_null()) ? nullptr : v;
    }

    std::string str(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return {};
        if (!v->is_string()) {
            fail(join(path, key), "a string", *v);
            return {};
        }
        return std::string(v->get_string());
    }

    // Strings, or numbers written without quotes (model minimum/maximum are strings in the CRD
    // but hand-written objects often carry numbers).
    std::string str_or_number(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return {};
        if (v->is_int64()) return std::to_string(v->get_int64());
        if (v->is_uint64()) return std::to_string(v->get_uint64());
        if (v->is_double()) return fmt::format("{}", v->get_double());  // shortest: "100.5"
        return str(o, key, path);
    }

    std::int64_t int64(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return 0;
        if (v->is_int64()) return v->get_int64();
        if (v->is_uint64() && v->get_uint64() <= std::uint64_t(INT64_MAX)) {
            return static_cast<std::int64_t>(v->get_uint64());
        }
        if (v->is_double()) {
            // 1e3 is an integer to a Go decoder of int64 fields; 1.5 is not.
            double d = v->get_double();
            if (std::trunc(d) == d && std::fabs(d) < 9.2e18) return static_cast<std::int64_t>(d);
        }
        fail(join(path, key), "an integer", *v);
        return 0;
    }

    bool boolean(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return false;
        if (!v->is_bool()) {
            fail(join(path, key), "a boolean", *v);
            return false;
        }
        return v->get_bool();
    }

    const json::object* object(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return nullptr;
        if (!v->is_object()) {
            fail(join(path, key), "an object", *v);
            return nullptr;
        }
        return &v->get_object();
    }

    const json::array* array(const json::object& o, std::string_view key, std::string_view path) {
        const json::value* v = field(o, key);
        if (v == nullptr) return nullptr;
        if (!v->is_array()) {
            fail(join(path, key), "an array", *v);
            return nullptr;
        }
        return &v->get_array();
    }

    // Each element of an array of objects; non-objects are reported with their index.
    template <class F>
    void each_object(const json::object& o, std::string_view key, std::string_view path, F&& f) {
        const json::array* a = array(o, key, path);
        if (a == nullptr) return;
        for (std::size_t i = 0; i < a->size(); ++i) {
            std::string item = fmt::format("{}[{}]", join(path, key), i);
            if (!(*a)[i].is_object()) {
                fail(item, "an object", (*a)[i]);
                return;
            }
            f((*a)[i].get_object(), item);
        }
    }

    void string_map(const json::object& o, std::string_view key, std::string_view path,
                    pb::Map<std::string, std::string>* out) {
        const json::object* m = object(o, key, path);
        if (m == nullptr) return;
        std::string p = join(path, key);
        for (const auto& [k, v] : *m) (*out)[std::string(k)] = str(*m, k, p);
    }

    void fail(std::string path, std::string_view want, const json::value& got) {
        fail(fmt::format("{}: expected {}, got {}", path, want, kind_name(got)));
    }
    void fail(std::string detail) {
        if (!error_) error_ = Error(errc::invalid_argument, std::move(detail));
    }

    const std::optional<Error>& error() const { return error_; }

private:
    std::optional<Error> error_;
};

void read_twin_property(Reader& r, const json::object& o, std::string_view path,
                        v1beta1::TwinProperty* out) {
    out->set_value(r.str(o, "value", path));
    r.string_map(o, "metadata", path, out->mutable_metadata());
}

void read_push_method(Reader& r, const json::object& o, std::string_view path,
                      v1beta1::PushMethod* out) {
    if (const json::object* http = r.object(o, "http", path)) {
        std::string p = join(path, "http");
        auto* h = out->mutable_http();
        h->set_hostname(r.str(*http, "hostName", p));
        h->set_port(r.int64(*http, "port", p));
        h->set_requestpath(r.str(*http, "requestPath", p));
        h->set_timeout(r.int64(*http, "timeout", p));
    }
    if (const json::object* mqtt = r.object(o, "mqtt", path)) {
        std::string p = join(path, "mqtt");
        auto* m = out->mutable_mqtt();
        m->set_address(r.str(*mqtt, "address", p));
        m->set_topic(r.str(*mqtt, "topic", p));
        std::int64_t qos = r.int64(*mqtt, "qos", p);
        if (qos < 0 || qos > 2) {
            r.fail(fmt::format("{}.qos: expected 0, 1 or 2, got {}", p, qos));
        }
        m->set_qos(static_cast<std::int32_t>(qos));
        m->set_retained(r.boolean(*mqtt, "retained", p));
    }
    if (const json::object* otel = r.object(o, "otel", path)) {
        out->mutable_otel()->set_endpointurl(r.str(*otel, "endpointUrl", join(path, "otel")));
    }
}

void read_configured(Reader& r, const json::object& o, std::string_view path,
                     std::string* protocol_name, v1beta1::CustomizedValue* config) {
    *protocol_name = r.str(o, "protocolName", path);
    if (const json::object* data = r.object(o, "configData", path)) {
        *config = json_to_customized(*data);
    }
}

void read_device_property(Reader& r, const json::object& o, std::string_view path,
                          v1beta1::DeviceProperty* out) {
    out->set_name(r.str(o, "name", path));
    if (out->name().empty() && !r.error()) r.fail(join(path, "name") + ": required");
    if (const json::object* desired = r.object(o, "desired", path)) {
        read_twin_property(r, *desired, join(path, "desired"), out->mutable_desired());
    }
    if (const json::object* visitors = r.object(o, "visitors", path)) {
        auto* v = out->mutable_visitors();
        read_configured(r, *visitors, join(path, "visitors"), v->mutable_protocolname(),
                        v->mutable_configdata());
    }
    out->set_reportcycle(r.int64(o, "reportCycle", path));
    out->set_collectcycle(r.int64(o, "collectCycle", path));
    out->set_reporttocloud(r.boolean(o, "reportToCloud", path));
    if (const json::object* push = r.object(o, "pushMethod", path)) {
        read_push_method(r, *push, join(path, "pushMethod"), out->mutable_pushmethod());
    }
}

void read_twin(Reader& r, const json::object& o, std::string_view path, v1beta1::Twin* out) {
    out->set_propertyname(r.str(o, "propertyName", path));
    if (const json::object* rep = r.object(o, "reported", path)) {
        read_twin_property(r, *rep, join(path, "reported"), out->mutable_reported());
    }
    if (const json::object* od = r.object(o, "observedDesired", path)) {
        read_twin_property(r, *od, join(path, "observedDesired"), out->mutable_observeddesired());
    }
}

// kind (when present) must be `want`; metadata.name is required.
void read_meta(Reader& r, const json::object& obj, std::string_view want, std::string* name,
               std::string* ns) {
    std::string kind = r.str(obj, "kind", "");
    if (!kind.empty() && kind != want) {
        r.fail(fmt::format("kind: expected {}, got {}", want, kind));
        return;
    }
    const json::object* meta = r.object(obj, "metadata", "");
    if (meta == nullptr) {
        if (!r.error()) r.fail("metadata: required");
        return;
    }
    *name = r.str(*meta, "name", "metadata");
    *ns = r.str(*meta, "namespace", "metadata");
    if (name->empty() && !r.error()) r.fail("metadata.name: required");
}

template <class T>
pb::Any pack(const T& message) {
    pb::Any any;
    any.PackFrom(message);
    return any;
}

}  // namespace

Result<v1beta1::Device> device_to_proto(const json::object& device) {
    Reader r;
    v1beta1::Device out;
    read_meta(r, device, "Device", out.mutable_name(), out.mutable_namespace_());
    if (r.error()) return *r.error();

    if (const json::object* spec = r.object(device, "spec", "")) {
        auto* s = out.mutable_spec();
        if (const json::object* ref = r.object(*spec, "deviceModelRef", "spec")) {
            s->set_devicemodelreference(r.str(*ref, "name", "spec.deviceModelRef"));
        }
        if (const json::object* proto = r.object(*spec, "protocol", "spec")) {
            auto* p = s->mutable_protocol();
            read_configured(r, *proto, "spec.protocol", p->mutable_protocolname(),
                            p->mutable_configdata());
        }
        r.each_object(*spec, "properties", "spec", [&](const json::object& o, std::string_view p) {
            read_device_property(r, o, p, s->add_properties());
        });
        r.each_object(*spec, "methods", "spec", [&](const json::object& o, std::string_view p) {
            auto* m = s->add_methods();
            m->set_name(r.str(o, "name", p));
            m->set_description(r.str(o, "description", p));
            if (const json::array* names = r.array(o, "propertyNames", p)) {
                for (std::size_t i = 0; i < names->size(); ++i) {
                    const json::value& n = (*names)[i];
                    if (!n.is_string()) {
                        r.fail(fmt::format("{}.propertyNames[{}]", p, i), "a string", n);
                        break;
                    }
                    m->add_propertynames(std::string(n.get_string()));
                }
            }
        });
    }
    if (const json::object* status = r.object(device, "status", "")) {
        auto* st = out.mutable_status();
        r.each_object(*status, "twins", "status", [&](const json::object& o, std::string_view p) {
            read_twin(r, o, p, st->add_twins());
        });
        st->set_reporttocloud(r.boolean(*status, "reportToCloud", "status"));
        st->set_reportcycle(r.int64(*status, "reportCycle", "status"));
    }
    if (r.error()) return *r.error();
    return out;
}

Result<v1beta1::DeviceModel> model_to_proto(const json::object& model) {
    Reader r;
    v1beta1::DeviceModel out;
    read_meta(r, model, "DeviceModel", out.mutable_name(), out.mutable_namespace_());
    if (r.error()) return *r.error();
    if (const json::object* spec = r.object(model, "spec", "")) {
        auto* s = out.mutable_spec();
        r.each_object(*spec, "properties", "spec", [&](const json::object& o, std::string_view p) {
            auto* mp = s->add_properties();
            mp->set_name(r.str(o, "name", p));
            mp->set_description(r.str(o, "description", p));
            mp->set_type(r.str(o, "type", p));
            mp->set_accessmode(r.str(o, "accessMode", p));
            mp->set_minimum(r.str_or_number(o, "minimum", p));
            mp->set_maximum(r.str_or_number(o, "maximum", p));
            mp->set_unit(r.str(o, "unit", p));
        });
    }
    if (r.error()) return *r.error();
    return out;
}

v1beta1::CustomizedValue json_to_customized(const json::object& config) {
    v1beta1::CustomizedValue out;
    auto& data = *out.mutable_data();
    for (const auto& [key, v] : config) {
        pb::Any& any = data[std::string(key)];
        switch (v.kind()) {
            case json::kind::string: {
                pb::StringValue s;
                s.set_value(std::string(v.get_string()));
                any = pack(s);
                break;
            }
            case json::kind::int64: {
                pb::Int64Value i;
                i.set_value(v.get_int64());
                any = pack(i);
                break;
            }
            case json::kind::uint64: {
                pb::UInt64Value u;
                u.set_value(v.get_uint64());
                any = pack(u);
                break;
            }
            case json::kind::double_: {
                pb::DoubleValue d;
                d.set_value(v.get_double());
                any = pack(d);
                break;
            }
            case json::kind::bool_: {
                pb::BoolValue b;
                b.set_value(v.get_bool());
                any = pack(b);
                break;
            }
            case json::kind::null:
                // Nothing to carry: a Go map decoded from the same JSON would hold nil.
                data.erase(std::string(key));
                break;
            case json::kind::object:
            case json::kind::array: {
                pb::StringValue s;
                s.set_value(json::serialize(v));
                any = pack(s);
                break;
            }
        }
    }
    return out;
}

Result<json::object> customized_to_json(const v1beta1::CustomizedValue& value) {
    json::object out;
    for (const auto& [key, any] : value.data()) {
        if (any.Is<pb::StringValue>()) {
            pb::StringValue s;
            if (any.UnpackTo(&s)) {
                out[key] = s.value();
                continue;
            }
        } else if (any.Is<pb::Int64Value>()) {
            pb::Int64Value i;
            if (any.UnpackTo(&i)) {
                out[key] = i.value();
                continue;
            }
        } else if (any.Is<pb::Int32Value>()) {
            pb::Int32Value i;
            if (any.UnpackTo(&i)) {
                out[key] = static_cast<std::int64_t>(i.value());
                continue;
            }
        } else if (any.Is<pb::UInt64Value>()) {
            pb::UInt64Value u;
            if (any.UnpackTo(&u)) {
                out[key] = u.value();
                continue;
            }
        } else if (any.Is<pb::UInt32Value>()) {
            pb::UInt32Value u;
            if (any.UnpackTo(&u)) {
                out[key] = static_cast<std::uint64_t>(u.value());
                continue;
            }
        } else if (any.Is<pb::DoubleValue>()) {
            pb::DoubleValue d;
            if (any.UnpackTo(&d)) {
                out[key] = d.value();
                continue;
            }
        } else if (any.Is<pb::FloatValue>()) {
            pb::FloatValue f;
            if (any.UnpackTo(&f)) {
                out[key] = static_cast<double>(f.value());
                continue;
            }
        } else if (any.Is<pb::BoolValue>()) {
            pb::BoolValue b;
            if (any.UnpackTo(&b)) {
                out[key] = b.value();
                continue;
            }
        } else {
            return Error(errc::invalid_argument,
                         fmt::format("configData.{}: unsupported value type {}", key,
                                     any.type_url().empty() ? "(none)" : any.type_url()));
        }
        return Error(errc::invalid_argument,
                     fmt::format("configData.{}: cannot decode {}", key, any.type_url()));
    }
    return out;
}

}  // namespace kedge::device::dmi
