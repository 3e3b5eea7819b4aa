// The processes that run one analysis together: the ranks of `mpirun -n N laminar run`, or
// this process alone. Every member runs the metric's run() on the same inputs; a metric shares
// out its independent work (sites, layers, permutation blocks) with the helpers of
// laminar/team_work.hpp, which gather the pieces in the order one process computes
// them, so that the results are bit-identical whatever the number of members. Member 0's sink
// writes the run file; the others' sinks write nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/config.hpp>

namespace laminar {

class BOOST_SYMBOL_VISIBLE Team {
public:
    virtual ~Team() = default;
    virtual int size() const = 0;
    /// This process's place in the team, 0..size()-1.
    virtual int rank() const = 0;
    /// This process's rank in the whole job (what error messages name).
    virtual int process() const = 0;
    /// Every member's bytes, in member order, on every member. Collective: every member calls it.
    virtual std::vector<std::string> all_gather(const std::string& mine) const = 0;
    /// On member 0, every member's bytes in member order; on the others, nothing. Collective.
    virtual std::vector<std::string> gather(const std::string& mine) const = 0;
    /// Splits the team into `groups` teams: member m joins team m % groups as its member
    /// m / groups (so member g < groups leads team g). Collective.
    virtual std::unique_ptr<Team> split(int groups) const = 0;
};

/// The team of one: what a metric runs with outside mpirun (and in tests).
class Alone final : public Team {
public:
    int size() const override { return 1; }
    int rank() const override { return 0; }
    int process() const override { return 0; }
    std::vector<std::string> all_gather(const std::string& mine) const override { return {mine}; }
    std::vector<std::string> gather(const std::string& mine) const override { return {mine}; }
    std::unique_ptr<Team> split(int) const override { return std::make_unique<Alone>(); }
};

}  // namespace laminar
