#pragma once
// Stand-in bus modules for tests of one real module on a real bus::Context (header-only; the
// test links kedge::bus):
// - QueueOnlyModule: registered so sends to it succeed; the test drains its queue itself
//   (ctx.try_receive / ctx.receive), or ignores it.
// - RecordingModule: receives on its own, records every message, and answers sync requests with
//   `answer` (e.g. a fake "websocket" hub that acks what goes to the cloud).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/context.hpp"
#include "bus/module.hpp"

namespace kedge::test {

class QueueOnlyModule : public bus::Module {
public:
    QueueOnlyModule(std::string name, std::string group)
        : name_(std::move(name)), group_(std::move(group)) {}
    std::string name() const override { return name_; }
    std::string group() const override { return group_; }
    void start(bus::Context&) override {}

private:
    std::string name_, group_;
};

class RecordingModule : public bus::Module {
public:
    RecordingModule(std::string name, std::string group)
        : name_(std::move(name)), group_(std::move(group)) {}
    // Set before the Context starts the module; both run on the Context's executor.
    std::function<std::optional<bus::Message>(const bus::Message&)> answer;
    std::function<void(const bus::Message&)> on_message;

    std::string name() const override { return name_; }
    std::string group() const override { return group_; }
    void start(bus::Context& ctx) override {
        ctx_ = &ctx;
        boost::asio::co_spawn(ctx.get_executor(), loop(), boost::asio::detached);
    }
    std::vector<bus::Message> messages() {
        std::lock_guard lock(mu_);
        return seen_;
    }
    // Messages whose resource is `resource` (and operation `op` when given).
    std::vector<bus::Message> with(std::string_view resource, std::string_view op = {}) {
        std::vector<bus::Message> out;
        for (auto& m : messages())
            if (m.resource() == resource && (op.empty() || m.operation() == op)) out.push_back(m);
        return out;
    }
    void clear() {
        std::lock_guard lock(mu_);
        seen_.clear();
    }

private:
    boost::asio::awaitable<void> loop() {
        for (;;) {
            auto m = co_await ctx_->receive(name_);
            if (!m) co_return;
            if (on_message) on_message(*m);
            {
                std::lock_guard lock(mu_);
                seen_.push_back(*m);
            }
            if (m->header.sync && answer) {
                if (auto r = answer(*m)) ctx_->send_response(std::move(*r));
            }
        }
    }
    std::string name_, group_;
    bus::Context* ctx_ = nullptr;
    std::mutex mu_;
    std::vector<bus::Message> seen_;
};

}  // namespace kedge::test
