// Malformed-input loops: every prefix and many single-byte mutations of valid inputs must give a
// value or an error, never a crash, and whatever parses must survive a to_string round trip.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "kube/field_selector.hpp"
#include "kube/label_selector.hpp"
#include "kube/patch.hpp"
#include "kube/status.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

std::vector<std::string> variants(const std::string& seed) {
    static const char kBytes[] = {'=', '!', ',', '(', ')', ' ', '\\', '/', '~',  '"',   '{',
                                  '}', '[', ']', ':', 'a', '0', '-',  '.', '\0', '\xff'};
    std::vector<std::string> out;
    for (std::size_t i = 0; i <= seed.size(); ++i) out.push_back(seed.substr(0, i));
    for (std::size_t i = 0; i < seed.size(); ++i) {
        for (char b : kBytes) {
            std::string m = seed;
            m[i] = b;
            out.push_back(m);
            out.push_back(seed.substr(0, i) + b + seed.substr(i));
        }
    }
    return out;
}

TEST(Robustness, LabelSelectorParseNeverCrashesAndRoundTrips) {
    for (std::string seed : {"a=b,c!=d,e in (x,y),f notin (z),g,!h", "k8s.io/app==v1,x>3,y<2"}) {
        for (const auto& input : variants(seed)) {
            auto s = LabelSelector::parse(input);
            if (!s) {
                EXPECT_FALSE(s.error().detail.empty());
                continue;
            }
            auto again = LabelSelector::parse(s->to_string());
            ASSERT_TRUE(again) << input << " -> " << s->to_string();
            EXPECT_EQ(again->to_string(), s->to_string()) << input;
        }
    }
}

TEST(Robustness, FieldSelectorParseNeverCrashesAndRoundTrips) {
    for (const auto& input : variants(R"(metadata.name=a\,b,spec.nodeName!=n\=1,x==\\)")) {
        auto s = FieldSelector::parse(input);
        if (!s) continue;
        auto again = FieldSelector::parse(s->to_string());
        ASSERT_TRUE(again) << input << " -> " << s->to_string();
        EXPECT_EQ(again->requirements(), s->requirements()) << input;
    }
}

TEST(Robustness, PatchesNeverCrashOnMalformedBodies) {
    json::value pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
        "finalizers":["a"]},"spec":{"containers":[{"name":"c","env":[{"name":"A"}]}]}})");
    const std::string smp =
        R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"$setElementOrder/finalizers":["a"]},)"
        R"("spec":{"$retainKeys":["containers"],"containers":[{"name":"c","$patch":"delete"},)"
        R"({"name":"d","env":[{"name":"B","value":null}]}]}})";
    const std::string jp =
        R"([{"op":"add","path":"/spec/containers/-","value":{"name":"x"}},)"
        R"({"op":"move","from":"/metadata/name","path":"/metadata/generateName"},)"
        R"({"op":"test","path":"/spec/containers/0/env/0/name","value":"A"}])";
    std::size_t ok = 0;
    for (const auto& [type, seed] :
         {std::pair{PatchType::kStrategicMergePatch, smp}, std::pair{PatchType::kJsonPatch, jp},
          std::pair{PatchType::kMergePatch, smp}}) {
        for (const auto& body : variants(seed)) {
            auto out = apply_patch(type, pod, body);
            if (out) {
                ++ok;
                EXPECT_TRUE(out->is_object());
            } else {
                EXPECT_FALSE(out.error().detail.empty());
            }
        }
    }
    EXPECT_GT(ok, 0u);
}

TEST(Robustness, StatusParseNeverCrashes) {
    std::string body = status_invalid("", "Pod", "p", {field_required("spec")}).to_json_string();
    for (const auto& input : variants(body)) {
        auto s = parse_status_body(input);
        (void)s;
    }
}

}  // namespace
}  // namespace kedge::kube
