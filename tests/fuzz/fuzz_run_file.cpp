// The run-file reader as `laminar inspect` and `report` use it: any bytes as RUN.h5, opened
// (the seal checked first), every object walked, every attribute and dataset read.
#include <stdexcept>

#include "runtime/errors.hpp"
#include "fuzz_input.hpp"
#include "store/h5.hpp"
#include "store/run_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto file = laminar::fuzz::write("run.h5", std::string(reinterpret_cast<const char*>(data), size));
    try {
        laminar::h5::Handle f = laminar::open_run_file(file);
        (void)laminar::h5::attributes_as_text(f, ".");
        laminar::h5::walk(f, "/", [&](const std::string& path, bool is_group) {
            (void)laminar::h5::attributes_as_text(f, path);
            if (!is_group) (void)laminar::h5::shape(f, path);
        });
        laminar::RunFileSource source(f);
        for (const auto& model : source.models())
            for (const auto& hook : source.hooks(model)) (void)source.read(model, hook);
    } catch (const std::exception&) {  // refused or unreadable, with a message: fine
    }
    return 0;
}
