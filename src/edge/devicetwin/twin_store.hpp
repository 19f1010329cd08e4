#pragma once
// The twin's durable state in the edgecore SQLite file (PROTOCOL.md §7), on its own connection:
// upstream's tables device, device_attr and device_twin (so an upstream edgecore reads the file),
// plus kedge_twin_pending (the latest not-yet-acked report per device and kind). Also reads the
// Device/DeviceModel objects the meta manager stored in `meta`, so mappers can be registered after
// a restart without the cloud.
//
// Blocking (fsync); not thread-safe: the module calls it from its one-thread store pool.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "edge/devicetwin/twin_types.hpp"

namespace kedge::edge::devicetwin {

// One report waiting for the cloud's ack: kind "twin" (edge_updated) or "state" (state/update).
struct PendingReport {
    std::string device_id;
    std::string kind;
    std::string content;  // the message content (JSON text)

    bool operator==(const PendingReport&) const = default;
};

// A Device or DeviceModel object as the meta manager stored it.
struct StoredObject {
    std::string type;  // "device" | "devicemodel"
    std::string key;   // "<ns>/<type>/<name>"
    std::string json;
};

class TwinStore {
public:
    // Opens the database (WAL, busy timeout), creates the twin tables when missing. io_error
    // naming the file on failure.
    static Result<std::unique_ptr<TwinStore>> open(const std::filesystem::path& file);
    ~TwinStore();
    TwinStore(const TwinStore&) = delete;
    TwinStore& operator=(const TwinStore&) = delete;

    Result<std::vector<DeviceRecord>> load_devices();
    // Replaces the device row and all its attribute and twin rows (one transaction).
    Result<void> put_device(const DeviceRecord& d);
    // Removes the device, its attributes, twins and pending reports.
    Result<void> remove_device(std::string_view id);

    Result<void> put_pending(const PendingReport& p);
    // Removes the entry only while its content is still `content` (a newer report stays).
    Result<void> remove_pending(const PendingReport& p);
    Result<std::vector<PendingReport>> list_pending();

    // Device and DeviceModel objects from the meta manager's `meta` table (empty when the table
    // does not exist).
    Result<std::vector<StoredObject>> load_objects();

    struct Impl;

private:
    explicit TwinStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::edge::devicetwin
