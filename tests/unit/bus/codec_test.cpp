// The message wire form: Go-compatible bytes, pass-through of content, strict decoding.

#include "bus/codec.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <random>
#include <string>

#include "bus/constants.hpp"
#include "bus/go_json.hpp"
#include "bus/json_validate.hpp"
#include "fixtures/pod_fixture.hpp"

namespace kedge::bus {
namespace {

using test::kPodJson;

const std::string kKeepalive =
    R"({"header":{"msg_id":"2b7e6d0c-1f3a-4c5b-9d8e-7a6b5c4d3e2f","timestamp":1709288130123},)"
    R"("route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},)"
    R"("content":"ping"})";

std::string pod_insert_json() {
    return R"({"header":{"msg_id":"a8f1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b","timestamp":1709288130456,)"
           R"("resourceversion":"184467"},"route":{"source":"edgecontroller","group":"resource",)"
           R"("operation":"insert","resource":"default/pod/nginx"},"content":)" +
           std::string(kPodJson) + "}";
}

const std::string kAck =
    R"({"header":{"msg_id":"0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",)"
    R"("parent_msg_id":"a8f1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b","timestamp":1709288130999},)"
    R"("route":{"source":"edgecontroller","group":"resource","operation":"response",)"
    R"("resource":"default/pod/nginx"},"content":"OK"})";

TEST(Codec, KeepaliveRoundTripsByteForByte) {
    auto m = decode(kKeepalive);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->header.msg_id, "2b7e6d0c-1f3a-4c5b-9d8e-7a6b5c4d3e2f");
    EXPECT_EQ(m->header.timestamp, 1709288130123);
    EXPECT_EQ(m->route.source, kModuleEdgeHub);
    EXPECT_EQ(m->route.operation, kOpKeepalive);
    EXPECT_EQ(m->route.resource, kResNode);
    EXPECT_TRUE(m->content.is_string());
    EXPECT_TRUE(m->content.string_equals(kContentPing));
    EXPECT_EQ(encode(*m), kKeepalive);
}

TEST(Codec, UpstreamKeepaliveWithoutHeaderDecodes) {
    // Exactly what PROTOCOL.md shows an upstream edge sending.
    auto m = decode(
        R"({"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},"content":"ping"})");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_TRUE(m->header.msg_id.empty());
    EXPECT_EQ(m->header.timestamp, 0);
    EXPECT_EQ(m->route.group, kGroupResource);
    EXPECT_EQ(m->content.as_string().value(), "ping");
    EXPECT_EQ(
        encode(*m),
        R"({"header":{"msg_id":"","timestamp":0},"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},"content":"ping"})");
}

TEST(Codec, PodInsertRoundTripsByteForByte) {
    const std::string in = pod_insert_json();
    auto m = decode(in);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->header.resource_version, "184467");
    EXPECT_FALSE(m->header.sync);
    EXPECT_TRUE(m->route.destination.empty());
    EXPECT_EQ(m->route.resource, "default/pod/nginx");
    EXPECT_EQ(m->content.raw(), kPodJson);
    EXPECT_EQ(encode(*m), in);

    auto v = m->content.value();
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ((*v)->at("kind").as_string(), "Pod");
    EXPECT_EQ((*v)->at("metadata").at("resourceVersion").as_string(), "184467");
}

TEST(Codec, AckResponseRoundTrips) {
    auto m = decode(kAck);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->header.parent_msg_id, "a8f1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b");
    EXPECT_TRUE(m->is_response());
    EXPECT_EQ(m->route.operation, kOpResponse);
    EXPECT_TRUE(m->content.string_equals(kContentOk));
    EXPECT_EQ(encode(*m), kAck);
}

TEST(Codec, MakeResponseMirrorsTheRequest) {
    auto req = decode(pod_insert_json()).value();
    Message ack = make_response(req, Content::from_string("OK"));
    EXPECT_NE(ack.header.msg_id, req.header.msg_id);
    EXPECT_EQ(ack.header.parent_msg_id, req.header.msg_id);
    EXPECT_EQ(ack.route.source, req.route.source);
    EXPECT_EQ(ack.route.group, req.route.group);
    EXPECT_EQ(ack.route.resource, req.route.resource);
    EXPECT_EQ(ack.route.operation, kOpResponse);
    EXPECT_GT(ack.header.timestamp, 1'600'000'000'000);
    auto back = decode(encode(ack));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->header, ack.header);
    EXPECT_EQ(back->route, ack.route);
    EXPECT_EQ(make_error_response(req, {}).route.operation, kOpError);
}

