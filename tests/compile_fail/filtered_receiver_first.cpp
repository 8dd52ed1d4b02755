// A filtered signal takes the filter first, as a signal takes the sender first.
#include <beacon/filtered_signal.hpp>
#include <beacon/registry.hpp>

int main() {
    beacon::registry reg;
    beacon::filtered_signal on_changed(reg.core().signal("resource_changed"));
    on_changed.connect([](const beacon::event&) {}, beacon::with_action(beacon::action::create));
}
