// Host error types and the exit codes they map to.
#pragma once

#include <stdexcept>
#include <string>

#include "laminar/types.hpp"

namespace laminar {

/// Bad experiment file, bad arguments or bad input data: exit code 2. The message is
/// complete ("file:line:col: field: expected ..."), ready to print.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum ExitCode { kExitOk = 0, kExitRuntime = 1, kExitUsage = 2 };

}  // namespace laminar
