// A program outside beacon's tree, linking beacon::postgres (hence libpq) as a package or a
// subproject, with no server: an inbox over a connection that failed (nothing listens on port 1)
// is refused with a postgres_error naming the server and not the password.
#include <beacon/postgres.hpp>

#include <libpq-fe.h>

#include <cstdio>
#include <string>

int main() {
    PGconn* conn = PQconnectdb("host=127.0.0.1 port=1 dbname=shop user=worker password=hunter2-secret connect_timeout=2");
    int result = 1;
    try {
        beacon::postgres::inbox inbox(conn);
        std::fprintf(stderr, "no error over a failed connection\n");
    } catch (const beacon::postgres::postgres_error& e) {
        const std::string message = e.what();
        std::fprintf(stderr, "%s\n", e.what());
        if (message.find("127.0.0.1:1/shop") != std::string::npos && message.find("hunter2") == std::string::npos) {
            result = 0;
        }
    }
    PQfinish(conn);
    return result;
}
