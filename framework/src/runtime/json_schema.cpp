#include "runtime/json_schema.hpp"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace laminar {

std::string pointer_append(const std::string& pointer, const std::string& token) {
    std::string escaped;
    for (char c : token) {
        if (c == '~') escaped += "~0";
        else if (c == '/') escaped += "~1";
        else escaped += c;
    }
    return pointer + "/" + escaped;
}

namespace {

// valijson's context is {"<root>", "[models]", "[0]", ...}; make it a JSON pointer.
std::string to_pointer(const std::vector<std::string>& context) {
    std::string pointer;
    for (const auto& part : context) {
        if (part == "<root>") continue;
        std::string token = part;
        if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
            token = token.substr(1, token.size() - 2);
        pointer = pointer_append(pointer, token);
    }
    return pointer;
}

bool is_prefix(const std::string& shorter, const std::string& longer) {
    return longer.size() > shorter.size() && longer.compare(0, shorter.size(), shorter) == 0 &&
           longer[shorter.size()] == '/';
}

// Follows a JSON pointer through a schema's properties / items / $ref (local only).
const nlohmann::json* subschema(const nlohmann::json& root, const std::string& pointer) {
    const nlohmann::json* s = &root;
    auto deref = [&](const nlohmann::json* node) {
        for (int guard = 0; node && node->is_object() && node->contains("$ref") && guard < 16; ++guard) {
            std::string ref = (*node)["$ref"].get<std::string>();
            if (ref.rfind("#", 0) != 0) return node;
            node = &root.at(nlohmann::json::json_pointer(ref.substr(1)));
        }
        return node;
    };
    s = deref(s);
    std::size_t i = 1;
    while (s && i <= pointer.size() && !pointer.empty()) {
        std::size_t next = pointer.find('/', i);
        if (next == std::string::npos) next = pointer.size();
        const std::string token = pointer.substr(i, next - i);
        i = next + 1;
        if (!s->is_object()) return nullptr;
        if (s->contains("properties") && (*s)["properties"].contains(token))
            s = &(*s)["properties"][token];
        else if (s->contains("items") && (*s)["items"].is_object())
            s = &(*s)["items"];
        else if (s->contains("additionalProperties") && (*s)["additionalProperties"].is_object())
            s = &(*s)["additionalProperties"];
        else
            return nullptr;
        s = deref(s);
    }
    return s;
}

std::string list(const nlohmann::json& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
    return out;
}

}  // namespace

JsonSchema::JsonSchema(const nlohmann::json& schema, std::string origin)
    : json_(schema), origin_(std::move(origin)), schema_(std::make_unique<valijson::Schema>()) {
    try {
        valijson::SchemaParser parser;
        valijson::adapters::NlohmannJsonAdapter adapter(json_);
        parser.populateSchema(adapter, *schema_);
    } catch (const std::exception& e) {
        throw std::runtime_error(origin_ + ": not a usable JSON Schema: " + e.what());
    }
}

JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;

std::vector<SchemaFinding> JsonSchema::validate(const nlohmann::json& value) const {
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(value);
    if (validator.validate(*schema_, target, &results)) return {};

    std::vector<SchemaFinding> all;
    valijson::ValidationResults::Error error;
    while (results.popError(error)) {
        std::string pointer = to_pointer(error.context);
        // An unexpected key is reported on its object; point at the key itself.
        static const std::regex unknown_key("could not be validated using 'properties' or "
                                            "'additionalProperties' constraints: '(.*)'\\.?$");
        std::smatch m;
        if (std::regex_search(error.description, m, unknown_key)) {
            pointer = pointer_append(pointer, m[1].str());
            all.push_back({pointer, true, "unknown field (allowed here: " + [&] {
                               const nlohmann::json* s = subschema(json_, to_pointer(error.context));
                               std::vector<std::string> keys;
                               if (s && s->contains("properties"))
                                   for (auto it = (*s)["properties"].begin(); it != (*s)["properties"].end(); ++it)
                                       keys.push_back(it.key());
                               return list(nlohmann::json(keys));
                           }() + ")"});
            continue;
        }
        all.push_back({pointer, false, explain(pointer, error.description, value)});
    }
    // Keep only the deepest findings and drop valijson's "failed to validate ... child" echoes.
    std::vector<SchemaFinding> deepest;
    for (const auto& f : all) {
        const bool has_deeper = std::any_of(all.begin(), all.end(), [&](const SchemaFinding& g) {
            return is_prefix(f.pointer, g.pointer);
        });
        const bool echo = f.message.find("Failed to validate against schema associated with") != std::string::npos ||
                          f.message.find("Failed to validate item #") != std::string::npos ||
                          f.message.find("Failed to validate against child schema") != std::string::npos;
        const bool repeated = std::any_of(deepest.begin(), deepest.end(), [&](const SchemaFinding& g) {
            return g.pointer == f.pointer && g.message == f.message;
        });
        if (!has_deeper && !echo && !repeated) deepest.push_back(f);
    }
    if (deepest.empty() && !all.empty()) deepest.push_back(all.front());
    return deepest;
}

std::string JsonSchema::explain(const std::string& pointer, const std::string& valijson_says,
                                const nlohmann::json& value) const {
    const nlohmann::json* s = subschema(json_, pointer);
    std::string found;
    try {
        const auto& v = value.at(nlohmann::json::json_pointer(pointer));
        found = " (found " + (v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump()) + ")";
        if (found.size() > 80) found = found.substr(0, 76) + "...)";
    } catch (const std::exception&) {
    }
    if (s && s->is_object()) {
        if (s->contains("enum") && valijson_says.find("enum") != std::string::npos)
            return "expected one of: " + list((*s)["enum"]) + found;
        if (s->contains("type") && valijson_says.find("'type' constraint") != std::string::npos) {
            const auto& type = (*s)["type"];
            std::string expected = type.is_array() ? list(type) : type.get<std::string>();
            if (s->contains("description")) expected += " (" + (*s)["description"].get<std::string>() + ")";
            return "expected " + expected + found;
        }
        // Bounds in plain words ("expected at most 1000000", not valijson's "1000000.000000").
        const std::string about = s->contains("description") && (*s)["description"].is_string()
                                      ? " (" + (*s)["description"].get<std::string>() + ")" : "";
        if (s->contains("maximum") && valijson_says.find("less than or equal to") != std::string::npos)
            return "expected at most " + (*s)["maximum"].dump() + about + found;
        if (s->contains("minimum") && valijson_says.find("greater than or equal to") != std::string::npos)
            return "expected at least " + (*s)["minimum"].dump() + about + found;
        if (s->contains("minLength") && valijson_says.find("no fewer than") != std::string::npos)
            return ((*s)["minLength"] == 1 ? std::string("expected a non-empty string")
                                           : "expected at least " + (*s)["minLength"].dump() + " characters") + about + found;
        if (s->contains("description") && (*s)["description"].is_string())
            return valijson_says + found + "; expected " + (*s)["description"].get<std::string>();
    }
    return valijson_says + found;
}

}  // namespace laminar