TEST(Codec, AllHeaderAndRouteFieldsInGoOrder) {
    Message m;
    m.header = {"id1", "parent1", -5, "42", true, "channel"};
    m.route = {"src", "dst", "grp", "op", "res"};
    EXPECT_EQ(
        encode(m),
        R"({"header":{"msg_id":"id1","parent_msg_id":"parent1","timestamp":-5,)"
        R"("resourceversion":"42","sync":true,"type":"channel"},"route":{"source":"src",)"
        R"("destination":"dst","group":"grp","operation":"op","resource":"res"},"content":null})");
    auto back = decode(encode(m));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->header, m.header);
    EXPECT_EQ(back->route, m.route);
    EXPECT_TRUE(back->content.is_null());
}

TEST(Codec, EmptyRouteIsStillEmitted) {
    // Go's omitempty never omits a struct.
    Message m;
    m.header.msg_id = "x";
    EXPECT_EQ(encode(m), R"({"header":{"msg_id":"x","timestamp":0},"route":{},"content":null})");
}

TEST(Codec, ContentBytesSurvivePassThrough) {
    const std::string content = "{ \"a\" :\n\t[1, 2.50 ,\"\\u00e9\"] ,\"b\":{}  }";
    const std::string in = R"({"content":)" + content + R"(, "header":{"msg_id":"m"}})";
    auto m = decode(in);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->content.raw(), content);
    EXPECT_EQ(encode(*m),
              R"({"header":{"msg_id":"m","timestamp":0},"route":{},"content":)" + content + "}");
}

TEST(Codec, SharedBufferDecodeKeepsASliceAlive) {
    auto buf = std::make_shared<const std::string>(pod_insert_json());
    const char* base = buf->data();
    Content c;
    {
        auto m = decode(buf);
        ASSERT_TRUE(m);
        // The content is a view into the received frame, not a copy.
        EXPECT_GE(m->content.raw().data(), base);
        EXPECT_LT(m->content.raw().data(), base + buf->size());
        c = m->content;
    }
    buf.reset();
    EXPECT_EQ(c.raw(), kPodJson);  // still alive through the content
}

TEST(Codec, OneSerializationSharedByManyMessages) {
    auto pod = boost::json::parse(kPodJson);
    Content c = Content::encoded(pod);
    // Re-serializing the parsed pod gives Go's bytes exactly.
    EXPECT_EQ(c.raw(), kPodJson);
    std::vector<Message> fanout;
    for (int i = 0; i < 100; ++i)
        fanout.push_back(Message::make("edgecontroller", "resource", "insert",
                                       "node/edge" + std::to_string(i) + "/default/pod/nginx", c));
    for (const auto& m : fanout) EXPECT_EQ(m.content.raw().data(), c.raw().data());
    EXPECT_NE(encode(fanout[7]).find(std::string(kPodJson)), std::string::npos);
}

TEST(Codec, ValueContentIsSerializedGoStyle) {
    boost::json::object o;
    o["html"] = "<a href=\"x\">&</a>";
    o["ctl"] = std::string("\x01\x1f\b\f\n\r\t\x7f", 8);
    o["seps"] = "\xe2\x80\xa8\xe2\x80\xa9";
    o["bad"] = "\xff\xc3";
    o["n"] = -3;
    o["u"] = std::uint64_t(18446744073709551615ull);
    o["d"] = 2.0;
    o["small"] = 1e-7;
    o["big"] = 1e21;
    o["neg0"] = -0.0;
    o["arr"] = boost::json::array{true, nullptr, "x"};
    Message m;
    m.content = Content::from_value(o);
    const std::string expected =
        R"({"html":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e",)"
        R"("ctl":"\u0001\u001f\b\f\n\r\t)"
        "\x7f"
        R"(","seps":"\u2028\u2029","bad":"\ufffd\ufffd","n":-3,"u":18446744073709551615,)"
        R"("d":2,"small":1e-7,"big":1e+21,"neg0":-0,"arr":[true,null,"x"]})";
    EXPECT_EQ(m.content.to_json(), expected);
    EXPECT_FALSE(m.content.has_raw());
}

