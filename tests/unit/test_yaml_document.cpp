#include <doctest/doctest.h>

#include <cmath>

#include "runtime/errors.hpp"
#include "spec/yaml_document.hpp"

using laminar::YamlDocument;

TEST_CASE("plain scalars are typed by the YAML 1.2 core schema, quoted ones stay strings") {
    const auto doc = YamlDocument::parse(
        "a: 12\nb: -3.5e2\nc: true\nd: ~\ne: '12'\nf: \"true\"\ng: 1.2.3\nh: .inf\ni: hello\nj: 0x1F\n", "t.yaml");
    const auto& j = doc.json();
    CHECK(j["a"].is_number_integer());
    CHECK(j["a"].get<int>() == 12);
    CHECK(j["b"].get<double>() == doctest::Approx(-350.0));
    CHECK(j["c"].get<bool>() == true);
    CHECK(j["d"].is_null());
    CHECK(j["e"] == "12");
    CHECK(j["f"] == "true");
    CHECK(j["g"] == "1.2.3");
    CHECK(std::isinf(j["h"].get<double>()));
    CHECK(j["i"] == "hello");
    CHECK(j["j"].get<int>() == 31);
}

TEST_CASE("every value remembers its line and column, and errors name them") {
    const auto doc = YamlDocument::parse("top:\n  list:\n    - one\n    - two\n  key: value\n", "spec.yaml");
    CHECK(doc.mark("/top/list/1").line == 4);
    CHECK(doc.mark("/top/list/1").column == 7);
    CHECK(doc.mark("/top/key").line == 5);
    CHECK(doc.mark("/top/missing").line == 2);  // falls back to the enclosing value (the mapping under top)
    CHECK(doc.where("/top/list/1") == "spec.yaml:4:7: top.list[1]");
}

TEST_CASE("mapping keys keep their file order") {
    const auto doc = YamlDocument::parse("cats:\n  zebra: 1\n  apple: 2\n  mango: 3\n", "t.yaml");
    CHECK(doc.keys_in_order("/cats") == std::vector<std::string>{"zebra", "apple", "mango"});
}

TEST_CASE("duplicate keys and broken YAML are errors naming file, line and column") {
    try {
        YamlDocument::parse("a: 1\nb: 2\na: 3\n", "dup.yaml");
        FAIL("expected an error");
    } catch (const laminar::InputError& e) {
        CHECK(std::string(e.what()) == "dup.yaml:3:1: a: duplicate key (first given at line 1)");
    }
    try {
        YamlDocument::parse("a: [1, 2\nb: 3\n", "broken.yaml");
        FAIL("expected an error");
    } catch (const laminar::InputError& e) {
        CHECK(std::string(e.what()).rfind("broken.yaml:", 0) == 0);
        CHECK(std::string(e.what()).find("not valid YAML") != std::string::npos);
    }
}

TEST_CASE("field paths read like the YAML") {
    CHECK(laminar::field_path("/models/0/backend") == "models[0].backend");
    CHECK(laminar::field_path("/stimuli/categories/a~1b/2") == "stimuli.categories.a/b[2]");
    CHECK(laminar::field_path("") == "(top level)");
}
