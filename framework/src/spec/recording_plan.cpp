#include "spec/recording_plan.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "laminar/space.hpp"

namespace laminar {

namespace {

/// "blocks.5.attn.hook_q.head3" -> "blocks.5.attn.hook_q": a nominal plan has one head only.
std::string without_head(const std::string& name) {
    static const std::regex head(R"(\.head\d+$)");
    return std::regex_replace(name, head, "");
}

bool records_space(const PlannedModel& p, const std::string& what) {
    for (const auto& r : p.records)
        if (picks(what, r.name, r.site) || (!p.exact && without_head(what) == without_head(r.name))) return true;
    return false;
}

/// "sites q, k, resid_post; sets such as blocks.0.attn.hook_q" for an error message.
std::string what_is_recorded(const RecordingPlan& plan, const std::string& model) {
    std::vector<std::string> sites;
    std::string example;
    for (const auto& [id, p] : plan) {
        if (!model.empty() && id != model) continue;
        for (const auto& r : p.records) {
            if (std::find(sites.begin(), sites.end(), r.site) == sites.end()) sites.push_back(r.site);
            if (example.empty()) example = r.name;
        }
    }
    if (sites.empty()) return "nothing is recorded";
    std::string out = "recorded: sites ";
    for (std::size_t i = 0; i < sites.size(); ++i) out += (i ? ", " : "") + sites[i];
    return out + "; sets such as " + example;
}

/// Where in the step's parameters a hook is named (a `hooks:` list), else the step itself.
std::string hook_pointer(const StepSpec& step, const std::string& hook) {
    if (step.params.contains("hooks") && step.params["hooks"].is_array())
        for (std::size_t i = 0; i < step.params["hooks"].size(); ++i)
            if (step.params["hooks"][i] == hook) return step.pointer + "/hooks/" + std::to_string(i);
    return step.pointer;
}

/// Edit distance (Levenshtein) between two names, for "did you mean".
std::size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

/// The rows the analyses will read, as the extract stage writes them (without tokens): each
/// prompt, or with contexts averaged and a word in several, each word once.
std::vector<Stimulus> analysed_rows(const StimuliSpec& spec) {
    const bool average = averages_contexts(spec);
    std::vector<Stimulus> rows;
    for (const auto& p : spec.prompts)
        if (!average || rows.empty() || rows.back().word != p.word)
            rows.push_back(Stimulus{"", p.word, p.category, {}, 0, 0, 0, average ? -1 : p.context});
    return rows;
}

}  // namespace

bool averages_contexts(const StimuliSpec& spec) {
    std::size_t words = 0;
    for (const auto& [category, list] : spec.categories) words += list.size();
    return spec.contexts == "mean" && spec.prompts.size() > words;
}

std::string context_mean_refusal(const Recording& record) {
    if (record.per_token)  // a word's contexts have different tokens: there is no mean of them token by token
        return "'" + record.name + "' keeps every token of each prompt, which cannot be averaged over a word's contexts: "
                                   "use stimuli.contexts: keep";
    if (!record.no_context_mean.empty())
        return "'" + record.name + "' cannot be averaged over a word's contexts (" + record.no_context_mean +
               "), and stimuli.contexts is 'mean' (the default) with words in several contexts: use stimuli.contexts: keep";
    return "";
}

std::string nearest_folder(const std::filesystem::path& missing) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path parent = missing, wanted;
    while (!parent.empty() && parent != parent.root_path() && !fs::is_directory(parent, ec)) {
        wanted = parent.filename();
        parent = parent.parent_path();
    }
    if (!fs::is_directory(parent, ec)) return "";
    std::vector<std::pair<std::size_t, std::string>> names;  // (distance, folder name)
    for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec)) names.emplace_back(distance(wanted.string(), it->path().filename().string()),
                                                     it->path().filename().string());
    std::sort(names.begin(), names.end());
    std::string close;
    const std::size_t near = std::max<std::size_t>(2, wanted.string().size() / 3);
    for (std::size_t i = 0; i < names.size() && i < 5 && names[i].first <= near; ++i)
        close += (close.empty() ? "" : ", ") + names[i].second;
    std::string out = "; the deepest part of it that exists is '" + parent.string() + "'";
    if (!close.empty()) return out + ", holding close names: " + close;
    if (names.empty()) return out + " (no folders in it)";
    std::string some;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) some += (some.empty() ? "" : ", ") + names[i].second;
    return out + ", holding " + std::to_string(names.size()) + " folder(s): " + some + (names.size() > 5 ? ", ..." : "");
}

