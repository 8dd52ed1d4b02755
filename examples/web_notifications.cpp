// Flask-Notifications' simple app, in C++: a user hub and a system hub, each streamed to browsers
// as Server-Sent Events, the /notify_user and /notify_system routes, and a page showing
// notifications as they arrive (EventSource).
//
//   web_notifications [--port N]      then open http://127.0.0.1:N/?user=tom
//   curl 'http://127.0.0.1:N/notify_user'                (to tom and tim, from john)
//   curl 'http://127.0.0.1:N/notify_user?to=ann&title=Hi' (to ann only)
//   curl 'http://127.0.0.1:N/notify_system'              (to everyone)
//
// The user of a stream is the `user` query parameter: a stand-in for the host's session cookie.
#include <beacon/hub.hpp>
#include <beacon/web.hpp>

#include <chrono>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace web = beacon::web;

namespace {

const char* const page = R"html(<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>beacon notifications</title>
  <style>
    body { font-family: sans-serif; margin: 2em; max-width: 46em; }
    h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
    #status { color: #666; }
    li { margin: .4em 0; padding: .4em .6em; border-left: 4px solid #4a7; background: #f4f8f5; list-style: none; }
    #system-list li { border-color: #47a; background: #f3f6fa; }
    .meta { color: #777; font-size: .85em; }
  </style>
</head>
<body>
  <h1>Notifications for <span id="user"></span></h1>
  <p id="status">connecting...</p>
  <h2>User notifications</h2>
  <ul id="user-list"></ul>
  <h2>System notifications</h2>
  <ul id="system-list"></ul>
  <script>
    const user = new URLSearchParams(location.search).get('user') || 'tom';
    document.getElementById('user').textContent = user;
    let open = 0;
    function show(list, message) {
      const n = JSON.parse(message.data);
      const li = document.createElement('li');
      li.className = 'notification';
      li.dataset.id = n.event_id;
      li.innerHTML = '<b></b> <span></span><div class="meta"></div>';
      li.querySelector('b').textContent = n.title;
      li.querySelector('span').textContent = n.body;
      li.querySelector('.meta').textContent = 'from ' + n.sender + ' to ' + (n.recipients.join(', ') || 'everyone');
      document.getElementById(list).appendChild(li);
    }
    function connect(url, type, list) {
      const source = new EventSource(url);
      source.onopen = () => { if (++open === 2) document.getElementById('status').textContent = 'connected'; };
      source.addEventListener(type, m => show(list, m));
    }
    connect('/user_notifications?user=' + encodeURIComponent(user), 'user', 'user-list');
    connect('/system_notifications', 'system', 'system-list');
  </script>
</body>
</html>
)html";

// The value of `name` in the request's query string, decoded ("?title=Hello%20world" or "Hello+world").
std::optional<std::string> query(const web::request& req, std::string_view name) { return web::query_parameter(req, name); }

web::response sent(const beacon::hubs& notifications, const beacon::event& e) {
    const auto hubs = notifications.send(e);
    return web::text_response(web::http::status::ok, "Sent event to " + std::to_string(hubs) + " hub(s)\n");
}

}  // namespace

int main(int argc, char** argv) {
    web::server_options options;
    options.port = 8080;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string_view(argv[i]) == "--port") options.port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    }
    web::server server(options);

    beacon::hubs notifications;
    auto user_hub = notifications.create_hub("UserHub");
    auto system_hub = notifications.create_hub("EventHub");
    user_hub->filter_by(beacon::with_sender("john") | web::with_recipients({"tom", "tim"}));
    system_hub->filter_by(web::with_event_type("system") & !beacon::before(std::chrono::system_clock::now()));

    // Each hub's events go to its SSE endpoint: user notifications to their recipients only.
    web::sse_options user_stream;
    user_stream.authorize = [](const web::request& req) { return query(req, "user"); };
    user_stream.for_user = web::recipient_audience;
    user_stream.encode = web::notification_json;
    user_hub->register_consumer(server.add_stream("/user_notifications", user_stream));
    web::sse_options system_stream;
    system_stream.encode = web::notification_json;
    system_hub->register_consumer(server.add_stream("/system_notifications", system_stream));

    server.route("/", [](const web::request&) {
        auto res = web::text_response(web::http::status::ok, page);
        res.set(web::http::field::content_type, "text/html; charset=utf-8");
        return res;
    });
    server.route("/notify_user", [&](const web::request& req) {
        web::notification n;
        n.event_type = "user";
        n.title = query(req, "title").value_or("This is a user test");
        n.body = "This is the body of the test";
        n.sender = "john";
        const auto to = query(req, "to");
        n.recipients = to ? std::vector<std::string>{*to} : std::vector<std::string>{"tom", "tim"};
        return sent(notifications, n.to_event());
    });
    server.route("/notify_system", [&](const web::request& req) {
        web::notification n;
        n.event_type = "system";
        n.title = query(req, "title").value_or("This is a system test");
        n.body = "This is the body of the test";
        n.sender = "system";
        return sent(notifications, n.to_event());
    });

    // Runs until SIGINT or SIGTERM (blocked before the server's threads start, which inherit it).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    server.start();
    std::cout << "listening on http://127.0.0.1:" << server.port() << "/" << std::endl;
    int received = 0;
    sigwait(&stop_signals, &received);
    server.stop();
    std::cout << "stopped" << std::endl;
}
