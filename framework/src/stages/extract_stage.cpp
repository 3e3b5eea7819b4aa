// Stage "extract": load each model, run the stimuli through it, store what the extractors
// record. The only stage that touches models (and libtorch, through the plugins). With --shard
// K/N, one block of the stimuli into a shard file (shards.hpp).
#include <algorithm>
#include <map>
#include <new>
#include <set>

#include "runtime/content_hash.hpp"
#include "runtime/errors.hpp"
#include "spec/recording_plan.hpp"
#include "store/run_file.hpp"
#include "store/run_layout.hpp"
#include "store/shards.hpp"
#include "stages/stages.hpp"
#include "spec/stimuli.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

/// An allocation that failed: std::bad_alloc, or libtorch's allocator ("can't allocate memory"),
/// which throws its own c10::Error (the host does not link libtorch, so it is known by its text).
bool out_of_memory(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e)) return true;
    const std::string what = e.what();
    return what.find("can't allocate memory") != std::string::npos || what.find("not enough memory") != std::string::npos ||
           what.rfind("out of memory", 0) == 0;
}

std::runtime_error memory_error(const std::string& doing, const std::exception& e) {
    return std::runtime_error("extract: out of memory while " + doing + " (" + e.what() + ")");
}

/// Runs `step`, an allocation failure inside it turned into "extract: out of memory while DOING".
template <class Step>
void naming_memory(const std::string& doing, Step step) {
    try {
        step();
    } catch (const std::exception& e) {
        if (!out_of_memory(e)) throw;
        throw memory_error(doing, e);
    }
}

/// What the extraction depends on, apart from the models themselves: models (not their path:
/// a moved folder is the same model), stimuli, extractors and the extractors' versions. The
/// model plugins' versions belong with the model files' identity (run_extract): `--stage
/// analyze` compares this hash and must not load a model plugin (and so libtorch) to do so.
nlohmann::json extract_spec(const Experiment& exp, const PluginRegistry& registry) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : exp.models) {
        // A backend chosen from config.json belongs with the folder's identity (run_extract), so
        // that a run whose model folder is gone can still find its extraction up to date.
        models.push_back({{"id", m.id}, {"backend", m.backend_chosen ? "(config.json)" : m.backend}, {"params", m.params}});
    }
    nlohmann::json prompts = nlohmann::json::array();
    for (const auto& p : exp.stimuli.prompts) prompts.push_back({p.word, p.category, p.text});
    nlohmann::json categories = nlohmann::json::array();
    for (const auto& [name, words] : exp.stimuli.categories) categories.push_back(name);
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& e : exp.extract)
        steps.push_back({{"section", e.section},
                         {"plugin_version", registry.require(PluginKind::extractor, e.plugin).version}});
    return {{"models", models},
            {"stimuli", {{"prompts", prompts}, {"position", exp.stimuli.position},
                         {"contexts", exp.stimuli.contexts}, {"categories", categories}}},
            {"extract", steps}};
}

/// With `contexts: mean`: sums each word's rows over its contexts (in double) and writes the
/// mean once the word's last context has run. Memory holds the words whose contexts are still
/// running: the backend runs prompts by length, so at worst every word for one set.
class ContextMean {
public:
    ContextMean(const std::vector<std::size_t>& prompt_row, std::size_t rows) : row_of_(prompt_row), count_(rows, 0) {
        for (std::size_t r : prompt_row) ++count_[r];
    }

    void add(const ActivationSet& set, const std::vector<std::size_t>& prompts, ActivationWriter& writer) {
        auto& open = open_[set.hook];
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            const std::size_t row = row_of_.at(prompts[i]);
            auto& [sum, seen] = open[row];
            sum.resize(static_cast<std::size_t>(set.cols), 0.0);
            for (int64_t j = 0; j < set.cols; ++j) sum[j] += set.data[i * set.cols + j];
            if (++seen < count_[row]) continue;
            ActivationSet mean{set.hook, set.layer, set.site, 1, set.cols, std::vector<float>(sum.size()), {}};
            for (std::size_t j = 0; j < sum.size(); ++j) mean.data[j] = static_cast<float>(sum[j] / seen);
            writer.write(mean, {row});
            open.erase(row);
        }
    }

private:
    const std::vector<std::size_t>& row_of_;
    std::vector<std::size_t> count_;  ///< prompts per row
    std::map<std::string, std::map<std::size_t, std::pair<std::vector<double>, std::size_t>>> open_;
};

