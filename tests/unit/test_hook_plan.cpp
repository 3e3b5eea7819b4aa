// The hook plan of a family's catalog (plugins/models/common/hook_plan.hpp): the catalog is the
// only list of a family's points, so the early exit follows its order and a name it does not
// declare is refused, never silently captured as nothing.
#include <doctest/doctest.h>

#include <stdexcept>

#include "hook_plan.hpp"
#include "laminar/types.hpp"

using laminar::models::HookCatalog;
using laminar::models::HookPlan;

namespace {

const HookCatalog& catalog() {
    static const HookCatalog c{"toy",
                               {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_pattern", "hook_resid_mid", "hook_resid_post"},
                               {"hook_embed"},
                               {"logits"}};
    return c;
}

}  // namespace

TEST_CASE("a plan stops after the last point it wants, in the catalog's order") {
    const HookPlan plan = HookPlan::parse({"blocks.0.hook_resid_post", "blocks.2.attn.hook_k"}, catalog(), 4);
    CHECK(plan.last_layer() == 2);
    CHECK(plan.wants(2, "attn.hook_k"));
    CHECK_FALSE(plan.wants(2, "attn.hook_q"));
    CHECK_FALSE(plan.done_after(0, "hook_resid_post"));  // block 2 is still wanted
    CHECK_FALSE(plan.done_after(2, "attn.hook_q"));      // k comes after q
    CHECK(plan.done_after(2, "attn.hook_k"));
    CHECK(plan.done_after(2, "hook_resid_mid"));
}

TEST_CASE("a point after the blocks needs every block to its end") {
    const HookPlan plan = HookPlan::parse({"logits", "hook_embed"}, catalog(), 3);
    CHECK(plan.last_layer() == 2);
    CHECK(plan.wants("logits"));
    CHECK(plan.wants("hook_embed"));
    CHECK_FALSE(plan.done_after(2, "hook_resid_mid"));
}

TEST_CASE("a name the catalog does not declare is a bug of the forward pass, not an empty capture") {
    const HookPlan plan = HookPlan::parse({"blocks.1.attn.hook_q"}, catalog(), 2);
    CHECK_THROWS_AS((void)plan.wants(1, "attn.hook_qq"), std::logic_error);
    CHECK_THROWS_AS((void)plan.wants("hook_pos_embed"), std::logic_error);
    CHECK_THROWS_AS((void)plan.done_after(1, "hook_mlp_out"), std::logic_error);
}

TEST_CASE("a request for an unknown point or layer names it and what exists") {
    CHECK_THROWS_WITH_AS(HookPlan::parse({"blocks.0.attn.hook_rot_q"}, catalog(), 2),
                         doctest::Contains("toy has no hook point 'blocks.0.attn.hook_rot_q'"), laminar::SpecError);
    CHECK_THROWS_WITH_AS(HookPlan::parse({"blocks.2.attn.hook_q"}, catalog(), 2), doctest::Contains("the model has 2 layers (0-1)"),
                         laminar::SpecError);
}
