#pragma once
// The interface of a bus module (upstream beehive's Module): a named member of a group that the
// Context starts once and stops at shutdown.

#include <string>

namespace kedge::bus {

class Context;

// One unit of the process (edgehub, metamanager, edged, ...). start() must not block: it
// spawns the module's coroutines (typically a receive loop on ctx.receive(name())) and returns.
// stop() is called once at shutdown, after the module's queue is closed.
class Module {
  public:
    virtual ~Module() = default;
    virtual std::string name() const = 0;
    virtual std::string group() const = 0;
    virtual void start(Context& ctx) = 0;
    virtual void stop() {}
};

}  // namespace kedge::bus
