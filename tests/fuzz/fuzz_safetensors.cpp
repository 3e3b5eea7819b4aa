// The safetensors header parser and tensor reader: any bytes as model.safetensors.
#include <stdexcept>

#include "fuzz_input.hpp"
#include "safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto file = laminar::fuzz::write("model.safetensors", std::string(reinterpret_cast<const char*>(data), size));
    try {
        laminar::models::SafetensorsFile st(file);
        for (const auto& [name, entry] : st.entries()) {
            try {
                (void)st.tensor(name).sum().item<float>();  // every byte of every tensor read
            } catch (const std::runtime_error&) {  // a dtype laminar does not read
            }
        }
    } catch (const std::runtime_error&) {  // refused, with a message: fine
    }
    return 0;
}