TEST(Codec, GoDoubleFormatting) {
    auto f = [](double d) {
        std::string s;
        append_go_double(s, d);
        return s;
    };
    EXPECT_EQ(f(0.1), "0.1");
    EXPECT_EQ(f(100), "100");
    EXPECT_EQ(f(1e20), "100000000000000000000");
    EXPECT_EQ(f(1e21), "1e+21");
    EXPECT_EQ(f(0.000001), "0.000001");
    EXPECT_EQ(f(0.0000001), "1e-7");
    EXPECT_EQ(f(1.2345e-300), "1.2345e-300");
    EXPECT_EQ(f(-2.5e-10), "-2.5e-10");
}

TEST(Codec, AcceptsAnyValidEscapingAndKeyCase) {
    auto m = decode(
        R"({"Header":{"MSG_ID":"\u0061\/b","Timestamp":7,"Sync":true,"resourceVersion":"9"},)"
        R"("ROUTE":{"Source":"s\ud83d\ude00","unknown":[1,{"x":null}]},"extra":{"deep":[[]]},)"
        R"("content":"\u004fK"})");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->header.msg_id, "a/b");
    EXPECT_EQ(m->header.timestamp, 7);
    EXPECT_TRUE(m->header.sync);
    EXPECT_EQ(m->header.resource_version, "9");
    EXPECT_EQ(m->route.source, "s\xf0\x9f\x98\x80");
    EXPECT_TRUE(m->content.string_equals("OK"));
}

TEST(Codec, NullFieldsAreIgnoredLikeGo) {
    auto m = decode(
        R"({"header":{"msg_id":null,"timestamp":null,"sync":null},"route":null,"content":null})");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_TRUE(m->content.is_null());
    EXPECT_TRUE(decode(R"({"header":null})"));
    EXPECT_TRUE(decode(" \n{}\t "));
}

TEST(Codec, ContentKinds) {
    for (std::string c : {"[1,2]", "-12.5e3", "true", "false", "{}", "\"\"", "[]", "0"}) {
        auto m = decode(R"({"content":)" + c + "}");
        ASSERT_TRUE(m) << c;
        EXPECT_EQ(m->content.raw(), c);
        auto v = m->content.value();
        ASSERT_TRUE(v) << c;
    }
}

void expect_parse_error(std::string_view in, std::string_view detail_part) {
    auto m = decode(in);
    ASSERT_FALSE(m) << in;
    EXPECT_TRUE(m.error().is(errc::parse_error)) << m.error().message();
    EXPECT_NE(m.error().detail.find(detail_part), std::string::npos)
        << "detail: " << m.error().detail << " expected to contain: " << detail_part;
}

TEST(Codec, RejectsWrongShapesWithClearErrors) {
    expect_parse_error("[]", "must be a JSON object, got an array");
    expect_parse_error("null", "must be a JSON object, got null");
    expect_parse_error("\"x\"", "must be a JSON object, got a string");
    expect_parse_error(R"({"header":{"timestamp":"1"}})", "header.timestamp: expected an integer");
    expect_parse_error(R"({"header":{"timestamp":1.5}})", "header.timestamp");
    expect_parse_error(R"({"header":{"timestamp":1e3}})", "header.timestamp");
    expect_parse_error(R"({"header":{"timestamp":9223372036854775808}})", "int64 range");
    expect_parse_error(R"({"header":{"msg_id":5}})", "header.msg_id: expected a string");
    expect_parse_error(R"({"header":{"sync":"true"}})", "header.sync: expected a boolean");
    expect_parse_error(R"({"header":[]})", "header: expected an object");
    expect_parse_error(R"({"route":"x"})", "route: expected an object");
    expect_parse_error(R"({"route":{"resource":{}}})", "route.resource: expected a string");
}

TEST(Codec, RejectsInvalidJsonAnywhere) {
    for (std::string bad : {
             "",
             "{",
             "}",
             "{\"content\":}",
             "{\"content\":[1,]}",
             "{\"content\":{\"a\" 1}}",
             "{\"content\":tru}",
             "{\"content\":01}",
             "{\"content\":\"\\x\"}",
             "{\"content\":\"\\ud800\"}",
             "{\"content\":\"a\x01\"}",
             "{\"content\":\"\xff\"}",
             "{} {}",
             "{}x",
             "{\"a\":1,}",
             "{/*c*/}",
             "{\"content\":NaN}",
             "{\"content\":\"unterminated}",
         }) {
        auto m = decode(bad);
        ASSERT_FALSE(m) << bad;
        EXPECT_TRUE(m.error().is(errc::parse_error)) << bad << ": " << m.error().message();
    }
}

