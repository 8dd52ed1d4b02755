#pragma once
// Web push internals: which connections a server admits. It counts connections per client
// address, and keeps the connections still waiting for their first byte in arrival order so
// that a newcomer can take the place of the oldest of them (all, or from its own address).

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace beacon::web::detail {

template <class Session>
class admission {
public:
    // Where a connection stands in the waiting list (valid while `waiting`).
    struct ticket {
        std::string address;
        std::weak_ptr<Session> self;
        bool waiting = false;
        bool evicted = false;
        typename std::list<ticket*>::iterator at;
    };

    // Counts a connection from `address`.
    void open(const std::string& address) {
        std::lock_guard lock(mutex_);
        ++per_address_[address];
    }

    // Uncounts it (and takes it off the waiting list).
    void close(ticket& t) {
        std::lock_guard lock(mutex_);
        leave(t);
        const auto it = per_address_.find(t.address);
        if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
    }

    // Connections from `address` now.
    std::size_t from(const std::string& address) const {
        std::lock_guard lock(mutex_);
        const auto it = per_address_.find(address);
        return it == per_address_.end() ? 0 : it->second;
    }

    // Connections waiting for their first byte now.
    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return waiting_.size();
    }

    // Puts a connection at the end of the waiting list; false when it was evicted meanwhile.
    bool wait(ticket& t) {
        std::lock_guard lock(mutex_);
        if (t.evicted) return false;
        if (!t.waiting) t.at = waiting_.insert(waiting_.end(), &t);
        t.waiting = true;
        return true;
    }

    // Takes a connection off the waiting list (its first byte came); false when it was evicted.
    bool spoke(ticket& t) {
        std::lock_guard lock(mutex_);
        leave(t);
        return !t.evicted;
    }

    // The oldest waiting connection (from `address` when not empty), marked evicted and off the
    // list; nullptr when none waits. The caller closes it.
    std::shared_ptr<Session> evict(const std::string& address = {}) {
        std::lock_guard lock(mutex_);
        // A ticket on the list belongs to a live session or to one whose destructor waits for
        // the lock to take it off: reading it here is safe, and only a live one is returned.
        for (ticket* t : waiting_) {
            if (!address.empty() && t->address != address) continue;
            auto s = t->self.lock();
            if (!s) continue;
            leave(*t);
            t->evicted = true;
            return s;
        }
        return nullptr;
    }

private:
    void leave(ticket& t) {
        if (!t.waiting) return;
        waiting_.erase(t.at);
        t.waiting = false;
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::size_t> per_address_;
    std::list<ticket*> waiting_;
};

}  // namespace beacon::web::detail
