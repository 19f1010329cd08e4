// Store and the predefined index functions (declared in informer.hpp).
#include "kube/client/informer.hpp"
#include "kube/object.hpp"

namespace kedge::kube::client {

namespace indexers {

IndexFunc by_namespace() {
    return [](const boost::json::object& obj) {
        std::vector<std::string> out;
        auto ns = kube::namespace_of(obj);
        if (!ns.empty()) out.emplace_back(ns);
        return out;
    };
}

IndexFunc by_node_name() {
    return [](const boost::json::object& obj) {
        std::vector<std::string> out;
        auto node = kube::get_path_string(obj, "spec.nodeName");
        if (node && !node->empty()) out.push_back(std::move(*node));
        return out;
    };
}

IndexFunc by_controller_uid() {
    return [](const boost::json::object& obj) {
        std::vector<std::string> out;
        if (auto c = kube::controller_of(obj); c && !c->uid.empty()) out.push_back(c->uid);
        return out;
    };
}

IndexFunc by_owner_uid() {
    return [](const boost::json::object& obj) {
        std::vector<std::string> out;
        for (auto& ref : kube::owner_references(obj))
            if (!ref.uid.empty()) out.push_back(std::move(ref.uid));
        return out;
    };
}

}  // namespace indexers

Store::Store() { add_index(std::string(indexers::kNamespace), indexers::by_namespace()); }

void Store::add_index(std::string name, IndexFunc f) {
    Index idx;
    idx.func = std::move(f);
    // Objects already stored are indexed too, so a late add_index is not silently empty.
    for (const auto& [key, obj] : objects_)
        for (auto& v : idx.func(*obj)) idx.keys_by_value[v].insert(key);
    indexes_[std::move(name)] = std::move(idx);
}

ObjectPtr Store::get(std::string_view key) const {
    auto it = objects_.find(key);
    return it == objects_.end() ? nullptr : it->second;
}

ObjectPtr Store::get(std::string_view ns, std::string_view name) const {
    if (ns.empty()) return get(name);
    std::string key;
    key.reserve(ns.size() + 1 + name.size());
    key.append(ns).append("/").append(name);
    return get(key);
}

std::vector<ObjectPtr> Store::list() const {
    std::vector<ObjectPtr> out;
    out.reserve(objects_.size());
    for (const auto& [k, v] : objects_) out.push_back(v);
    return out;
}

std::vector<ObjectPtr> Store::by_index(std::string_view index, std::string_view value) const {
    std::vector<ObjectPtr> out;
    auto idx = indexes_.find(index);
    if (idx == indexes_.end()) return out;
    auto keys = idx->second.keys_by_value.find(value);
    if (keys == idx->second.keys_by_value.end()) return out;
    out.reserve(keys->second.size());
    for (const auto& key : keys->second)
        if (auto it = objects_.find(key); it != objects_.end()) out.push_back(it->second);
    return out;
}

std::size_t Store::size() const { return objects_.size(); }

ObjectPtr Store::put(ObjectPtr obj) {
    if (!obj) return nullptr;
    std::string key = kube::cache_key(*obj);
    auto it = objects_.find(key);
    ObjectPtr prev;
    if (it != objects_.end()) {
        prev = it->second;
        index(key, *prev, false);
        it->second = obj;
    } else {
        objects_.emplace(key, obj);
    }
    index(key, *obj, true);
    return prev;
}

ObjectPtr Store::erase(std::string_view key) {
    auto it = objects_.find(key);
    if (it == objects_.end()) return nullptr;
    ObjectPtr prev = std::move(it->second);
    objects_.erase(it);
    index(std::string(key), *prev, false);
    return prev;
}

void Store::index(const std::string& key, const boost::json::object& obj, bool add) {
    for (auto& [name, idx] : indexes_) {
        for (const auto& value : idx.func(obj)) {
            if (add) {
                idx.keys_by_value[value].insert(key);
                continue;
            }
            auto it = idx.keys_by_value.find(value);
            if (it == idx.keys_by_value.end()) continue;
            it->second.erase(key);
            if (it->second.empty()) idx.keys_by_value.erase(it);
        }
    }
}

}  // namespace kedge::kube::client
