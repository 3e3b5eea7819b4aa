// Every kind of tokenizer file laminar reads, loaded and used. The input's first byte picks the
// kind; the rest is the file(s), then "\n@@text@@\n" and a text to encode:
//   0: tokenizer.json   1: vocab.json "\n@@merges@@\n" merges.txt   2: vocab.txt
#include <filesystem>
#include <stdexcept>

#include "fuzz_input.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    namespace fs = std::filesystem;
    const auto [files, text] = laminar::fuzz::split(std::string(reinterpret_cast<const char*>(data) + 1, size - 1), "\n@@text@@\n");
    const fs::path dir = laminar::fuzz::scratch() / "tokenizer";
    fs::remove_all(dir);
    fs::create_directories(dir);
    switch (data[0] % 3) {
        case 0: laminar::fuzz::write("tokenizer/tokenizer.json", files); break;
        case 1: {
            const auto [vocab, merges] = laminar::fuzz::split(files, "\n@@merges@@\n");
            laminar::fuzz::write("tokenizer/vocab.json", vocab);
            laminar::fuzz::write("tokenizer/merges.txt", merges);
            break;
        }
        default: laminar::fuzz::write("tokenizer/vocab.txt", files);
    }
    try {
        const auto tokenizer = laminar::models::Tokenizer::load(dir);
        for (const std::string& s : {text, std::string("The next word is galaxy"), std::string(" \t\n  ")}) {
            laminar::Encoding e;
            try {
                e = tokenizer->encode(s);
            } catch (const std::invalid_argument&) {  // text that is not UTF-8: refused, by design
                continue;
            }
            if (e.content_begin < 0 || e.content_begin > e.content_end || e.content_end > static_cast<int32_t>(e.ids.size()))
                __builtin_trap();  // an encoding must describe its own ids
            for (int32_t id : e.ids) (void)tokenizer->token_text(id);
        }
    } catch (const std::runtime_error&) {  // refused, with a message: fine
    }
    return 0;
}
