// JSON Schema validation (valijson) with findings addressed by JSON pointer, so that the
// caller can turn them into "file:line:col: field: expected ..." messages.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace valijson { class Schema; }

namespace laminar {

struct SchemaFinding {
    std::string pointer;  ///< where in the validated value, e.g. "/stimuli/position"
    bool about_key;       ///< the finding is about the key itself (an unknown field), not its value
    std::string message;  ///< what was expected, e.g. "expected one of: last, word_last"
};

/// Appends one reference token to a JSON pointer, escaping '~' and '/'.
std::string pointer_append(const std::string& pointer, const std::string& token);

class JsonSchema {
public:
    /// `origin` names the schema in messages (e.g. "schemas/experiment.schema.json").
    /// Throws std::runtime_error when the schema itself is not valid JSON Schema.
    JsonSchema(const nlohmann::json& schema, std::string origin);
    ~JsonSchema();
    JsonSchema(JsonSchema&&) noexcept;

    /// The most specific findings only (a failure inside a property is reported there, not
    /// once more for every enclosing object). Empty when `value` is valid.
    std::vector<SchemaFinding> validate(const nlohmann::json& value) const;

    /// The schema as given.
    const nlohmann::json& json() const { return json_; }

private:
    nlohmann::json json_;
    std::string origin_;
    std::unique_ptr<valijson::Schema> schema_;

    std::string explain(const std::string& pointer, const std::string& valijson_says,
                        const nlohmann::json& value) const;
};

}  // namespace laminar
