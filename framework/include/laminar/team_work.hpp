// Sharing a metric's work among the members of a Team (laminar/team.hpp) so that the results
// are bit-identical to one process's:
//
//  * for_each_item(team, count, out, families, item): the metric's loop over its sites, layers
//    or pairs. The members form min(size, count) groups; group g takes the g-th contiguous block
//    of items, its leader records what the items write, and member 0 replays the groups'
//    writes, and the p-values they added to the correction families, in group order: item
//    order, as one process writes them. The members of a group run the same items together and
//    share their permutation blocks (below).
//  * gather_blocks(team, count, block): count independent values (permutations, bootstrap
//    samples, grid rows), each member computing a contiguous block; every member gets all of
//    them in order. The random draws are made from the seed before the split, so each value is
//    the one a single process computes.
//
// Code outside those shares runs on every member alike (it must be deterministic: the same
// inputs give the same result everywhere). An exception inside a share reaches every member:
// its own member rethrows it, the others throw "rank R failed". A member that fails outside
// them anyway (a file it cannot read) alarms the others through the host, whose collectives
// then stop waiting for it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/correction.hpp"
#include "laminar/metric.hpp"
#include "laminar/team.hpp"

namespace laminar::analysis {

/// Items [first, second) of `count` that part `part` of `parts` takes: contiguous, their sizes
/// differing by at most one (as the shards of a job array take stimuli rows).
inline std::pair<std::size_t, std::size_t> block_of(std::size_t count, std::size_t part, std::size_t parts) {
    return {count * part / parts, count * (part + 1) / parts};
}

/// Plain bytes in, plain bytes out: numbers in this machine's representation (every rank of a
/// job runs the same binary), so that doubles, NaN payloads included, travel bit for bit.
class Bytes {
public:
    Bytes() = default;
    explicit Bytes(std::string data) : data_(std::move(data)) {}
    template <class T>
    void put(T value) { data_.append(reinterpret_cast<const char*>(&value), sizeof value); }
    void put(const std::string& s) {
        put<std::uint64_t>(s.size());
        data_ += s;
    }
    template <class T>
    void put(const std::vector<T>& values) {
        put<std::uint64_t>(values.size());
        data_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
    }
    template <class T>
    T get() {
        T value;
        need(sizeof value);
        std::memcpy(&value, data_.data() + at_, sizeof value);
        at_ += sizeof value;
        return value;
    }
    std::string text() {
        const auto n = get<std::uint64_t>();
        need(n);
        std::string s = data_.substr(at_, n);
        at_ += n;
        return s;
    }
    template <class T>
    std::vector<T> values() {
        const auto n = get<std::uint64_t>();
        need(n * sizeof(T));
        std::vector<T> v(n);
        std::memcpy(v.data(), data_.data() + at_, n * sizeof(T));
        at_ += n * sizeof(T);
        return v;
    }
    bool done() const { return at_ == data_.size(); }
    const std::string& data() const { return data_; }

private:
    std::string data_;
    std::size_t at_ = 0;
    void need(std::size_t n) const {
        if (data_.size() - at_ < n) throw std::runtime_error("a rank's message ended early");
    }
};

/// A sink that keeps what is written, in order, to be replayed into another; with keep false,
/// one that drops it all (a group member that is not its leader).
class RecordingSink : public ResultSink {
public:
    explicit RecordingSink(bool keep = true) : keep_(keep) {}
    void write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<double>& data) override {
        if (!keep_) return;
        bytes_.put('W'); bytes_.put(path); bytes_.put(shape); bytes_.put(data);
    }
    void axes(const std::string& path, const std::vector<Axis>& axes) override {
        if (!keep_) return;
        std::vector<std::int32_t> codes;
        for (Axis a : axes) codes.push_back(static_cast<std::int32_t>(a));
        bytes_.put('X'); bytes_.put(path); bytes_.put(codes);
    }
    void axis_values(const std::string& path, std::size_t axis, const std::vector<int64_t>& values) override {
        if (!keep_) return;
        bytes_.put('V'); bytes_.put(path); bytes_.put<std::uint64_t>(axis); bytes_.put(values);
    }
    void attribute(const std::string& path, const std::string& name, double value) override {
        if (!keep_) return;
        bytes_.put('d'); bytes_.put(path); bytes_.put(name); bytes_.put(value);
    }
    void attribute(const std::string& path, const std::string& name, int64_t value) override {
        if (!keep_) return;
        bytes_.put('i'); bytes_.put(path); bytes_.put(name); bytes_.put(value);
    }
    void attribute(const std::string& path, const std::string& name, const std::string& value) override {
        if (!keep_) return;
        bytes_.put('s'); bytes_.put(path); bytes_.put(name); bytes_.put(value);
    }
    void warn(const std::string& message) override {
        if (!keep_) return;
        bytes_.put('w'); bytes_.put(message);
    }
    /// A p-value added to correction family `family` (by for_each_item, after the items).
    void p_value(std::size_t family, const std::string& path, double p) {
        if (!keep_) return;
        bytes_.put('F'); bytes_.put(path); bytes_.put<std::uint64_t>(family); bytes_.put(p);
    }
    const std::string& bytes() const { return bytes_.data(); }

private:
    bool keep_;
    Bytes bytes_;
};