RecordingPlan plan_recordings(const Experiment& exp, const PluginRegistry& registry,
                              const std::map<std::string, ModelInfo>& infos, std::vector<std::string>& problems) {
    // More layers than any model has, so that every layer an experiment names is planned, and
    // one head: the sites do not depend on either.
    ModelInfo nominal;
    nominal.architecture = "(not loaded)";
    nominal.n_layer = 1000;
    nominal.n_head = nominal.n_kv_head = 1;
    nominal.d_model = nominal.d_head = 64;
    RecordingPlan plan;
    std::set<std::string> checked;  // steps whose records were checked against contexts: mean
    for (const auto& m : exp.models) {
        PlannedModel& p = plan[m.id];
        const auto info = infos.find(m.id);
        p.exact = info != infos.end();
        for (const auto& step : exp.extract) {
            auto extractor = registry.create_extractor(step.plugin);
            try {
                extractor->configure(step.params, p.exact ? info->second : nominal);
            } catch (const SpecError& e) {
                if (p.exact) problems.push_back(where_in_file(exp, step.pointer, e) + " (model '" + m.id + "')");
                p.known = false;
                continue;
            }
            const auto records = extractor->records();
            // Refused once per step (at the first model it configures for), not per model:
            // whether rows can be averaged is the extractor's.
            if (averages_contexts(exp.stimuli) && checked.insert(step.pointer).second)
                for (const auto& r : records)
                    if (const std::string refusal = context_mean_refusal(r); !refusal.empty()) {
                        problems.push_back(where_in_file(exp, step.pointer, SpecError("", refusal)));
                        break;
                    }
            p.records.insert(p.records.end(), records.begin(), records.end());
            p.hooks[step.pointer] = extractor->hooks();
        }
    }
    return plan;
}

void check_spaces(const Experiment& exp, const PluginRegistry& registry, const RecordingPlan& plan,
                  std::vector<std::string>& problems) {
    const std::vector<Stimulus> rows = analysed_rows(exp.stimuli);
    std::vector<std::string> categories;
    for (const auto& [name, words] : exp.stimuli.categories) categories.push_back(name);
    for (const auto& step : exp.analyze) {
        auto metric = registry.create_metric(step.plugin);
        try {
            metric->configure(step.params);
            metric->check(rows, categories);
        } catch (const SpecError& e) {
            problems.push_back(where_in_file(exp, step.pointer, e));
            continue;
        } catch (const std::exception& e) {  // e.g. a file it reads that cannot be read
            problems.push_back(exp.document.where(step.pointer) + ": " + e.what());
            continue;
        }
        for (const auto& use : metric->spaces()) {
            const Space space = parse_space(use.space);
            const std::string at = exp.document.where(pointer_append_field(step.pointer, use.field));
            if (!space.model.empty() && !plan.count(space.model)) {
                std::string ids;
                for (const auto& [id, p] : plan) ids += (ids.empty() ? "" : ", ") + id;
                problems.push_back(at + ": no model '" + space.model + "' in this experiment (models: " + ids + ")");
                continue;
            }
            bool found = false, all_known = true;
            for (const auto& [id, p] : plan) {
                if (!space.model.empty() && id != space.model) continue;
                all_known = all_known && p.known;
                found = found || (p.known && records_space(p, space.what));
            }
            if (found || !all_known) continue;  // an extractor that could not be planned might record it
            problems.push_back(at + ": " +
                               (space.model.empty() ? "no extractor records '" + space.what + "'"
                                                    : "model '" + space.model + "' records no '" + space.what + "'") +
                               " (" + what_is_recorded(plan, space.model) + ")");
        }
    }
}

RecordingPlan plan_with_models(const Experiment& exp, const PluginRegistry& registry, std::vector<std::string>& problems) {
    std::map<std::string, ModelInfo> infos;
    std::map<std::string, std::set<std::string>> hook_points;
    for (const auto& m : exp.models) {
        if (m.path.empty()) continue;  // an unset ${VAR}: load_experiment's note says so
        // `run` would stop there, so it is an error here too (an unset ${VAR} alone is a note).
        if (!std::filesystem::is_directory(m.path)) {
            problems.push_back(exp.document.where(m.pointer + "/path") + ": model folder not found: " + m.path.string() +
                               " (model '" + m.id + "')" + nearest_folder(m.path));
            continue;
        }
        if (!std::filesystem::exists(m.path / "config.json")) {
            problems.push_back(exp.document.where(m.pointer + "/path") + ": '" + m.path.string() +
                               "' has no config.json (model '" + m.id + "'; expected a Hugging Face model folder)");
            continue;
        }
        if (m.backend.empty()) continue;  // config.json could not be read: load_experiment said why
        auto backend = registry.create_model(m.backend);
        try {
            backend->load(m.path, m.params);
        } catch (const SpecError& e) {
            problems.push_back(where_in_file(exp, m.pointer, e));
            continue;
        } catch (const std::exception& e) {
            problems.push_back(exp.document.where(m.pointer + "/path") + ": " + e.what());
            continue;
        }
        infos[m.id] = backend->info();
        const auto points = backend->hook_points();
        hook_points[m.id] = {points.begin(), points.end()};
    }
    RecordingPlan plan = plan_recordings(exp, registry, infos, problems);
    for (const auto& [id, points] : hook_points)
        for (const auto& step : exp.extract)
            for (const auto& hook : plan[id].hooks[step.pointer])
                if (!points.count(hook))
                    problems.push_back(exp.document.where(hook_pointer(step, hook)) + ": model '" + id + "' has no hook point '" +
                                       hook + "' (`laminar hooks --model DIR` lists its " + std::to_string(points.size()) + ")");
    return plan;
}

}  // namespace laminar
