// Links the installed greeter library, which wraps beacon, and checks it greets a user.
#include <greeter.hpp>

int main() {
    beacon::registry reg;
    int greeted = 0;
    const auto c = greet_users(reg, greeted);
    reg.core().signal("user_created").send("alice");
    return greeted == 1 ? 0 : 1;
}
