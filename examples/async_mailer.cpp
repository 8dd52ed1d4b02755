// A web host whose sign-up requests no longer wait for the welcome e-mail: the slow mailer runs
// on a worker thread behind a bounded queue (Kinto: "it's usually preferable to run the
// notifications asynchronously"). At shutdown the host drains the queue; a bounced mail goes to
// the error handler with its event; the counters tell what happened.
#include <beacon/async.hpp>
#include <beacon/beacon.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

/// A slow SMTP client: 20 ms per mail; a full mailbox bounces.
struct smtp_mailer {
    std::mutex* mutex;
    std::vector<std::string>* outbox;
    void operator()(const beacon::event& e) const {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto address = e.data["email"].get<std::string>();
        if (address.rfind("full@", 0) == 0) throw std::runtime_error("550 mailbox full: " + address);
        std::lock_guard lock(*mutex);
        outbox->push_back("Welcome, " + e.data["username"].get<std::string>() + " <" + address + ">");
    }
};

}  // namespace

int main() {
    beacon::registry reg;
    auto& user_created = reg.core().signal("user_created");

    std::mutex mutex;
    std::vector<std::string> outbox;
    std::vector<std::string> bounces;
    beacon::async_options options;
    options.name = "welcome mail";
    options.queue = 100;
    options.on_full = beacon::full_policy::drop_newest;  // never hold a request up for a mail
    options.on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(mutex);
        bounces.push_back(f.where + " for " + f.ev->data["username"].get<std::string>() + ": " + f.message());
    };
    beacon::async_receiver mailer(smtp_mailer{&mutex, &outbox}, options);
    auto connection = user_created.connect(mailer.receiver());

    // The request handler: store the user, send the signal, answer. The send only queues the event.
    auto sign_up = [&](const std::string& username, const std::string& email) {
        user_created.send(std::make_shared<beacon::event>(
            beacon::event("signup", {{"username", username}, {"email", email}})));
        std::cout << "POST /signup " << username << ": 201 Created\n";
    };
    sign_up("alice", "alice@example.org");
    sign_up("bob", "bob@example.org");
    sign_up("carol", "full@example.org");
    sign_up("dave", "dave@example.org");

    std::cout << "shutting down: draining the mail queue\n";
    if (!mailer.drain(std::chrono::seconds(30))) std::cout << "mails still queued at the deadline\n";
    for (const auto& mail : outbox) std::cout << "sent: " << mail << "\n";
    for (const auto& bounce : bounces) std::cout << "bounced: " << bounce << "\n";
    const auto s = mailer.stats();
    std::cout << "mailer: " << s.delivered << " delivered, " << s.failed << " failed, " << s.dropped
              << " dropped, queue high-water mark " << s.high_water << "\n";
}