TEST(Codec, RejectsTooDeepContent) {
    std::string deep(kMaxJsonDepth + 5, '[');
    deep += std::string(kMaxJsonDepth + 5, ']');
    EXPECT_FALSE(decode(R"({"content":)" + deep + "}"));
}

TEST(Codec, SizeLimit) {
    const std::string in = pod_insert_json();
    auto m = decode(in, DecodeOptions{in.size() - 1});
    ASSERT_FALSE(m);
    EXPECT_TRUE(m.error().is(errc::too_large));
    EXPECT_TRUE(decode(in, DecodeOptions{in.size()}));
}

TEST(Codec, EveryTruncationFailsCleanly) {
    for (const std::string& full : {pod_insert_json(), kAck, kKeepalive}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            auto m = decode(std::string_view(full).substr(0, n));
            EXPECT_FALSE(m) << "prefix of " << n << " bytes decoded";
        }
        EXPECT_TRUE(decode(full));
    }
}

TEST(Codec, RandomMutationsNeverCrashAndStayConsistent) {
    const std::string base = pod_insert_json();
    std::mt19937 rng(12345);
    const std::string alphabet = "{}[]\":,\\ 0123456789.eE+-tfnulrsa\x01\xff\xc3";
    int decoded = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        std::string s = base;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            std::size_t pos = rng() % s.size();
            switch (rng() % 3) {
                case 0:
                    s[pos] = alphabet[rng() % alphabet.size()];
                    break;
                case 1:
                    s.erase(pos, 1 + rng() % 8);
                    break;
                default:
                    s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
                    break;
            }
            if (s.empty()) s = "{";
        }
        auto m = decode(s);
        if (!m) continue;
        ++decoded;
        // Whatever decodes must re-encode to something that decodes to the same message,
        // and its content must parse.
        auto again = decode(encode(*m));
        ASSERT_TRUE(again) << s;
        EXPECT_EQ(again->header, m->header);
        EXPECT_EQ(again->route, m->route);
        EXPECT_EQ(again->content.raw(), m->content.raw());
        EXPECT_TRUE(m->content.value()) << s;
    }
    EXPECT_GT(decoded, 0);
}

TEST(Content, StringsAndNull) {
    Content null;
    EXPECT_TRUE(null.is_null());
    EXPECT_FALSE(null.is_string());
    EXPECT_EQ(null.to_json(), "null");
    EXPECT_FALSE(null.as_string());

    Content ok = Content::from_string("OK");
    EXPECT_EQ(ok.raw(), "\"OK\"");
    EXPECT_TRUE(ok.string_equals("OK"));
    EXPECT_FALSE(ok.string_equals("ok"));

    Content esc = Content::from_string("a\"b\\c<d>\n");
    EXPECT_EQ(esc.as_string().value(), "a\"b\\c<d>\n");

    auto obj = Content::from_json(R"({"a":1})");
    ASSERT_TRUE(obj);
    EXPECT_FALSE(obj->is_string());
    auto s = obj->as_string();
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().is(errc::invalid_argument));

    EXPECT_FALSE(Content::from_json("{\"a\":"));
    EXPECT_TRUE(Content::from_value(boost::json::value("x")).is_string());
    EXPECT_TRUE(Content::from_value(nullptr).is_null());
}

TEST(Content, TrustedTextThatIsNotJsonFailsOnAccessNotCrash) {
    Content c = Content::from_trusted_json(std::make_shared<const std::string>("{oops"));
    auto v = c.value();
    ASSERT_FALSE(v);
    EXPECT_TRUE(v.error().is(errc::parse_error));
    EXPECT_EQ(c.to_json(), "{oops");  // spliced as given
}

TEST(Content, SameValueComparesParsedWhenBytesDiffer) {
    auto a = Content::from_json(R"({"a": [1, 2]})").value();
    auto b = Content::from_json(R"({"a":[1,2]})").value();
    auto c = Content::from_json(R"({"a":[2,1]})").value();
    EXPECT_TRUE(a.same_value(b));
    EXPECT_FALSE(a.same_value(c));
}

TEST(Content, ValidateJson) {
    EXPECT_TRUE(validate_json(" {\"a\":[1,2,{\"b\":null}]} \n"));
    auto r = validate_json("{\"a\":[1,2,}");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("byte"), std::string::npos) << r.error().detail;
}

}  // namespace
}  // namespace kedge::bus
