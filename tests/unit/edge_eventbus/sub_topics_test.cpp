#include <gtest/gtest.h>

#include <sys/stat.h>

#include "edge/eventbus/sub_topics.hpp"
#include "edge/metastore/meta_store.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

TEST(SubTopicStore, AddListRemoveAndReopen) {
    test::TempDir dir;
    auto file = dir.file("new/dir/edgecore.db");
    {
        auto store = SubTopicStore::open(file);
        ASSERT_TRUE(store) << store.error().message();
        EXPECT_TRUE(store->list().value().empty());
        ASSERT_TRUE(store->add("b/#"));
        ASSERT_TRUE(store->add("a/+/c"));
        ASSERT_TRUE(store->add("b/#"));  // idempotent
        EXPECT_EQ(store->list().value(), (std::vector<std::string>{"a/+/c", "b/#"}));
    }
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto again = SubTopicStore::open(file);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->list().value(), (std::vector<std::string>{"a/+/c", "b/#"}));
    ASSERT_TRUE(again->remove("a/+/c"));
    ASSERT_TRUE(again->remove("not/there"));
    EXPECT_EQ(again->list().value(), std::vector<std::string>{"b/#"});
}

TEST(SubTopicStore, SharesTheEdgecoreDatabaseWithTheMetaStore) {
    test::TempDir dir;
    auto file = dir.file("edgecore.db");
    auto meta = MetaStore::open(file);
    ASSERT_TRUE(meta) << meta.error().message();
    auto store = SubTopicStore::open(file);
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE(store->add("x/y"));
    // The meta store's tables are untouched and both connections keep working.
    auto got = (*meta)->get(MetaKey{"default", "pod", "none"});
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_FALSE(got->has_value());
    EXPECT_EQ(store->list().value(), std::vector<std::string>{"x/y"});
}

TEST(SubTopicStore, AnUnusableFileIsAnErrorNamingIt) {
    test::TempDir dir;
    auto file = dir.file("not-a-db");
    test::write_file(file, std::string(4096, 'x'));
    auto store = SubTopicStore::open(file);
    ASSERT_FALSE(store);
    EXPECT_TRUE(store.error().is(errc::io_error));
    EXPECT_NE(store.error().message().find("not-a-db"), std::string::npos)
        << store.error().message();
}

}  // namespace
}  // namespace kedge::edge