/// Extracts model `m` into `file`: every analysed row, or with a shard only its block of rows
/// (the stimuli and vocabulary are written whole either way).
void extract_model(const Experiment& exp, const PluginRegistry& registry, const ModelSpec& m, const std::string& fingerprint,
                   const FolderIdentity& files, hid_t file, bool first, const Shard& shard, Verbosity verbosity, std::ostream& log) {
    const auto started = std::chrono::steady_clock::now();
    auto backend = registry.create_model(m.backend);
    try {
        backend->load(m.path, m.params);
    } catch (const SpecError& e) {
        rethrow_in_file(exp, m.pointer, e);
    } catch (const std::exception& e) {  // a broken model folder: say which model of the file
        if (out_of_memory(e)) throw memory_error("loading model '" + m.id + "'", e);
        throw std::runtime_error("model '" + m.id + "' (" + exp.document.where(m.pointer + "/path") + "): " + e.what());
    }
    const ModelInfo info = backend->info();

    std::vector<std::string> warnings;
    std::vector<Stimulus> stimuli = build_stimuli(exp.stimuli, *backend, warnings);
    for (const auto& w : warnings) log << "warning: " << m.id << ": " << w << "\n";

    // The extractors by the input their forward pass runs on: one pass for each input asked.
    std::map<Extractor::Input, std::vector<PluginHandle<Extractor>>> extractors;
    std::vector<const Extractor*> configured;  // in the experiment's order
    for (const auto& step : exp.extract) {
        auto ex = registry.create_extractor(step.plugin);
        try {
            ex->configure(step.params, info);
            ex->attach(*backend);
            if (ex->input() == Extractor::Input::word_masked && backend->mask_token() < 0)
                throw SpecError("", "model '" + m.id + "' has no mask token (its tokenizer files name none that it keeps whole): "
                                    "the masked variant is for masked language models such as BERT");
        } catch (const SpecError& e) {
            rethrow_in_file(exp, step.pointer, e);
        }
        configured.push_back(ex.get());
        extractors[ex->input()].push_back(std::move(ex));
    }

    // The analysed rows: each prompt, or with contexts averaged each word (its prompts are adjacent).
    const bool average = averages_contexts(exp.stimuli);
    std::vector<Stimulus> rows;
    std::vector<std::size_t> prompt_row;
    for (const auto& s : stimuli) {
        if (!average || rows.empty() || rows.back().word != s.word) {
            rows.push_back(average ? Stimulus{"", s.word, s.category, {}, 0, 0, 0, -1} : s);
        }
        prompt_row.push_back(rows.size() - 1);
    }
    if (average)  // (validate refuses these too; here with the model's own records)
        for (std::size_t i = 0; i < exp.extract.size(); ++i)
            for (const auto& r : configured[i]->records())
                if (const std::string refusal = context_mean_refusal(r); !refusal.empty())
                    rethrow_in_file(exp, exp.extract[i].pointer, SpecError("", refusal));
    if (first) {  // the shared stimuli, with the first model's tokens
        std::vector<std::string> names;
        for (const auto& [name, words] : exp.stimuli.categories) names.push_back(name);
        write_stimuli(file, stimuli, rows, prompt_row, names, exp.stimuli.contexts);
    }

    // Each batch's rows go to the run file before the next batch runs.
    const auto block = shard_rows(rows.size(), shard);  // (not a structured binding: lambdas below capture it)
    const std::size_t first_row = block.first, end_row = block.second;
    std::vector<int64_t> lengths;  // a per-token set's rows for each analysed row
    for (std::size_t r = first_row; r < end_row; ++r) lengths.push_back(static_cast<int64_t>(rows[r].token_ids.size()));
    ActivationWriter writer(file, m.id, fingerprint, std::move(lengths), first_row);
    ContextMean mean(prompt_row, rows.size());
    for (const auto& entry : extractors) {  // (not a structured binding: the lambda below captures it)
        const Extractor::Input input = entry.first;
        const auto& group = entry.second;
        std::set<std::string> hooks;
        for (const auto& ex : group)
            for (const auto& h : ex->hooks()) hooks.insert(h);
        std::vector<std::vector<int32_t>> prompts;
        std::vector<int32_t> shared;  // the template's tokens before the word, the same in every prompt
        std::vector<std::size_t> index;  // each prompt run: its number among all prompts
        for (std::size_t p = 0; p < stimuli.size(); ++p) {
            if (prompt_row[p] < first_row || prompt_row[p] >= end_row) continue;  // another shard's
            const Stimulus& s = stimuli[p];
            index.push_back(p);
            prompts.push_back(s.token_ids);
            if (input == Extractor::Input::word_masked)
                std::fill(prompts.back().begin() + s.word_begin, prompts.back().begin() + s.word_end, backend->mask_token());
            shared.push_back(s.word_begin);
        }
        Progress progress("extract: " + m.id + (input == Extractor::Input::word_masked ? " (word masked)" : ""), "prompts",
                          prompts.size(), verbosity);
        std::size_t done = 0;
        naming_memory("running model '" + m.id + "' over " + std::to_string(prompts.size()) + " prompts", [&] {
        backend->forward(prompts, shared, {hooks.begin(), hooks.end()}, [&](const std::vector<std::size_t>& batch_prompts, const Captures& captured) {
            progress.update(done += batch_prompts.size());
            std::vector<std::size_t> ran;
            std::vector<Stimulus> batch;
            for (std::size_t b : batch_prompts) {
                ran.push_back(index[b]);
                batch.push_back(stimuli[index[b]]);
            }
            for (const auto& ex : group)
                for (const auto& set : ex->extract(captured, batch)) {
                    if (!average) writer.write(set, ran);
                    else mean.add(set, ran, writer);
                }
        });
        });
    }
    const std::size_t count = writer.finish();
    for (const Extractor* ex : configured)  // what metrics leave out unless named (ActivationSource::not_a_space)
        for (const auto& r : ex->records())
            if (!r.no_context_mean.empty() && h5::exists(file, RunFile::activation(m.id, r.name)))
                h5::set_attr(file, RunFile::activation(m.id, r.name), "not_a_space", r.no_context_mean);
    bool per_token = false;
    for (const Extractor* ex : configured)
        for (const auto& r : ex->records()) per_token |= r.per_token;
    if (per_token) {  // where each row's tokens begin in a set per token (all rows, also in a shard)
        std::vector<int32_t> lengths;
        for (const auto& r : rows) lengths.push_back(static_cast<int32_t>(r.token_ids.size()));
        h5::write(file, RunFile::stimuli_of(m.id, "prompt_lengths"), lengths);
    }
    h5::require_group(file, RunFile::activations_of(m.id));
    h5::set_attr(file, RunFile::activations_of(m.id), "backend", m.backend);
    h5::set_attr(file, RunFile::activations_of(m.id), "model_fingerprint", fingerprint);
    h5::set_attr(file, RunFile::activations_of(m.id), "path", m.path.string());
    if (!m.hub_repo.empty()) {  // named by its Hub name: which snapshot of the cache it was
        h5::set_attr(file, RunFile::activations_of(m.id), "hub_repo", m.hub_repo);
        h5::set_attr(file, RunFile::activations_of(m.id), "hub_revision", m.hub_revision);
        h5::set_attr(file, RunFile::activations_of(m.id), "hub_commit", m.hub_commit);
    }
    // What the activations were extracted from, for `--stage analyze` to compare with the model
    // folder, and what each file's hash was computed from, so that the next run hashes only the
    // files that changed (content_hash.hpp).
    h5::set_attr(file, RunFile::activations_of(m.id), "model_files", files.files.dump());
    h5::set_attr(file, RunFile::activations_of(m.id), "model_file_stats", files.stats.dump());
    // What the model is, for tables and figures that need no model folder (relative depth).
    h5::set_attr(file, RunFile::activations_of(m.id), "architecture", info.architecture);
    h5::set_attr(file, RunFile::activations_of(m.id), "n_layer", static_cast<int64_t>(info.n_layer));
    h5::set_attr(file, RunFile::activations_of(m.id), "n_head", static_cast<int64_t>(info.n_head));
    h5::set_attr(file, RunFile::activations_of(m.id), "d_model", static_cast<int64_t>(info.d_model));
    // The tokens' texts, so that token ids in results (the logit lens's top tokens) read as
    // text without the model folder: each token's bytes (part of a character, or a NUL, for
    // some), one after another, and where each begins: a few hundred kilobytes.
    if (info.vocab_size > 0) {
        std::vector<uint8_t> bytes;
        std::vector<int32_t> offsets{0};
        for (int32_t id = 0; id < info.vocab_size; ++id) {
            std::string text;
            try {
                text = backend->token_text(id);
            } catch (const std::exception&) {  // a padding row of the embedding (Pythia's 50,304): no token
            }
            bytes.insert(bytes.end(), text.begin(), text.end());
            offsets.push_back(static_cast<int32_t>(bytes.size()));
        }
        h5::write(file, RunFile::stimuli_of(m.id, "vocabulary_bytes"), bytes);
        h5::write(file, RunFile::stimuli_of(m.id, "vocabulary_offsets"), offsets);
    }

    if (!first) {
        // Another tokenizer may split the same prompts differently: keep its own token ids.
        const auto reference = read_prompts(file);
        bool same = reference.size() == stimuli.size();
        for (std::size_t i = 0; same && i < stimuli.size(); ++i)
            same = reference[i].token_ids == stimuli[i].token_ids && reference[i].position == stimuli[i].position;
        if (!same) {
            std::vector<std::vector<int32_t>> ids;
            std::vector<int32_t> position;
            for (const auto& s : stimuli) { ids.push_back(s.token_ids); position.push_back(s.position); }
            h5::write(file, RunFile::stimuli_of(m.id, "token_ids"), ids);
            h5::write(file, RunFile::stimuli_of(m.id, "position"), position);
        }
    }
    const auto ran = std::count_if(prompt_row.begin(), prompt_row.end(), [&](std::size_t r) { return r >= first_row && r < end_row; });
    log << "extract: " << m.id << ": " << ran << " prompts"
        << (shard.active() ? " (shard " + shard.text() + ": rows " + std::to_string(first_row) + " to " + std::to_string(end_row) + " of " +
                                 std::to_string(rows.size()) + ")"
                           : std::string())
        << (average ? ", " + std::to_string(end_row - first_row) + " words (the mean of their contexts)" : std::string()) << ", " << count
        << " activation set(s) (" << duration_text(elapsed(started)) << ")\n";
}

}  // namespace