/// Writes what a RecordingSink kept into `out`, and its p-values into `families`.
inline void replay(const std::string& recorded, ResultSink& out, const std::vector<CorrectedPValues<ResultSink>*>& families) {
    Bytes in(recorded);
    while (!in.done()) {
        const char op = in.get<char>();
        const std::string path = in.text();
        if (op == 'W') {
            auto shape = in.values<int64_t>();
            out.write(path, shape, in.values<double>());
        } else if (op == 'X') {
            std::vector<Axis> axes;
            for (auto code : in.values<std::int32_t>()) axes.push_back(static_cast<Axis>(code));
            out.axes(path, axes);
        } else if (op == 'V') {
            const auto axis = in.get<std::uint64_t>();
            out.axis_values(path, axis, in.values<int64_t>());
        } else if (op == 'd' || op == 'i' || op == 's') {
            const std::string name = in.text();
            if (op == 'd') out.attribute(path, name, in.get<double>());
            else if (op == 'i') out.attribute(path, name, in.get<int64_t>());
            else out.attribute(path, name, in.text());
        } else if (op == 'w') {
            out.warn(path);  // the message
        } else if (op == 'F') {
            const auto family = static_cast<std::size_t>(in.get<std::uint64_t>());
            families.at(family)->add(path, in.get<double>());
        } else {
            throw std::runtime_error("a rank's message has an unknown entry");
        }
    }
}

namespace detail {

/// What a member sends after its share: '+' and its bytes, or '-', its rank in the job and its
/// error message.
inline std::string succeeded(const std::string& bytes) { return '+' + bytes; }
inline std::string failed(const std::exception_ptr& error, int process) {
    Bytes b;
    b.put('-');
    b.put<std::int32_t>(process);
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        b.put(std::string(e.what()));
    } catch (...) {
        b.put(std::string("an unknown error"));
    }
    return b.data();
}

/// Throws on every member when any member's share failed: its own error where it happened,
/// elsewhere one naming the first rank that failed. `statuses`: every member's message.
inline void throw_if_any_failed(const std::vector<std::string>& statuses, const std::exception_ptr& mine) {
    if (mine) std::rethrow_exception(mine);
    for (const auto& status : statuses)
        if (status.empty() || status[0] != '+') {
            Bytes b(status);
            b.get<char>();
            const int process = b.get<std::int32_t>();
            throw std::runtime_error("rank " + std::to_string(process) + " failed (" + b.text() + "); this rank stops too");
        }
}

}  // namespace detail

/// `count` items computed in contiguous blocks, one per member: `block(first, last)` returns
/// the values of items [first, last), `width` per item (a grid's row has one per column), as
/// any container of doubles that can be built from a std::vector<double> (std::vector<double>,
/// arma::vec). Every member gets all of them, in order, in that container.
template <class Block>
auto gather_blocks(const Team& team, std::size_t count, Block block, std::size_t width = 1) {
    using Values = std::decay_t<decltype(block(std::size_t{0}, std::size_t{0}))>;
    if (team.size() == 1) return Values(block(std::size_t{0}, count));
    const auto [first, last] = block_of(count, static_cast<std::size_t>(team.rank()), static_cast<std::size_t>(team.size()));
    std::exception_ptr error;
    std::string mine;
    try {
        const Values values = block(first, last);
        const std::vector<double> plain(values.begin(), values.end());
        if (plain.size() != (last - first) * width) throw std::logic_error("gather_blocks: a block returned the wrong number of values");
        Bytes b;
        b.put(plain);
        mine = detail::succeeded(b.data());
    } catch (...) {
        error = std::current_exception();
        mine = detail::failed(error, team.process());
    }
    const auto all = team.all_gather(mine);
    detail::throw_if_any_failed(all, error);
    std::vector<double> values;
    values.reserve(count * width);
    for (const auto& part : all) {
        const auto v = Bytes(part.substr(1)).values<double>();
        values.insert(values.end(), v.begin(), v.end());
    }
    return Values(values);
}

/// The metric's loop over `count` items: `item(i, out, team)` writes item i's results into
/// `out` and may share its own work with `team` (the members of its group). Writes and the
/// p-values added to `families` reach member 0's `out` and families in item order.
template <class Item>
void for_each_item(const Team& team, std::size_t count, ResultSink& out,
                   const std::vector<CorrectedPValues<ResultSink>*>& families, Item item) {
    if (team.size() == 1) {
        for (std::size_t i = 0; i < count; ++i) {
            out.progress(i, count);
            item(i, out, team);
        }
        return;
    }
    const int groups = static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(team.size(), count)));
    const std::unique_ptr<Team> group = team.split(groups);
    const int g = team.rank() % groups;
    const auto [first, last] = block_of(count, static_cast<std::size_t>(g), static_cast<std::size_t>(groups));
    // Member 0 writes its items straight into `out` (they come first); other group leaders
    // record theirs; the rest of each group computes alongside, writing nothing.
    const bool leader = group->rank() == 0;
    RecordingSink recorded(leader);
    ResultSink& sink = team.rank() == 0 ? out : recorded;
    std::vector<std::size_t> before;
    for (auto* f : families) before.push_back(f->size());
    std::exception_ptr error;
    try {
        for (std::size_t i = first; i < last; ++i) {
            out.progress(i, count);
            item(i, sink, *group);
        }
    } catch (...) {
        error = std::current_exception();
    }
    detail::throw_if_any_failed(team.all_gather(error ? detail::failed(error, team.process()) : detail::succeeded("")), error);
    if (leader && team.rank() != 0)
        for (std::size_t f = 0; f < families.size(); ++f)
            for (std::size_t k = before[f]; k < families[f]->size(); ++k)
                recorded.p_value(f, families[f]->path(k), families[f]->p(k));
    const auto parts = team.gather(leader ? recorded.bytes() : std::string());
    for (std::size_t m = 1; m < parts.size() && m < static_cast<std::size_t>(groups); ++m) replay(parts[m], out, families);
}

}  // namespace laminar::analysis
