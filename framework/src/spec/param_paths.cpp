#include "spec/param_paths.hpp"

#include <regex>

#include "spec/yaml_document.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

bool is_path_node(const nlohmann::json& node, const std::string& value) {
    if (!node.is_object() || node.value("format", "") != "path") return false;
    return !node.contains("pattern") || std::regex_search(value, std::regex(node["pattern"].get<std::string>()));
}

void walk(nlohmann::json& value, const nlohmann::json& schema, const fs::path& base, const std::string& pointer,
          std::vector<ParamPath>& out) {
    if (!schema.is_object()) return;
    if (value.is_string()) {
        bool path = is_path_node(schema, value.get<std::string>());
        for (const char* any : {"oneOf", "anyOf"})
            if (schema.contains(any))
                for (const auto& branch : schema[any]) path = path || is_path_node(branch, value.get<std::string>());
        if (path) {
            const fs::path p(value.get<std::string>());
            const fs::path resolved = (p.is_absolute() ? p : base / p).lexically_normal();
            value = resolved.string();
            out.push_back({pointer, resolved});
        }
        return;
    }
    if (value.is_object()) {
        for (auto& [key, child] : value.items()) {
            const nlohmann::json* sub = nullptr;
            if (schema.contains("properties") && schema["properties"].contains(key)) sub = &schema["properties"][key];
            else if (schema.contains("additionalProperties")) sub = &schema["additionalProperties"];
            if (sub) walk(child, *sub, base, pointer_append(pointer, key), out);
        }
    } else if (value.is_array() && schema.contains("items")) {
        for (std::size_t i = 0; i < value.size(); ++i) walk(value[i], schema["items"], base, pointer + "/" + std::to_string(i), out);
    }
}

}  // namespace

std::vector<ParamPath> resolve_param_paths(nlohmann::json& params, const nlohmann::json& schema, const fs::path& base) {
    std::vector<ParamPath> out;
    walk(params, schema, base, "", out);
    return out;
}

}  // namespace laminar
