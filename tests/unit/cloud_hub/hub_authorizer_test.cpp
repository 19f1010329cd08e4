// The hub's upgrade decision: which node a connection is for, and every reason to refuse it
// with the HTTP status the WebSocket server derives from the error.
#include "cloud/hub/hub_authorizer.hpp"

#include <gtest/gtest.h>

namespace kedge::cloud {
namespace {

net::WsUpgradeRequest request(
    std::string node_id, std::string cn, std::vector<std::string> orgs = {"system:nodes"},
    std::string target = "/e632aba927ea4ac2b575ec1603d56f10/edge1/events") {
    net::WsUpgradeRequest r;
    r.target = std::move(target);
    if (!node_id.empty()) r.headers.emplace_back("node_id", std::move(node_id));
    r.headers.emplace_back("project_id", "e632aba927ea4ac2b575ec1603d56f10");
    r.headers.emplace_back("ConnectionUse", "msg");
    r.peer.has_certificate = !cn.empty();
    r.peer.common_name = std::move(cn);
    r.peer.organizations = std::move(orgs);
    r.remote_address = "127.0.0.1:40000";
    return r;
}

void expect_refused(const HubAdmission& a, std::string_view reason, errc code) {
    EXPECT_FALSE(a.ok());
    EXPECT_EQ(a.reason, reason) << a.error.detail;
    EXPECT_TRUE(a.error.is(code)) << a.error.message();
    EXPECT_FALSE(a.error.detail.empty());
    EXPECT_TRUE(a.node.empty());
}

TEST(HubAuthorizer, NodeCertificateMatchingNodeIdIsAdmitted) {
    auto a = authorize_hub_upgrade(request("edge1", "system:node:edge1"), false);
    ASSERT_TRUE(a.ok()) << a.reason << ": " << a.error.detail;
    EXPECT_EQ(a.node, "edge1");
    EXPECT_FALSE(a.legacy_certificate);
}

TEST(HubAuthorizer, HeaderNamesAreCaseInsensitive) {
    auto r = request("", "system:node:edge1");
    r.headers.emplace_back("Node_ID", "edge1");
    auto a = authorize_hub_upgrade(r, false);
    ASSERT_TRUE(a.ok()) << a.error.detail;
    EXPECT_EQ(a.node, "edge1");
}

TEST(HubAuthorizer, MissingNodeIdIsBadRequest) {
    expect_refused(authorize_hub_upgrade(request("", "system:node:edge1"), false),
                   "missing_node_id", errc::invalid_argument);
}

TEST(HubAuthorizer, InvalidNodeNameIsBadRequest) {
    for (std::string bad : std::vector<std::string>{"Edge1", "edge_1", "-edge", "edge1/../x",
                                                    std::string(300, 'a')}) {
        auto a = authorize_hub_upgrade(request(bad, "system:node:" + bad), false);
        expect_refused(a, "invalid_node_id", errc::invalid_argument);
    }
}

TEST(HubAuthorizer, CommonNameOfAnotherNodeIsForbidden) {
    auto a = authorize_hub_upgrade(request("edge1", "system:node:edge2"), false);
    expect_refused(a, "cn_mismatch", errc::forbidden);
    EXPECT_NE(a.error.detail.find("system:node:edge2"), std::string::npos) << a.error.detail;
    // A CN that merely starts like the right one is no better.
    expect_refused(authorize_hub_upgrade(request("edge1", "system:node:edge10"), false),
                   "cn_mismatch", errc::forbidden);
    expect_refused(authorize_hub_upgrade(request("edge1", "edge1"), false), "cn_mismatch",
                   errc::forbidden);
}

TEST(HubAuthorizer, NodeCertificateWithoutNodesOrganizationIsForbidden) {
    expect_refused(
        authorize_hub_upgrade(request("edge1", "system:node:edge1", {"kubeEdge"}), false),
        "organization_mismatch", errc::forbidden);
}

TEST(HubAuthorizer, NoClientCertificateIsUnauthorized) {
    expect_refused(authorize_hub_upgrade(request("edge1", ""), false), "no_certificate",
                   errc::unauthorized);
}

TEST(HubAuthorizer, LegacyCertificateOnlyWithTheSwitch) {
    auto r = request("edge1", "kubeedge.io", {"kubeEdge"});
    expect_refused(authorize_hub_upgrade(r, false), "legacy_certificate", errc::forbidden);
    auto a = authorize_hub_upgrade(r, true);
    ASSERT_TRUE(a.ok()) << a.error.detail;
    EXPECT_EQ(a.node, "edge1");
    EXPECT_TRUE(a.legacy_certificate);
}

TEST(HubAuthorizer, ConnectionUseOtherThanMsgIsRefused) {
    auto r = request("edge1", "system:node:edge1");
    r.headers.erase(r.headers.begin() + 2);
    EXPECT_TRUE(authorize_hub_upgrade(r, false).ok()) << "an absent ConnectionUse means msg";
    r.headers.emplace_back("ConnectionUse", "stream");
    expect_refused(authorize_hub_upgrade(r, false), "connection_use", errc::invalid_argument);
}

TEST(HubAuthorizer, PathNamingAnotherNodeIsForbidden) {
    expect_refused(authorize_hub_upgrade(request("edge1", "system:node:edge1", {"system:nodes"},
                                                 "/project/edge2/events"),
                                         false),
                   "path_mismatch", errc::forbidden);
    // Other path shapes are ignored, as upstream ignores the path altogether.
    for (std::string target :
         {"/", "/events", "/a/b/c/events", "/project/edge1/events?x=1", "/whatever"}) {
        auto a = authorize_hub_upgrade(
            request("edge1", "system:node:edge1", {"system:nodes"}, target), false);
        EXPECT_TRUE(a.ok()) << target << ": " << a.error.detail;
    }
}

TEST(HubAuthorizer, CertificateIsCheckedEvenWhenHeadersAreFine) {
    // The identity is the certificate's: node_id alone (upstream's rule) never admits.
    auto r = request("edge1", "system:node:edge2", {"system:nodes"}, "/p/edge1/events");
    EXPECT_FALSE(authorize_hub_upgrade(r, true).ok());
}

}  // namespace
}  // namespace kedge::cloud
