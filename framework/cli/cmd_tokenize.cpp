#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "laminar/text_file.hpp"
#include "runtime/plugin_registry.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

namespace {

/// Token text shown with escapes for control characters and partial UTF-8.
std::string printable(const std::string& bytes) {
    return nlohmann::json(bytes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int tokenize(const Args& args) {
    po::options_description options("laminar tokenize");
    std::string model, backend, jsonl;
    std::vector<std::string> texts;
    options.add_options()
        ("model", po::value<std::string>(&model)->required(), "DIR: the model folder whose tokenizer to use")
        ("backend", po::value<std::string>(&backend), "model plugin (default: config.json's model_type)")
        ("json", "print exactly one JSON array of token ids per text, one per line")
        ("jsonl", po::value<std::string>(&jsonl), "FILE: read the texts from FILE, one JSON string per line")
        ("text", po::value<std::vector<std::string>>(&texts), "the text(s) to tokenize");
    po::positional_options_description positional;
    positional.add("text", -1);
    po::variables_map vm;
    if (parse(args, "laminar tokenize --model DIR [--json] [--jsonl FILE] TEXT...", options, positional, vm))
        return kExitOk;
    if (vm.count("jsonl")) {  // given, even as "": say what is wrong with that path, not that none was given
        if (jsonl.empty()) throw InputError("--jsonl expects a file path (got an empty string)");
        std::istringstream in;
        try {
            in.str(read_text_file(jsonl));  // a regular file: /dev/stdin or a FIFO would wait forever
        } catch (const std::runtime_error& e) {
            throw InputError(e.what());
        }
        std::string line;
        for (std::size_t n = 1; std::getline(in, line); ++n) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_string()) throw InputError(jsonl + ":" + std::to_string(n) + ": expected a JSON string");
            texts.push_back(j.get<std::string>());
        }
    }
    if (texts.empty())
        throw InputError(vm.count("jsonl") ? jsonl + ": holds no line of text (expected one JSON string per line)"
                                           : "tokenize: give at least one TEXT (or --jsonl FILE)");

    const PluginRegistry registry;
    auto backend_plugin = registry.create_model(registry.model_backend_for(model, backend));
    backend_plugin->load_tokenizer(model);
    const bool json = vm.count("json") > 0;
    for (const auto& text : texts) {
        Encoding e;
        try {
            e = backend_plugin->encode(text);
        } catch (const std::invalid_argument& err) {
            throw InputError("tokenize: " + printable(text) + ": " + err.what());
        }
        if (json) {
            std::cout << nlohmann::json(e.ids).dump() << "\n";
            continue;
        }
        std::cout << printable(text) << "  (" << e.ids.size() << " tokens)\n";
        for (int32_t i = 0; i < static_cast<int32_t>(e.ids.size()); ++i) {
            const bool added = i < e.content_begin || i >= e.content_end;  // BOS, [CLS], [SEP], ...
            std::cout << "  " << std::setw(6) << e.ids[i] << "  " << printable(backend_plugin->token_text(e.ids[i]))
                      << (added ? "  (added by the tokenizer)" : "") << "\n";
        }
    }
    return kExitOk;
}

}  // namespace laminar::cli