std::string extraction_spec_hash(const Experiment& exp, const PluginRegistry& registry) {
    return hash_json(extract_spec(exp, registry));
}

bool run_extract(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log) {
    const nlohmann::json spec = extract_spec(exp, registry);
    const std::string spec_hash = hash_json(spec);

    std::optional<std::string> previous, previous_spec;
    std::map<std::string, nlohmann::json> known;  // each model's file hashes, by what they were computed from
    if (fs::exists(options.output) && h5::is_hdf5(options.output)) {
        h5::Handle f = open_run_file(options.output);
        previous = stage_hash(f, "extract");
        if (previous) previous_spec = h5::get_string_attr(f, RunFile::stage("extract"), "spec_hash");
        for (const auto& m : exp.models)
            known[m.id] = recorded_model_files(f, m.id, "model_file_stats").value_or(nlohmann::json::object());
    }

    nlohmann::json identities = nlohmann::json::object();
    std::map<std::string, FolderIdentity> folders;
    for (const auto& m : exp.models) {
        if (m.path.empty() || !fs::is_directory(m.path)) {
            if (!options.force && previous_spec == spec_hash) {
                log << "extract: skipped, model folder of '" << m.id << "' not found ("
                    << (m.unavailable.empty() ? m.path.string() : m.unavailable) << "); using the activations already in "
                    << options.output.string() << "\n";
                return true;
            }
            if (!m.unavailable.empty()) throw InputError(exp.document.where(m.unavailable_at) + ": " + m.unavailable);
            throw InputError(exp.document.where(m.pointer + "/path") + ": model folder not found: " +
                             (m.path.empty() ? m.path_text : m.path.string() + nearest_folder(m.path)));
        }
        if (m.backend.empty()) registry.model_backend_for(m.path);  // throws, naming config.json
        folders[m.id] = folder_identity(m.path, known[m.id]);
        identities[m.id] = {{"files", folders[m.id].files},
                            {"plugin_version", registry.require(PluginKind::model, m.backend).version}};
        if (m.backend_chosen) identities[m.id]["backend"] = m.backend;
    }
    const std::string inputs_hash = hash_json({{"spec", spec}, {"models", identities}});
    if (!options.force && previous == inputs_hash) {
        log << "extract: up to date (inputs unchanged; --force re-runs it)\n";
        return true;
    }

    // A job array's shards of this extraction, all there: assembled instead of extracting again.
    if (!options.shard.active() && merge_found_shards(options.output, "extract", inputs_hash, options.command, log, {options.force})) return true;

    // New activations invalidate everything downstream; a shard writes its own file.
    const fs::path written = options.shard.active() ? shard_path(options.output, options.shard) : options.output;
    RunTransaction tx(written, {RunFile::stimuli, RunFile::activations, RunFile::results, RunFile::stages, RunFile::shard});
    for (std::size_t i = 0; i < exp.models.size(); ++i) {
        const auto& m = exp.models[i];
        extract_model(exp, registry, m, hash_json(identities[m.id]), folders[m.id], tx.file(), i == 0, options.shard,
                      options.verbosity, log);
    }
    stamp_root(tx.file(), exp.name, exp.document.text());
    record_stage(tx.file(), "extract", inputs_hash, options.command);
    h5::set_attr(tx.file(), RunFile::stage("extract"), "spec_hash", spec_hash);
    if (options.shard.active()) mark_shard(tx.file(), options.shard, "extract", inputs_hash);
    tx.commit();
    if (!options.shard.active()) return true;
    log << "extract: shard " << options.shard.text() << " written to " << written.string() << "; once all " << options.shard.count
        << " are there, `laminar merge` or `laminar run` assembles them\n";
    return false;
}

}  // namespace laminar
