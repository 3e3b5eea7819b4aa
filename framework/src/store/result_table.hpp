// An analysis's results as a tidy table: one row per result group the host described (a model
// and hook, or a pair: see RunFileSink::describe_spaces), every scalar attribute a column,
// attributes of the groups below it too ("categories/fruit/r"). `laminar inspect --table` prints
// it; tools/python/laminar reads the same table independently (the tests compare the two).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "store/h5.hpp"

namespace laminar {

struct ResultTable {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<h5::Scalar>>> rows;  ///< one cell per column; empty: not given
};

/// Throws InputError naming the analyses the run file has when `analysis` is not one of them.
ResultTable result_table(hid_t file, const std::string& analysis);

/// Keeps the rows where every "column=value" holds (numbers compared as numbers); returns a note
/// for each condition that left no row (how many rows had the column empty, and where a pair's
/// sides have it as column_a/column_b). An InputError for a column the table lacks.
std::vector<std::string> filter_rows(ResultTable& table, const std::vector<std::string>& conditions);

/// Keeps the columns `wanted` names ("a,b,c"; shell patterns such as categories/*/r), in that order.
void select_columns(ResultTable& table, const std::string& wanted);

/// `format`: text (aligned columns), csv, tsv or json (an array of records).
void print_table(const ResultTable& table, const std::string& format, std::ostream& out);

}  // namespace laminar
