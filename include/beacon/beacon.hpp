#pragma once
/// \file
/// The core of beacon: registries, namespaces, signals, connections, events and the version.

#include <beacon/connection.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/registry.hpp>
#include <beacon/signal.hpp>
#include <beacon/version.hpp>
